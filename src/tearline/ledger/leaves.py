"""Ledger leaves: what each kind records, and their canonical bytes.

A leaf is a flat JSON object; its bytes are RFC 8785 canonical JSON (JCS), so a partner can
recompute them with any JCS implementation. Every stored leaf has ``kind``, ``seq`` (its 0-based
position in the log) and ``time`` (a STIX timestamp). The builders return an *unsequenced* leaf
(no ``seq``): the store assigns ``seq`` when it appends, under its lock, with :func:`sequenced`.

Kinds and their fields (docs/ledger.md lists them too):

``release``    partner, object, version, sha256 (hex of the exact bytes sent), verdict, reasons
``profile``    partner, version (of the trust profile), reason, approved_by
``approval``   partner, object, approved_by, reason
``revocation`` partner, object, revoked_by, reason (of an approval)
``reveal``     source (vault id), by, reason: never an identity
``alert``      partner, object, version, field (JSON path of a gate hit): never the term
``psi``        partner, role, types, mode, client_size, server_size, outcome, reason, and result_size
               on the querying side (the answering side cannot know it): never a value

:func:`encode` is written by hand for speed: ``rfc8785`` is pure Python (about 14 µs a leaf, most
of an append's budget), while orjson with sorted keys emits the same bytes for every value made of
ASCII keys, strings, booleans, null and integers within ±(2**53 - 1) (checked for every code point
and by a property test against :func:`tearline.canonical.jcs`). Anything else (a float, a
non-ASCII key) goes through :func:`tearline.canonical.jcs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from tearline.canonical import format_timestamp, jcs, parse_timestamp, to_micros
from tearline.errors import InvalidInput

KINDS = ("release", "profile", "approval", "revocation", "reveal", "alert", "psi")
_SAFE_INT = 2**53 - 1


class _Built(dict[str, Any]):
    """A leaf made by a builder below: its keys are ASCII and its values strings, safe integers or
    lists of strings, checked once when it was made, so :func:`encode` need not look again."""

    __slots__ = ("at_us",)
    at_us: int

    def __setitem__(self, key: str, value: Any) -> None:
        if key != "seq" or type(value) is not int or not 0 <= value <= _SAFE_INT:
            raise InvalidInput("a built leaf takes nothing but its seq")
        super().__setitem__(key, value)


def _leaf(kind: str, time: datetime, **fields: Any) -> dict[str, Any]:
    for name, value in fields.items():
        t = type(value)
        if t is str:
            continue
        if t is int and -_SAFE_INT <= value <= _SAFE_INT:
            continue
        if t is list and all(type(x) is str for x in value):
            continue
        raise InvalidInput(f"leaf field `{name}` must be a string, a safe integer or a list of strings")
    leaf = _Built(kind=kind, time=format_timestamp(time), **fields)
    leaf.at_us = to_micros(time)
    return leaf


def release_leaf(
    *,
    time: datetime,
    partner: str,
    object_id: str,
    version: str,
    sha256: str,
    verdict: str,
    reasons: Sequence[str],
) -> dict[str, Any]:
    """A release (or a decision not to release) of one object version to one partner."""
    if len(sha256) != 64 or sha256.strip("0123456789abcdef"):
        raise InvalidInput(f"`{sha256}` is not a lowercase hex sha-256")
    return _leaf(
        "release",
        time,
        partner=partner,
        object=object_id,
        version=version,
        sha256=sha256,
        verdict=verdict,
        reasons=list(reasons),
    )


def profile_leaf(*, time: datetime, partner: str, version: int, reason: str, approved_by: str) -> dict[str, Any]:
    """A new trust-profile version of a partner (a scale-back or a restore included)."""
    return _leaf("profile", time, partner=partner, version=version, reason=reason, approved_by=approved_by)


def approval_leaf(*, time: datetime, partner: str, object_id: str, approved_by: str, reason: str) -> dict[str, Any]:
    """An ORCON / TLP:RED approval to release an object to a partner."""
    return _leaf("approval", time, partner=partner, object=object_id, approved_by=approved_by, reason=reason)


def revocation_leaf(*, time: datetime, partner: str, object_id: str, revoked_by: str, reason: str) -> dict[str, Any]:
    """The revocation of an approval."""
    return _leaf("revocation", time, partner=partner, object=object_id, revoked_by=revoked_by, reason=reason)


def reveal_leaf(*, time: datetime, source: str, by: str, reason: str) -> dict[str, Any]:
    """A reveal of a vault source's identity: who and why, never the identity itself."""
    return _leaf("reveal", time, source=source, by=by, reason=reason)


def alert_leaf(*, time: datetime, partner: str, object_id: str, version: str, field: str) -> dict[str, Any]:
    """A gate alert: where a protected term was found, never the term."""
    return _leaf("alert", time, partner=partner, object=object_id, version=version, field=field)


def psi_leaf(*, time: datetime, partner: str, role: str, types: Sequence[str], mode: str, client_size: int,
             server_size: int, outcome: str, reason: str, result_size: int | None = None) -> dict[str, Any]:
    """A private set intersection session: with whom (``role`` ``server``: the partner asked us;
    ``client``: we asked the peer), set sizes, and on the client side the result's size; never a
    value. ``outcome`` is ``answered`` or ``refused``; ``mode`` ``values`` or ``cardinality``."""
    extra = {} if result_size is None else {"result_size": result_size}
    return _leaf("psi", time, partner=partner, role=role, types=list(types), mode=mode,
                 client_size=client_size, server_size=server_size, outcome=outcome, reason=reason, **extra)


def sequenced(leaf: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The leaf with its log position; refuses a leaf that already names another ``seq``."""
    if "seq" in leaf and leaf["seq"] != seq:
        raise InvalidInput(f"leaf names seq `{leaf['seq']}` but would be appended at `{seq}`")
    if type(leaf) is _Built:
        built = _Built(leaf)
        built.at_us = leaf.at_us
        built["seq"] = seq
        return built
    out = dict(leaf)
    out["seq"] = seq
    return out


def check(leaf: Mapping[str, Any]) -> tuple[str, str | None, int]:
    """Validate the common fields; return ``(kind, partner, at_us)`` for the indexed columns."""
    if type(leaf) is _Built:  # checked when built
        return leaf["kind"], leaf.get("partner"), leaf.at_us
    kind = leaf.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"unknown leaf kind `{kind}`")
    seq = leaf.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidInput(f"leaf seq `{seq}` is not an integer >= 0")
    time = leaf.get("time")
    try:
        at_us = _time_us(time) if isinstance(time, str) else None
    except ValueError:
        at_us = None
    if at_us is None:
        raise InvalidInput(f"leaf time `{time}` is not a STIX timestamp")
    partner = leaf.get("partner")
    if partner is not None and not isinstance(partner, str):
        raise InvalidInput(f"leaf partner `{partner}` is not a string")
    return str(kind), partner, at_us


def _time_us(text: str) -> int:
    return to_micros(_parse_time(text))


def _parse_time(text: str) -> datetime:
    # The builders' own form (microseconds, "Z") through the C parser; anything else via the regex.
    if len(text) == 27 and text[10] == "T" and text[19] == "." and text[26] == "Z" and text.isascii():
        return datetime.fromisoformat(text)
    return parse_timestamp(text)


def _orjson_safe(value: Any) -> bool:
    if type(value) is dict:
        return _flat_safe(value)
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    if kind is list:
        return all(_orjson_safe(v) for v in value)
    return False  # floats, subclasses, anything else: the reference encoder decides


def _flat_safe(leaf: dict[Any, Any]) -> bool:
    """The common case in one loop: a flat leaf with ASCII keys and string, integer, boolean, null
    or list-of-string values (nested containers take the general path)."""
    for k, v in leaf.items():
        if type(k) is not str or not k.isascii():
            return False
        t = type(v)
        if t is str or v is None or t is bool:
            continue
        if t is int:
            if not -_SAFE_INT <= v <= _SAFE_INT:
                return False
        elif t is list:
            for x in v:
                if type(x) is not str and not _orjson_safe(x):
                    return False
        elif not _orjson_safe(v):
            return False
    return True


def encode(leaf: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical bytes of a leaf (see the module docstring for the fast path)."""
    value = leaf if isinstance(leaf, dict) else dict(leaf)
    try:
        if type(value) is _Built and type(value.get("seq", 0)) is int:  # checked when built
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if _orjson_safe(value):
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        return jcs(value)
    except (TypeError, ValueError, orjson.JSONEncodeError) as exc:
        raise InvalidInput(f"leaf is not canonical json: {exc}") from None
