"""Read ingest inputs as a stream of units.

A unit is what ingest commits at once. A STIX 2.1 bundle, a TAXII 2.1 envelope, a JSON array and a
single object are each one unit: all or nothing. A JSON-lines file is read line by line and yields
batches of ``batch`` lines, each yielded only once it is whole, so a crash or a bad line part-way
leaves whole committed batches and names the line where it stopped.

What a file holds is decided from its content, the same way for a path and for ``-`` (stdin): the
first kilobyte is sniffed for binary data (a NUL byte or invalid UTF-8) so that a large binary file
fails after one small read; the first non-space byte tells an array (``[``) from an object (``{``);
an object whose first line is a whole JSON object with more content after it is JSON lines (as is any
file named ``*.jsonl``/``*.ndjson``), otherwise it is one document: a bundle (``"type": "bundle"``),
an envelope (``objects`` without ``type``) or a single STIX object. Whole documents are read with one
read (bundles are a few megabytes) and parsed with orjson; JSON lines are streamed.

Objects are returned as parsed, unvalidated: :mod:`tearline.stix.validate` judges them. The reader
rejects only what is not a container of JSON objects at all.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from tearline.canonical import loads
from tearline.errors import StixError

STDIN = "<stdin>"
_SNIFF = 1024  # bytes checked for binary data
_HEAD = 64 * 1024  # bytes read before deciding what the input is
_CHUNK = 1024 * 1024  # read size when streaming JSON lines
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


class RawObject(NamedTuple):
    """One parsed object and where it was (``position``): its 0-based array index, or line number - 1.

    A named tuple rather than a frozen dataclass: one is made per object read, and a frozen
    dataclass's ``__init__`` costs three times as much."""

    position: int
    obj: dict[str, Any]


@dataclass(frozen=True)
class Unit:
    """Objects committed together, with the marking definitions among them (also in ``objects``)."""

    source: str
    kind: str  # "bundle" | "envelope" | "jsonl" | "array" | "object"
    objects: list[RawObject]
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    size_bytes: int = 0


def total_bytes(paths: Iterable[str | Path]) -> int | None:
    """Total size of the inputs for a progress bar; ``None`` if any is stdin or not a regular file."""
    total = 0
    for path in paths:
        if str(path) == "-":
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        total += info.st_size
    return total


def read_units(path: str | Path, *, batch: int = 1000, stdin: BinaryIO | None = None) -> Iterator[Unit]:
    """Yield the units of one input: a file path, or ``-`` for stdin (``stdin`` overrides the stream)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if str(path) == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        yield from _read_stream(STDIN, stream, batch, named_jsonl=False)
        return
    name = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is drained
    except IsADirectoryError:
        raise StixError(f"{name}: is a directory, not a file") from None
    except FileNotFoundError:
        raise StixError(f"{name}: no such file") from None
    except OSError as exc:
        raise StixError(f"{name}: cannot be read ({exc.strerror or 'error'})") from None
    with handle:
        yield from _read_stream(name, handle, batch, named_jsonl=name.lower().endswith(_JSONL_SUFFIXES))


def _read_stream(name: str, stream: BinaryIO, batch: int, *, named_jsonl: bool) -> Iterator[Unit]:
    head = _read_up_to(stream, _HEAD)
    _check_text(name, head)
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    start = _first_content(head)
    while start < 0:  # a head of whitespace only: look further before calling the input empty
        more = stream.read(_HEAD)
        if not more:
            raise StixError(f"{name}: empty file (no JSON)")
        head += more
        start = _first_content(head)
    first = head[start : start + 1]
    if named_jsonl or (first == b"{" and _looks_like_jsonl(head, start)):
        yield from _jsonl_units(name, head, stream, batch)
        return
    if first not in (b"{", b"["):
        raise StixError(
            f"{name}: not a JSON object or array (starts with `{_show_byte(first)}`); "
            "expected a STIX bundle, a TAXII envelope, JSON lines, an array or an object"
        )
    data = head + stream.read()
    try:
        document = loads(data)
    except orjson.JSONDecodeError as exc:
        if first == b"{" and exc.msg == "unexpected content after document":
            # JSON lines whose first line did not fit the sniffed head: re-read from memory.
            yield from _jsonl_units(name, data, None, batch)
            return
        raise StixError(_json_error(name, data, exc)) from None
    held = [_document_unit(name, document, len(data))]
    del document, data
    yield held.pop()  # this frame keeps nothing of the unit while the caller works on it


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes or until end of input (a pipe may return less than asked for per read)."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        part = stream.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _check_text(name: str, head: bytes) -> None:
    sniff = head[:_SNIFF]
    if sniff.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise StixError(f"{name}: UTF-16 text; STIX JSON must be UTF-8")
    if b"\x00" in sniff:
        raise StixError(f"{name}: not a JSON document (binary data)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sniff, final=False)
    except UnicodeDecodeError:
        raise StixError(f"{name}: not a JSON document (binary data)") from None


def _first_content(data: bytes) -> int:
    """Index of the first non-whitespace byte, or -1."""
    stripped = data.lstrip(_WHITESPACE)
    return len(data) - len(stripped) if stripped else -1


def _show_byte(first: bytes) -> str:
    char = first.decode("utf-8", "replace")
    return char if char.isprintable() else repr(first)[2:-1]


def _looks_like_jsonl(head: bytes, start: int) -> bool:
    """A whole JSON object on the first line, and more than whitespace after it."""
    end = head.find(b"\n", start)
    if end < 0:
        return False
    try:
        first = loads(head[start:end])
    except orjson.JSONDecodeError:
        return False  # a pretty-printed document: its first line is `{` or a fragment
    return isinstance(first, dict) and _first_content(head[end:]) >= 0


def _json_error(name: str, data: bytes, exc: orjson.JSONDecodeError) -> str:
    if "UTF-8" in exc.msg:
        return f"{name}: not valid JSON (invalid UTF-8 text)"
    truncated = exc.pos >= len(data.rstrip(_WHITESPACE)) - 1 or exc.msg == "unexpected end of data"
    hint = " (truncated?)" if truncated else ""
    return f"{name}: not valid JSON at line {exc.lineno} column {exc.colno}{hint}"


def _raw_objects(name: str, items: list[Any], what: str) -> list[RawObject]:
    if not set(map(type, items)) <= {dict}:  # orjson makes exact dicts: name the first other
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise StixError(f"{name} {what} #{index}: not a JSON object but a JSON {_json_kind(item)}")
    return list(map(RawObject, range(len(items)), items))


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return {str: "string", int: "number", float: "number", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _definitions(objects: list[RawObject]) -> dict[str, dict[str, Any]]:
    return {
        obj["id"]: obj
        for _, obj in objects
        if obj.get("type") == "marking-definition" and isinstance(obj.get("id"), str)
    }


def _unit(name: str, kind: str, objects: list[RawObject], size: int) -> Unit:
    return Unit(name, kind, objects, _definitions(objects), size)


def _document_unit(name: str, document: Any, size: int) -> Unit:
    if isinstance(document, list):
        return _unit(name, "array", _raw_objects(name, document, "object"), size)
    if not isinstance(document, dict):
        raise StixError(f"{name}: top-level JSON is a {_json_kind(document)}, not an object or array")
    kind = document.get("type")
    if kind == "bundle":
        items = document.get("objects", [])
        if not isinstance(items, list):
            raise StixError(f"{name}: bundle `objects` is a JSON {_json_kind(items)}, not a list")
        return _unit(name, "bundle", _raw_objects(name, items, "object"), size)
    if kind is None and "objects" in document:
        items = document["objects"]
        if not isinstance(items, list):
            raise StixError(f"{name}: envelope `objects` is a JSON {_json_kind(items)}, not a list")
        return _unit(name, "envelope", _raw_objects(name, items, "object"), size)
    if kind is None:
        raise StixError(f"{name}: not a STIX bundle, TAXII envelope or STIX object (no `type` or `objects`)")
    return _unit(name, "object", [RawObject(0, document)], size)


def _lines(head: bytes, stream: BinaryIO | None) -> Iterator[bytes]:
    """The lines of ``head`` followed by the rest of ``stream``, each with its newline."""
    buffer = head
    while True:
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            yield buffer[start : end + 1]
            start = end + 1
        buffer = buffer[start:]
        chunk = stream.read(_CHUNK) if stream is not None else b""
        if not chunk:
            break
        buffer += chunk
    if buffer:
        yield buffer


def _jsonl_units(name: str, head: bytes, stream: BinaryIO | None, batch: int) -> Iterator[Unit]:
    objects: list[RawObject] = []
    size = 0
    for number, line in enumerate(_lines(head, stream), start=1):
        size += len(line)
        text = line.strip(_WHITESPACE)
        if number == 1 and text.startswith(_BOM):
            text = text[len(_BOM) :]
        if not text:
            continue
        try:
            value = loads(text)
        except orjson.JSONDecodeError as exc:
            detail = " (invalid UTF-8 text)" if "UTF-8" in exc.msg else f" at column {exc.colno}"
            raise StixError(f"{name} line {number}: not valid JSON{detail}") from None
        if not isinstance(value, dict):
            raise StixError(f"{name} line {number}: not a JSON object but a JSON {_json_kind(value)}")
        objects.append(RawObject(number - 1, value))
        del value
        if len(objects) >= batch:
            held = [_unit(name, "jsonl", objects, size)]
            objects, size = [], 0
            yield held.pop()  # this frame keeps nothing of the unit while the caller works on it
    if objects:
        held = [_unit(name, "jsonl", objects, size)]
        del objects
        yield held.pop()
