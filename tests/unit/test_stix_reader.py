"""The ingest reader: every input format, stdin, and each kind of bad input failing with one clear line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tearline.errors import StixError
from tearline.stix.reader import RawObject, Unit, read_units, total_bytes
from tearline.stix.validate import check_object

CREATED = "2024-05-01T10:00:00.000Z"
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"


def indicator(n: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--8e2e2d2b-17d4-4cbf-938f-{n:012x}",
        "created": CREATED,
        "modified": CREATED,
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": CREATED,
        "object_marking_refs": [TLP_GREEN],
    }


MARKING = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": TLP_GREEN,
    "created": "2017-01-20T00:00:00.000Z",
    "definition_type": "tlp",
    "name": "TLP:GREEN",
    "definition": {"tlp": "green"},
}


def bundle(objects: list[Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objects}


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def units(path: Path | str, **kwargs: Any) -> list[Unit]:
    return list(read_units(path, **kwargs))


def error(path: Path | str, **kwargs: Any) -> str:
    with pytest.raises(StixError) as info:
        units(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- formats ---------------------------------------------------------------------------------------


def test_bundle_is_one_unit_with_its_definitions(tmp_path: Path) -> None:
    objects = [MARKING, indicator(1), indicator(2)]
    path = write(tmp_path, "b.json", json.dumps(bundle(objects), indent=2))
    [unit] = units(path)
    assert (unit.source, unit.kind) == (str(path), "bundle")
    assert unit.objects == [RawObject(i, o) for i, o in enumerate(objects)]
    assert unit.definitions == {TLP_GREEN: MARKING}
    assert unit.size_bytes == path.stat().st_size


def test_empty_bundle_is_one_empty_unit(tmp_path: Path) -> None:
    [unit] = units(write(tmp_path, "b.json", '{"type": "bundle", "id": "bundle--x"}'))
    assert unit.kind == "bundle"
    assert unit.objects == []


def test_taxii_envelope(tmp_path: Path) -> None:
    path = write(tmp_path, "e.json", json.dumps({"more": False, "objects": [indicator(1), MARKING]}))
    [unit] = units(path)
    assert unit.kind == "envelope"
    assert [r.obj["id"] for r in unit.objects] == [indicator(1)["id"], TLP_GREEN]
    assert list(unit.definitions) == [TLP_GREEN]


def test_array_of_objects(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", json.dumps([indicator(1), indicator(2)]))
    [unit] = units(path)
    assert unit.kind == "array"
    assert [r.position for r in unit.objects] == [0, 1]
    assert unit.definitions == {}


def test_single_object(tmp_path: Path) -> None:
    path = write(tmp_path, "o.json", json.dumps(indicator(7), indent=1))
    [unit] = units(path)
    assert unit.kind == "object"
    assert unit.objects == [RawObject(0, indicator(7))]


def test_observed_data_with_objects_is_an_object_not_an_envelope(tmp_path: Path) -> None:
    observed = {"type": "observed-data", "id": "observed-data--x", "objects": {"0": {"type": "file"}}}
    [unit] = units(write(tmp_path, "o.json", json.dumps(observed)))
    assert unit.kind == "object"


def test_jsonl_batches_line_numbers_and_sizes(tmp_path: Path) -> None:
    lines = [json.dumps(indicator(n)) for n in range(2500)]
    lines.insert(10, "")  # a blank line is counted as a line but holds no object
    path = write(tmp_path, "x.jsonl", "\n".join(lines) + "\n")
    got = units(path)
    assert [u.kind for u in got] == ["jsonl"] * 3
    assert [len(u.objects) for u in got] == [1000, 1000, 500]
    first = got[0].objects
    assert [r.position for r in first[:12]] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert first[10].obj == indicator(10)
    assert got[2].objects[-1].position == 2500
    assert sum(u.size_bytes for u in got) == path.stat().st_size


@pytest.mark.parametrize("kind", ["bundle", "jsonl-batch", "jsonl-last"])
def test_a_suspended_reader_keeps_nothing_of_the_unit_it_gave(tmp_path: Path, kind: str) -> None:
    """Once the caller lets go of a unit, it is freed at once, while the reader is still suspended
    (intake frees a unit before the cyclic collector runs again, which would otherwise walk it)."""
    if kind == "bundle":
        path = write(tmp_path, "b.json", json.dumps(bundle([indicator(n) for n in range(5)])))
    else:
        path = write(tmp_path, "x.jsonl", "\n".join(json.dumps(indicator(n)) for n in range(5)) + "\n")
    reader = read_units(path, batch=2)
    unit = next(reader)
    if kind == "jsonl-last":
        unit = next(reader)
        unit = next(reader)  # the last batch: nothing follows it
        assert len(unit.objects) == 1
    objects = unit.objects
    gone = weakref.ref(unit)
    del unit
    assert gone() is None, "the reader's suspended frames still hold the unit"
    # (1 for `objects`, 1 for getrefcount's argument): no frame holds the list of objects either
    assert sys.getrefcount(objects) == 2, "the reader's suspended frames still hold the unit's objects"
    reader.close()


def test_jsonl_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "feed.json", f"{json.dumps(indicator(1))}\n{json.dumps(MARKING)}")
    [unit] = units(path, batch=10)
    assert unit.kind == "jsonl"
    assert unit.definitions == {TLP_GREEN: MARKING}


def test_one_line_named_jsonl_is_jsonl(tmp_path: Path) -> None:
    [unit] = units(write(tmp_path, "one.ndjson", json.dumps(indicator(1))))
    assert unit.kind == "jsonl"


def test_jsonl_with_a_first_line_longer_than_the_sniffed_head(tmp_path: Path) -> None:
    big = indicator(1) | {"description": "x" * 100_000}
    path = write(tmp_path, "big.json", f"{json.dumps(big)}\n{json.dumps(indicator(2))}\n")
    got = units(path)
    assert [u.kind for u in got] == ["jsonl"]
    assert [r.obj["id"] for r in got[0].objects] == [big["id"], indicator(2)["id"]]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    [unit] = units(write(tmp_path, "bom.json", b"\xef\xbb\xbf" + json.dumps(bundle([indicator(1)])).encode()))
    assert unit.kind == "bundle"


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        (json.dumps(bundle([indicator(1)])), "bundle"),
        (json.dumps({"objects": [indicator(1)]}), "envelope"),
        (json.dumps([indicator(1)]), "array"),
        ("\n  " + json.dumps(indicator(1), indent=2), "object"),
        (json.dumps(indicator(1)) + "\n" + json.dumps(indicator(2)) + "\n", "jsonl"),
    ],
)
def test_stdin_reads_every_format(document: str, kind: str) -> None:
    got = units("-", stdin=io.BytesIO(document.encode()))
    assert {u.kind for u in got} == {kind}
    assert {u.source for u in got} == {"<stdin>"}
    assert got[0].objects[0].obj == indicator(1)


def test_stdin_of_the_process_by_default(tmp_path: Path) -> None:
    script = (
        "from tearline.stix.reader import read_units\n"
        "print([(u.kind, len(u.objects)) for u in read_units('-', batch=2)])\n"
    )
    feed = "".join(json.dumps(indicator(n)) + "\n" for n in range(5))
    done = subprocess.run(
        [sys.executable, "-c", script], input=feed.encode(), capture_output=True, check=True, timeout=60
    )
    assert done.stdout.decode().strip() == "[('jsonl', 2), ('jsonl', 2), ('jsonl', 1)]"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 40), batch=st.integers(1, 12), form=st.sampled_from(["bundle", "array", "jsonl"]))
def test_every_format_yields_the_same_objects_in_order(
    tmp_path: Path, count: int, batch: int, form: str
) -> None:
    objects = [indicator(n) for n in range(count)]
    if form == "bundle":
        data = json.dumps(bundle(objects))
    elif form == "array":
        data = json.dumps(objects)
    else:
        data = "".join(json.dumps(o) + "\n" for o in objects) or "\n"
    if form == "jsonl" and not objects:
        assert error("-", stdin=io.BytesIO(data.encode())) == "<stdin>: empty file (no JSON)"
        return
    got = units("-", batch=batch, stdin=io.BytesIO(data.encode()))
    flat = [r for u in got for r in u.objects]
    assert [r.obj for r in flat] == objects
    assert [r.position for r in flat] == list(range(count))
    if form == "jsonl":
        assert [len(u.objects) for u in got][:-1] == [batch] * (len(got) - 1)
    assert sum(u.size_bytes for u in got) == len(data.encode())


def test_total_bytes(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", "[]")
    b = write(tmp_path, "b.json", "[ ]")
    assert total_bytes([a, b]) == 5
    assert total_bytes([a, "-"]) is None
    assert total_bytes([tmp_path / "missing.json"]) is None
    assert total_bytes([tmp_path]) is None


# --- bad input ------------------------------------------------------------------------------------


def test_truncated_json_names_file_line_and_column(tmp_path: Path) -> None:
    text = json.dumps(bundle([indicator(1), indicator(2)]), indent=2)
    path = write(tmp_path, "ingest.json", text[: len(text) // 2])
    message = error(path)
    assert message.startswith(f"{path}: not valid JSON at line ")
    assert message.endswith("(truncated?)")


def test_broken_json_in_the_middle_is_not_called_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest.json", '{"type": "bundle",\n  "objects": [\n    {"a": x}\n  ]\n}\n')
    assert error(path) == f"{path}: not valid JSON at line 3 column 11"


def test_fifty_megabytes_of_random_bytes_fail_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    with path.open("wb") as out:
        for _ in range(50):
            out.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = error(path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == f"{path}: not a JSON document (binary data)"
    assert elapsed < 1.0
    assert peak < 2 * 1024 * 1024


def test_binary_with_nul_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", b'{"type": "bundle"\x00\x00}')
    assert error(path) == f"{path}: not a JSON document (binary data)"


def test_utf16_text(tmp_path: Path) -> None:
    path = write(tmp_path, "u16.json", json.dumps([indicator(1)]).encode("utf-16"))
    assert error(path) == f"{path}: UTF-16 text; STIX JSON must be UTF-8"


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "empty.json", content)
    assert error(path) == f"{path}: empty file (no JSON)"


def test_text_that_is_not_json(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "hello, this is not json\n" * 10_000)
    assert error(path).startswith(f"{path}: not a JSON object or array (starts with `h`)")


@pytest.mark.parametrize(("document", "first"), [('"a string"', '"'), ("42", "4"), ("null", "n")])
def test_top_level_scalar(tmp_path: Path, document: str, first: str) -> None:
    path = write(tmp_path, "s.json", document)
    assert error(path).startswith(f"{path}: not a JSON object or array (starts with `{first}`)")


def test_top_level_object_that_is_neither_stix_nor_taxii(tmp_path: Path) -> None:
    path = write(tmp_path, "o.json", '{"name": "x"}')
    assert error(path) == f"{path}: not a STIX bundle, TAXII envelope or STIX object (no `type` or `objects`)"


def test_bundle_objects_not_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", '{"type": "bundle", "id": "bundle--x", "objects": {"a": 1}}')
    assert error(path) == f"{path}: bundle `objects` is a JSON object, not a list"


def test_envelope_objects_not_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "e.json", '{"objects": "none", "more": false}')
    assert error(path) == f"{path}: envelope `objects` is a JSON string, not a list"


def test_array_element_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", json.dumps([indicator(1), [1, 2], indicator(2)]))
    assert error(path) == f"{path} object #1: not a JSON object but a JSON array"


def test_jsonl_bad_line_is_named_and_earlier_batches_stand(tmp_path: Path) -> None:
    lines = [json.dumps(indicator(n)) for n in range(20)]
    lines[11] = lines[11][:-7]  # line 12 cut short
    path = write(tmp_path, "x.jsonl", "\n".join(lines) + "\n")
    reader = read_units(path, batch=5)
    committed = [next(reader), next(reader)]
    with pytest.raises(StixError) as info:
        next(reader)
    assert str(info.value).startswith(f"{path} line 12: not valid JSON")
    assert [r.position for u in committed for r in u.objects] == list(range(10))


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", json.dumps(indicator(1)) + "\n[1]\n")
    assert error(path) == f"{path} line 2: not a JSON object but a JSON array"


def test_jsonl_invalid_utf8_later_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.jsonl", (json.dumps(indicator(1)) + "\n").encode() * 50 + b'{"a": "\xff\xfe"}\n'
    )
    assert error(path) == f"{path} line 51: not valid JSON (invalid UTF-8 text)"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert error(tmp_path / "nope.json") == f"{tmp_path / 'nope.json'}: no such file"
    assert error(tmp_path) == f"{tmp_path}: is a directory, not a file"


def test_bundle_with_one_bad_object_is_read_whole_and_only_that_object_is_flagged(tmp_path: Path) -> None:
    objects: list[dict[str, Any]] = [MARKING] + [indicator(n) for n in range(10)]
    del objects[6]["pattern"]
    path = write(tmp_path, "bundle.json", json.dumps(bundle(objects)))
    [unit] = units(path)
    assert len(unit.objects) == 11
    flagged = {r.position: check_object(r.obj) for r in unit.objects if check_object(r.obj)}
    assert flagged == {6: ["missing required property `pattern`"]}


def test_object_without_id_and_wrong_spec_version_are_read_then_flagged(tmp_path: Path) -> None:
    no_id = indicator(1)
    del no_id["id"]
    old = indicator(2) | {"spec_version": "2.0"}
    [unit] = units(write(tmp_path, "a.json", json.dumps([no_id, old, indicator(3)])))
    assert [check_object(r.obj) for r in unit.objects] == [
        ["missing required property `id`"],
        ["spec_version must be `2.1`, got `2.0`"],
        [],
    ]
