"""Vectorised recomputation: :func:`tearline.policy.decide.decide` over every stored version at once.

The result per row is a verdict (``uint8``, :class:`~tearline.model.releases.Verdict` values) and a
reason mask (``uint32``, bit ``i`` = rule ``RULES[i]`` of :mod:`tearline.policy.decide`);
:func:`reason_codes` turns one row's mask back into the exact parametrised codes of ``decide``.
A property test holds the two equal row by row.

How it is computed, and why (measurements: REPRESENTATION below, ``bench/policy.py``):

* The rules are evaluated into two ``uint8`` planes: ``lo`` holds the rule bits 0-7 (own object and
  the withholding rules), ``hi`` the bits 8-15 (hold, tearline, approved, error). Byte planes keep
  every pass over a million rows at 1 MB, in cache; the ``uint32`` mask is assembled once at the end.
* What does not depend on the partner is derived once per snapshot and kept in ``cols.cache``:
  the NOFORN, TLP RED and ORCON bits, the source bit (object or any portion), the row indices of the
  rare rows that carry REL TO or a third-party originator (with their sets gathered), and the
  clearance + TLP ceiling + topic plane per distinct (clearance, ceiling, excluded topics), so a
  recompute after a profile change costs one partner's pass. (Two threads filling the cache at once
  only compute the same arrays twice.)
* REL TO, further sharing and the originator rule are evaluated only on those rare rows (gathered
  from the bitsets), and their result scattered back; embargo and approvals are scattered too.

REPRESENTATION, measured with ``python bench/policy.py --representations`` (1,000,000 rows, 4 % with
REL TO, 11 partner codes, 2 shared cores): "is partner X in each row's REL TO" as a dense mask takes
- dense ``bool [n, vocab]`` columns: 0.000 ms (a column view), 11 MB for 11 codes (n x vocab bytes);
- packed ``uint64 [n, words]`` bitsets, column-major: 0.42 ms over all rows, 0.09 ms gathered on the
  REL TO rows only; 8 MB for up to 64 codes;
- pyroaring, one bitmap of rows per code, scattered into a mask: 0.03 ms, 0.2 MB.
All three are under 3 % of the ~3 ms one partner costs (whole matrix, warm: 32 ms for 10 partners,
cold: 205 ms, the partner-independent planes being derived once per snapshot). Packed bitsets are
used: one layout for every set column, an append writes one fixed-size row (roaring would update
one mutable bitmap per code and need a frozen copy per snapshot; dense columns grow with the
vocabulary), and a snapshot is a read-only view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from tearline.canonical import format_timestamp, from_micros
from tearline.model.markings import Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Reason, Verdict
from tearline.policy.columns import WORD, LabelArrays, LabelColumns, Vocab
from tearline.policy.decide import ALL, RULES, profile_unhandled

__all__ = ["BIT", "compute", "compute_matrix", "reason_codes"]

U8 = npt.NDArray[np.uint8]
Rows = npt.NDArray[np.intp]

#: The mask bit of each rule kind.
BIT: dict[str, int] = {code: 1 << i for i, (code, _) in enumerate(RULES)}
_OWN, _SUSP, _CLEAR, _TLPC, _NOFORN, _REL, _TOPIC, _OC = (BIT[c] for c, _ in RULES[:8])
_RED, _ORCON, _EMB, _SAN, _SRC, _PW, _APPROVED, _ERR = (BIT[c] >> 8 for c, _ in RULES[8:])
_HOLD_HI = _RED | _ORCON | _EMB
_TEAR_HI = _SAN | _SRC | _PW
assert len(RULES) == 16 and all(v == Verdict.RELEASE_TEARLINE for _, v in RULES[11:14])


def _member(bitsets: npt.NDArray[np.uint64], vocab: Vocab, code: str | None) -> npt.NDArray[np.bool_]:
    """Whether ``code`` is in each row's set."""
    i = None if code is None else vocab.get(code)
    if i is None or i >= bitsets.shape[1] * WORD:
        return np.zeros(bitsets.shape[0], dtype=np.bool_)
    hit: npt.NDArray[np.bool_] = (bitsets[:, i // WORD] & np.uint64(1 << (i % WORD))) != 0
    return hit


@dataclass
class _Third:
    """The rows with a third-party originator, and what the originator rule reads of them."""

    rows: Rows
    originator: npt.NDArray[np.int16]
    rel_to: npt.NDArray[np.uint64]
    further_sharing: npt.NDArray[np.uint64]
    by_fs: npt.NDArray[np.bool_]  # further sharing given (and passing on not forbidden outright)
    by_rel: npt.NDArray[np.bool_]  # no further sharing, REL TO given
    by_default: npt.NDArray[np.bool_]  # neither, and TLP CLEAR or GREEN
    fs_all: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, t: LabelArrays, vocab: Vocab) -> _Third:
        rows = np.flatnonzero(t.originator >= 0)
        tlp, has_fs, has_rel = t.tlp[rows], t.has_fs[rows], t.has_rel_to[rows]
        ok = ~t.noforn[rows] & (tlp < Tlp.AMBER_STRICT)
        fs = np.ascontiguousarray(t.further_sharing[rows])
        return cls(
            rows, t.originator[rows], np.ascontiguousarray(t.rel_to[rows]), fs,
            ok & has_fs, ok & ~has_fs & has_rel, ok & ~has_fs & ~has_rel & (tlp <= Tlp.GREEN),
            _member(fs, vocab, ALL),
        )


@dataclass
class _Static:
    """Partner-independent planes of one label table (objects or portions), derived once per snapshot."""

    t: LabelArrays
    vocab: Vocab
    topic_vocab: Vocab
    noforn: U8
    hold: U8
    rel_rows: Rows
    rel_sets: npt.NDArray[np.uint64]
    third: _Third
    planes: dict[Any, U8]

    @classmethod
    def of(cls, t: LabelArrays, vocab: Vocab, topic_vocab: Vocab) -> _Static:
        noforn = t.noforn.view(np.uint8) * np.uint8(_NOFORN)
        hold = (t.tlp == Tlp.RED).view(np.uint8) | (t.orcon.view(np.uint8) << 1)
        rel_rows = np.flatnonzero(t.has_rel_to)
        return cls(
            t, vocab, topic_vocab, noforn, hold, rel_rows, np.ascontiguousarray(t.rel_to[rel_rows]),
            _Third.of(t, vocab), {},
        )

    def base(self, clearance: int, ceiling: int, excluded: frozenset[str]) -> U8:
        """The clearance, TLP ceiling, NOFORN and topic bits, cached per (clearance, ceiling, topics)."""
        t = self.t
        mask = self.topic_vocab.mask(excluded, t.topics.shape[1])
        key = (clearance, ceiling, mask.tobytes())
        plane = self.planes.get(key)
        if plane is None:
            plane = (t.classification > clearance).view(np.uint8) * np.uint8(_CLEAR)
            plane |= (t.tlp > ceiling).view(np.uint8) * np.uint8(_TLPC)
            plane |= self.noforn
            for w in np.flatnonzero(mask):
                hit = (t.topics[:, w] & mask[w]) != 0
                plane |= hit.view(np.uint8) * np.uint8(_TOPIC)
            if len(self.planes) > 64:
                self.planes.clear()
            self.planes[key] = plane
        return plane


def _static(cols: LabelColumns) -> tuple[_Static, _Static, U8]:
    got: tuple[_Static, _Static, U8] | None = cols.cache.get("static")
    if got is None:
        objs = _Static.of(cols, cols.partner_vocab, cols.topic_vocab)
        por = _Static.of(cols.portions, cols.partner_vocab, cols.topic_vocab)
        src = cols.cites_source.copy()
        src[cols.portions.parent[cols.portions.cites_source]] = True
        got = (objs, por, src.view(np.uint8) * np.uint8(_SRC))
        cols.cache["static"] = got
    return got


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(v)))


def _label_lo(st: _Static, profile: TrustProfile) -> tuple[U8, Rows]:
    """The withholding rule bits of each row's label (not SUSPENDED) and the partner's own rows."""
    partner = profile.partner
    clearance, ceiling = _clamp(profile.clearance, -1, 127), _clamp(profile.tlp_ceiling, -1, 127)
    lo = st.base(clearance, ceiling, profile.excluded_topics).copy()
    lo[st.rel_rows[~_member(st.rel_sets, st.vocab, partner)]] |= np.uint8(_REL)
    th = st.third
    pid = st.vocab.get(partner)
    own = th.originator == (-2 if pid is None else pid)
    allowed = (th.by_fs & (_member(th.further_sharing, st.vocab, partner) | th.fs_all)) | th.by_default
    allowed |= th.by_rel & _member(th.rel_to, st.vocab, partner)
    lo[th.rows[~own & ~allowed]] |= np.uint8(_OC)
    return lo, th.rows[own]


def _verdict(lo: U8, hi: U8, out: U8) -> U8:
    np.multiply((lo > 1).view(np.uint8), np.uint8(3), out=out)
    np.maximum(out, ((hi & _HOLD_HI) != 0).view(np.uint8) << 1, out=out)
    np.maximum(out, ((hi & _TEAR_HI) != 0).view(np.uint8), out=out)
    return out


def _embargoed(cols: LabelColumns, after_us: int) -> slice | Rows:
    """The rows added after ``after_us``: a slice when ``added_us`` is sorted (the usual case)."""
    ordered = cols.cache.get("added_sorted")
    if ordered is None:
        a = cols.added_us
        ordered = bool(np.all(a[1:] >= a[:-1]))
        cols.cache["added_sorted"] = ordered
    if ordered:
        return slice(int(np.searchsorted(cols.added_us, after_us, side="right")), None)
    return np.flatnonzero(cols.added_us > after_us)


def _compute(
    cols: LabelColumns,
    profile: TrustProfile,
    at_us: int,
    approved: npt.NDArray[np.bool_] | None,
    v: U8,
    bits: npt.NDArray[np.uint32],
) -> None:
    objs, por, src = _static(cols)
    if approved is not None and approved.shape != (len(cols),):
        raise ValueError("approved must have one entry per row")
    lo, own_rows = _label_lo(objs, profile)
    if profile.suspended:
        lo |= np.uint8(_SUSP)
    hi = objs.hold | src
    arows = np.flatnonzero(approved) if approved is not None else np.zeros(0, dtype=np.intp)
    hi[arows] &= np.uint8(~(_RED | _ORCON) & 0xFF)
    emb_us = profile.embargo // timedelta(microseconds=1)
    if emb_us > 0:
        hi[_embargoed(cols, at_us - emb_us)] |= np.uint8(_EMB)
    if profile.sanitised_only:
        hi |= np.uint8(_SAN)
    p = cols.portions
    if len(p):
        plo, pown = _label_lo(por, profile)
        phold = por.hold.copy()
        if approved is not None:
            phold[approved[p.parent]] = 0
        bad = (plo != 0) | (phold != 0)
        bad[pown] = False
        hi[p.parent[bad]] |= np.uint8(_PW)
    lo[own_rows] = _OWN
    hi[own_rows] = 0
    _verdict(lo, hi, v)
    if arows.shape[0]:
        got = arows[(objs.hold[arows] != 0) & (v[arows] <= Verdict.RELEASE_TEARLINE) & (lo[arows] != _OWN)]
        hi[got] |= np.uint8(_APPROVED)
    np.left_shift(hi, 8, out=bits, dtype=np.uint32)
    bits |= lo


def _into(
    cols: LabelColumns,
    profile: TrustProfile,
    at_us: int,
    approved: npt.NDArray[np.bool_] | None,
    v: U8,
    bits: npt.NDArray[np.uint32],
) -> None:
    try:
        if profile_unhandled(profile):
            raise ValueError("a profile value no rule is written for")
        _compute(cols, profile, at_us, approved, v, bits)
    except Exception:  # total by contract: a broken rule must deny, never release or raise
        v[:] = Verdict.WITHHOLD
        bits[:] = BIT[Reason.POLICY_ERROR]


def compute(
    cols: LabelColumns,
    profile: TrustProfile,
    at_us: int,
    approved: npt.NDArray[np.bool_] | None = None,
) -> tuple[U8, npt.NDArray[np.uint32]]:
    """Verdicts and reason masks of every row for one partner at ``at_us``.

    ``approved[i]`` says an approval is recorded for row ``i`` and this partner. Total like
    ``decide``: any error gives every row WITHHOLD with the POLICY_ERROR bit.
    """
    v = np.empty(len(cols), dtype=np.uint8)
    bits = np.empty(len(cols), dtype=np.uint32)
    _into(cols, profile, at_us, approved, v, bits)
    return v, bits


def compute_matrix(
    cols: LabelColumns,
    profiles: Sequence[TrustProfile],
    at_us: int,
    approved_by_partner: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint32]]:
    """Verdicts and reason masks ``[partner, row]`` for every profile, in the order given."""
    n = len(cols)
    verdicts = np.empty((len(profiles), n), dtype=np.uint8)
    bits = np.empty((len(profiles), n), dtype=np.uint32)
    for k, profile in enumerate(profiles):
        approved = None if approved_by_partner is None else approved_by_partner.get(profile.partner)
        _into(cols, profile, at_us, approved, verdicts[k], bits[k])
    return verdicts, bits


def reason_codes(
    mask_bits: npt.NDArray[np.uint32] | int,
    row: int,
    cols: LabelColumns,
    profile: TrustProfile,
    at_us: int,
) -> tuple[str, ...]:
    """The reason codes of one row, exactly as ``decide`` gives them (parameters included).

    ``mask_bits`` is the mask array from :func:`compute` (or that row's mask as an int).
    """
    m = int(mask_bits[row]) if isinstance(mask_bits, np.ndarray) else int(mask_bits)
    if m & BIT[Reason.POLICY_ERROR]:  # as decide names it: the profile field, else the engine
        return tuple(profile_unhandled(profile)) or (f"{Reason.POLICY_ERROR}:VECTOR",)
    out: list[str] = []
    for i, (code, _) in enumerate(RULES):
        if not m >> i & 1:
            continue
        if code == Reason.TOPIC_EXCLUDED:
            topics = cols.topic_vocab.decode(cols.topics[row]) & profile.excluded_topics
            out.extend(f"{code}:{t}" for t in sorted(topics))
        elif code == Reason.ORIGINATOR_CONTROL:
            out.append(f"{code}:{cols.partner_vocab.name(int(cols.originator[row]))}")
        elif code == Reason.EMBARGO_UNTIL:
            until = int(cols.added_us[row]) + profile.embargo // timedelta(microseconds=1)
            out.append(f"{code}:{format_timestamp(from_micros(until))}")
        else:
            out.append(code)
    return tuple(out)
