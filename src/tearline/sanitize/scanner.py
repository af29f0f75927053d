"""The protected-term gate: find any protected term in the exact bytes about to leave the node.

Both sides go through :func:`tearline.sanitize.normalize.normalise`; the whole document is scanned
once, and a hit is mapped back to the JSON path of the string (or key) it lies in.

The raw JSON bytes are normalised as they are, with double quotes turned into U+0000, so every
string is fenced by characters no term contains; a hit between fences *2k+1* and *2k+2* lies in
string *k*, a hit outside fences (numbers, ``true``, structure) is dropped. Escapes are decoded in
place first (``\\n``, ``\\"``, ``\\\\``, ``\\uXXXX`` runs; a decoded quote becomes ``''``, its normal
form), so every byte the receiver can read is scanned, values of duplicate keys included. ASCII
documents (the usual STIX object) take one ``bytes.translate``; no Python code runs per string.
Paths are worked out only when there is a hit, by decoding the document keeping every pair.

Whole-word: a match counts only if the characters outside its ends are not letters or digits (where
the term's own end is a letter or digit of a spaced script). Phone terms are matched on a digit-only
view (separators removed) and then checked in place (:func:`_phone_ok`); e-mail terms
expand into their obfuscated written forms (``@``/``at``/``[at]``, ``.``/``dot``/``[.]``).

Engine, by measurement (``bench/gate.py``, 100,000 random name terms, normalised STIX-like text,
this noisy 2-core machine): hyperscan in literal mode compiles in 3.4–3.6 s and, with the
vectorised whole-word check, runs at 640–750 MB/s; pyahocorasick runs at 39–89 MB/s *without*
any word check; a Python ``re`` alternation compiles in 2.6 s and scans at 0.014 MB/s. So
hyperscan is used, and pyahocorasick only where hyperscan cannot be imported (non-x86). End to end
``scan_json`` does 130–190 MB/s on 1 MB bundles, about half of it in ``orjson.loads`` (the JSON
must be valid to go out). Each thread gets its own hyperscan scratch, so one TermSet may be shared
by concurrent scans.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick
import numpy as np
import orjson
import phonenumbers

from tearline.errors import InvalidInput, TearlineError
from tearline.sanitize.normalize import normalise, normalise_ascii, normalise_unicode, word_at, word_char

_HS: Any
try:
    _HS = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - non-x86 platforms
    _HS = None

__all__ = ["GateError", "Hit", "TermSet"]

_simdjson: Any
try:  # the fast validator; orjson does the same job where it is missing
    import simdjson as _simdjson
except ImportError:  # pragma: no cover - every supported platform has wheels
    _simdjson = None

_ESCAPES = (
    (b'\\"', b"''"),
    (b"\\/", b"/"),
    (b"\\b", b" "),
    (b"\\f", b" "),
    (b"\\n", b" "),
    (b"\\r", b" "),
    (b"\\t", b" "),
)
_KEEP_DIGITS = bytes(range(48, 58)) + b"\x00"
_DELETE_NON_DIGITS = bytes(b for b in range(256) if b not in _KEEP_DIGITS)
_DIGIT_OR_NUL = re.compile(rb"[0-9\x00]")
_U_RUN = re.compile(rb"(?:\\u[0-9a-fA-F]{4})+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_PHONE_SHAPE = re.compile(r"\+?[0-9 ./\-]{6,}")
_EMAIL_SHAPE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE_SEPARATORS = b" -./"
_MIN_TERM = 3
# 0: not a word character, 1: ASCII letter or digit, 2: part of a non-ASCII character (decode to tell)
_WORD_CLASS = np.array([1 if chr(b).isalnum() else 0 for b in range(128)] + [2] * 128, dtype=np.uint8)


class GateError(TearlineError):
    """The gate could not scan the bytes (bad UTF-8, bad JSON, engine failure): withhold."""

    code = "gate_error"


@dataclass(frozen=True)
class Hit:
    term_id: str  # the id the caller gave the term; never the term text
    field: str  # JSON path of the string where it was found; "<key>" ends the path of a key


class _Engine:
    """One multi-pattern literal matcher over bytes: yields (pattern index, end offset)."""

    def __init__(self, patterns: list[bytes]) -> None:
        self._hs: Any = None
        self._aho: Any = None
        self._local = threading.local()
        if not patterns:
            return
        if _HS is not None:
            db = _HS.Database(mode=_HS.HS_MODE_BLOCK)
            db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), literal=True)
            self._hs = db
        else:  # pragma: no cover - exercised where hyperscan is absent
            aho = ahocorasick.Automaton()
            by_key: dict[str, list[int]] = {}
            for i, pat in enumerate(patterns):
                by_key.setdefault(pat.decode("latin-1"), []).append(i)
            for key, ids in by_key.items():
                aho.add_word(key, (len(key), ids))
            aho.make_automaton()
            self._aho = aho

    def find(self, data: bytes) -> list[int]:
        """Every match as ``end << 32 | pattern index`` (one int: the callback is the hot spot)."""
        found: list[int] = []
        if self._hs is not None:
            scratch = getattr(self._local, "scratch", None)
            if scratch is None:
                scratch = _HS.Scratch(self._hs)
                self._local.scratch = scratch
            append = found.append

            def on_match(pid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
                append(end << 32 | pid)

            self._hs.scan(data, match_event_handler=on_match, scratch=scratch)
        elif self._aho is not None:  # pragma: no cover - exercised where hyperscan is absent
            for end, (_n, ids) in self._aho.iter(data.decode("latin-1")):
                found.extend((end + 1) << 32 | i for i in ids)
        return found


class TermSet:
    """An immutable, compiled set of protected terms; rebuild to change it and swap the reference."""

    def __init__(self, compiled: _Compiled) -> None:
        self._c = compiled
        self._words = _Engine([p.text for p in compiled.words])
        self._wlen = np.array([len(p.text) for p in compiled.words], dtype=np.int64)
        self._wterm = np.array([p.term for p in compiled.words], dtype=np.int64)
        self._wleft = np.array([p.left for p in compiled.words], dtype=bool)
        self._wright = np.array([p.right for p in compiled.words], dtype=bool)
        self._phones = _Engine([p.text for p in compiled.phones])

    @classmethod
    def build(cls, terms: Iterable[tuple[str, str]], *, region: str = "GB") -> TermSet:
        """Compile ``(term_id, term)`` pairs; ``region`` is the country for numbers without a code."""
        return cls(_compile_terms(terms, region=region))

    def __len__(self) -> int:
        return len(self._c.term_ids)

    # -- scanning ---------------------------------------------------------------------------------
    def scan_text(self, text: str) -> list[Hit]:
        """Scan one piece of text; hits carry the field ``$``."""
        if not isinstance(text, str):
            raise GateError("text to scan must be a string")
        buf = normalise_unicode(text)
        ids = sorted({self._c.term_ids[t] for t, _ in self._matches(buf)})
        return [Hit(term_id=i, field="$") for i in ids]

    def scan_json(self, data: bytes) -> list[Hit]:
        """Scan the exact outgoing JSON bytes; any failure raises :class:`GateError`."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise GateError("data to scan must be bytes")
        data = bytes(data)
        _validate(data)
        if not self._c.term_ids:
            return []
        try:
            return self._scan_document(data)
        except GateError:
            raise
        except Exception as exc:  # the engine or a decoder failed: translate, never pass silently
            raise GateError("the gate failed while scanning") from exc

    def _scan_document(self, data: bytes) -> list[Hit]:
        raw = data
        if b"\\" in raw:  # decode escapes in place; an escaped backslash is parked first
            raw = raw.replace(b"\\\\", b"\x01")
            for src, dst in _ESCAPES:
                if src in raw:
                    raw = raw.replace(src, dst)
            if b"\\u" in raw:
                raw = _U_RUN.sub(_decode_u, raw)
            raw = raw.replace(b"\x01", b"\\")
        if raw.isascii():
            buf = normalise_ascii(raw, quote_as_nul=True)
        else:
            buf = normalise_unicode(raw.decode("utf-8"), quote_as_nul=True)
        matched = self._matches(buf)
        if not matched:
            return []
        found: set[tuple[int, int]] = set()
        fences, at = 0, 0
        for offset, term in sorted((offset, term) for term, offset in matched):
            fences, at = fences + buf.count(b"\x00", at, offset), offset
            if fences % 2:  # inside string number fences // 2; else a number, literal or structure
                found.add((fences // 2, term))
        return self._hits(data, found) if found else []

    def _matches(self, buf: bytes) -> list[tuple[int, int]]:
        """(term index, start offset) of every whole-word match of any pattern in ``buf``."""
        out: list[tuple[int, int]] = []
        packed = self._words.find(buf)
        if 0 < len(packed) < 48:
            for item in packed:
                pat = self._c.words[item & 0xFFFFFFFF]
                end = item >> 32
                start = end - len(pat.text)
                if pat.left and word_at(buf, start - 1, backwards=True):
                    continue
                if pat.right and word_at(buf, end, backwards=False):
                    continue
                out.append((pat.term, start))
        elif packed:  # whole-word check, vectorised over all raw matches
            arr = np.array(packed, dtype=np.int64)
            pids, ends = arr & 0xFFFFFFFF, arr >> 32
            starts = ends - self._wlen[pids]
            view, last = np.frombuffer(buf, dtype=np.uint8), len(buf) - 1
            left = np.where(starts > 0, _WORD_CLASS[view[np.clip(starts - 1, 0, last)]], 0)
            right = np.where(ends <= last, _WORD_CLASS[view[np.clip(ends, 0, last)]], 0)
            bad = (self._wleft[pids] & (left == 1)) | (self._wright[pids] & (right == 1))
            unsure = ~bad & ((left == 2) | (right == 2))  # a non-ASCII neighbour: decode and look
            for i in np.flatnonzero(~bad & ~unsure).tolist():
                out.append((int(self._wterm[pids[i]]), int(starts[i])))
            for i in np.flatnonzero(unsure).tolist():
                pat = self._c.words[int(pids[i])]
                start, end = int(starts[i]), int(ends[i])
                if pat.left and word_at(buf, start - 1, backwards=True):
                    continue
                if pat.right and word_at(buf, end, backwards=False):
                    continue
                out.append((pat.term, start))
        if self._c.phones:
            digits = buf.translate(None, _DELETE_NON_DIGITS)
            candidates = self._phones.find(digits)
            if candidates:
                where = [m.start() for m in _DIGIT_OR_NUL.finditer(buf)]
                for pid, end in ((c & 0xFFFFFFFF, c >> 32) for c in candidates):
                    phone = self._c.phones[pid]
                    first, last = where[end - len(phone.text)], where[end - 1]
                    if _phone_ok(buf, first, last + 1, phone.prefixes):
                        out.append((phone.term, first))
        return out

    def _hits(self, data: bytes, found: set[tuple[int, int]]) -> list[Hit]:
        fields = [path for _, path in _strings(_pairs_load(data))]
        key_hits = {index for index, _ in found if fields[index].endswith("<key>")}
        if key_hits:  # a key that is a term must not show up in the path of its values either
            fields = [path for _, path in _strings(_pairs_load(data), redact=key_hits)]
        hits = {(index, self._c.term_ids[term]) for index, term in found}
        return [Hit(term_id=tid, field=fields[index]) for index, tid in sorted(hits)]


_LOCAL = threading.local()


def _validate(data: bytes) -> None:
    """Refuse bytes that are not one valid UTF-8 JSON document.

    simdjson (pysimdjson) validates structure and UTF-8 without building Python objects, about six
    times faster than a full ``orjson.loads`` (3.6 GB/s against 0.6 GB/s on 1 MB STIX bundles here),
    which was half of a scan's time; orjson is the fallback where simdjson cannot be imported.
    """
    if _simdjson is None:
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise GateError("outgoing bytes are not valid utf-8 json") from exc
        return
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = _simdjson.Parser()  # a parser is not shared between threads
    try:
        parser.parse(data)
    except (ValueError, UnicodeDecodeError, RuntimeError) as exc:
        raise GateError("outgoing bytes are not valid utf-8 json") from exc


def _decode_u(match: re.Match[bytes]) -> bytes:
    """A run of ``\\uXXXX`` escapes as UTF-8 (surrogate pairs joined; a quote becomes ``''``)."""
    text: str = json.loads(b'"' + match.group() + b'"')
    return text.replace('"', "''").encode("utf-8")  # a lone surrogate raises: the gate withholds


def _pairs_load(data: bytes) -> Any:
    """Decode keeping every key/value pair, duplicates included, in document order."""
    return json.loads(data.decode("utf-8"), object_pairs_hook=_Pairs)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its list of pairs (so duplicate keys are kept)."""


def _strings(obj: Any, redact: set[int] | None = None) -> list[tuple[str, str]]:
    """Every key and string value with its JSON path, in document order."""
    out: list[tuple[str, str]] = []
    for item in _walk(obj, "$", out, redact or set()):
        out.append(item)
    return out


def _walk(obj: Any, path: str, out: list[tuple[str, str]], redact: set[int]) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield obj, path
    elif isinstance(obj, _Pairs):
        for key, value in obj:
            index = len(out)
            yield key, f"{path}<key>"
            if index in redact:
                child = f"{path}[<key>]"
            elif _IDENT.fullmatch(key):
                child = f"{path}.{key}"
            else:
                child = f"{path}[{json.dumps(key)}]"
            yield from _walk(value, child, out, redact)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _walk(value, f"{path}[{i}]", out, redact)


# -- term compilation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Word:
    text: bytes  # normalised form, UTF-8
    term: int  # index into term_ids
    left: bool  # needs a word boundary before it
    right: bool  # needs a word boundary after it


@dataclass(frozen=True)
class _Phone:
    text: bytes  # national significant number, ASCII digits
    term: int
    prefixes: frozenset[bytes]  # digits allowed right before it: trunk, country code, 00/011 forms


@dataclass(frozen=True)
class _Compiled:
    term_ids: tuple[str, ...]
    words: tuple[_Word, ...]
    phones: tuple[_Phone, ...]


def _compile_terms(terms: Iterable[tuple[str, str]], *, region: str) -> _Compiled:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"unknown phone region `{region}`")
    ids: list[str] = []
    words: list[_Word] = []
    phones: list[_Phone] = []
    for pair in terms:
        term_id, term = pair
        if not isinstance(term_id, str) or not isinstance(term, str):
            raise InvalidInput("a protected term must be a pair of strings (term id, term)")
        index = len(ids)
        ids.append(term_id)
        main = normalise(term).strip()
        if len(main) < _MIN_TERM:
            raise InvalidInput(f"protected term `{term_id}` is shorter than {_MIN_TERM} characters")
        phone = _phone(main, region)
        if phone is not None:
            nsn, prefixes = phone
            phones.append(_Phone(nsn.encode("ascii"), index, prefixes))
            continue
        for form in _email_forms(term.strip()) or [term]:
            text = normalise(form).strip()
            words.append(_Word(text.encode("utf-8"), index, word_char(text[0]), word_char(text[-1])))
    return _Compiled(tuple(ids), tuple(words), tuple(phones))


def _phone(text: str, region: str) -> tuple[str, frozenset[bytes]] | None:
    """The national number and allowed prefixes of a term that is a phone number, else None."""
    if not _PHONE_SHAPE.fullmatch(text) or sum(c.isdigit() for c in text) < 7:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    nsn = phonenumbers.national_significant_number(number)
    if not phonenumbers.is_possible_number(number) or len(nsn) < 6:
        return None
    cc = str(number.country_code or "")
    trunks = {""}
    for code in phonenumbers.region_codes_for_country_code(number.country_code or 0):
        meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
        if meta is not None and meta.national_prefix:
            trunks.add(meta.national_prefix)
    prefixes = {head + trunk for trunk in trunks for head in ("", cc, "00" + cc, "011" + cc)}
    return nsn, frozenset(p.encode("ascii") for p in prefixes)


def _email_forms(term: str) -> list[str]:
    """Written forms of an e-mail address: ``@``, `` at ``, ``[at]``; ``.``, `` dot ``, ``[.]``.

    Brackets are spaces in the normal form, so ``[at]``, ``(at)`` and ``{at}`` all reduce to `` at ``
    and ``[.]`` to `` . ``; the dot form is used for every dot of the domain, and of the local part
    either as written or in the same form.
    """
    if not _EMAIL_SHAPE.fullmatch(term):
        return []
    local, domain = term.rsplit("@", 1)
    forms = set()
    for at in ("@", " @ ", " at "):
        for dot in (".", " . ", " dot "):
            forms.add(local + at + domain.replace(".", dot))
            forms.add(local.replace(".", dot) + at + domain.replace(".", dot))
    return sorted(forms)


def _phone_ok(buf: bytes, first: int, end: int, prefixes: frozenset[bytes]) -> bool:
    """Whether the national number at ``buf[first:end]`` is written as a phone number.

    Inside it only digits and at most two separators in a row; after it no letter or digit; before
    it, read back over digits, separators and ``+``, an allowed prefix (nothing, trunk ``0``,
    ``44``, ``440``, ``0044``, ...) that starts at a non-digit which is not part of a word.
    """
    run = 0
    for byte in buf[first:end]:
        if 48 <= byte <= 57:
            run = 0
        elif byte in _PHONE_SEPARATORS:
            run += 1
            if run > 2:
                return False
        else:
            return False
    if word_at(buf, end, backwards=False):
        return False
    # read back over the prefix run: digits, separators and "+"
    i, run = first - 1, 0
    while i >= 0 and first - i <= 12 and (48 <= buf[i] <= 57 or buf[i] in _PHONE_SEPARATORS or buf[i] == 43):
        run = run + 1 if not 48 <= buf[i] <= 57 else 0
        if run > 2:
            break
        i -= 1
    back = buf[i + 1 : first]
    if word_at(buf, i, backwards=True) and (not back or back[:1].isdigit()):
        return False  # glued to a word: "x2079460958"
    if b"+" in back:  # an explicit international prefix must be this number's country code
        return bytes(c for c in back[back.rindex(b"+") :] if 48 <= c <= 57) in prefixes
    digits = b""
    for j in range(len(back) - 1, -1, -1):  # the longest allowed suffix that starts a digit group
        if 48 <= back[j] <= 57:
            digits = back[j : j + 1] + digits
            if (j == 0 or not 48 <= back[j - 1] <= 57) and digits in prefixes:
                return True
    return b"" in prefixes and (not back or not 48 <= back[-1] <= 57)
