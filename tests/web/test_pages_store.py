"""`tearline.store.pages` on SQLite and PostgreSQL: keyset pages in (date_added, seq) order, filters,
versions by id, deletes; and the cursor codec."""

from __future__ import annotations

import base64
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.services.cursors import BadCursor, CursorCodec
from tearline.store import egress, pages
from tearline.store.objects import NewVersion, insert_versions
from tearline.store.pages import Match


def version(i: int, stix_id: str, typ: str, added: int, v: int, coll: str = "c1") -> NewVersion:
    body = f'{{"id":"{stix_id}","n":{i}}}'.encode()
    return NewVersion(
        collection_id=coll, stix_id=stix_id, type=typ, version=f"2026-01-01T00:00:{v:02d}.000Z", version_us=v,
        spec_version="2.1", date_added_us=added, body=body,
        label="UNCLASSIFIED//TLP:CLEAR", classification=0, tlp=0, noforn=False, orcon=False, rel_to="",
        topics="", source_refs="", originator=None, further_sharing=None, portions=None, posted_by=None,
    )


@pytest.fixture
def loaded(node):  # type: ignore[no-untyped-def]
    rows = []
    for i in range(60):
        typ = "indicator" if i % 3 else "malware"
        # many rows share a date_added, so the seq tie-break matters
        rows.append(version(i, f"{typ}--{i % 20:08d}-0000-4000-8000-000000000000", typ, 1000 + i // 7, i))
    rows.append(version(99, "indicator--other", "indicator", 5, 1, coll="c2"))
    with node.db.write() as conn:
        insert_versions(conn, rows)
    return node


def all_rows(node, match: Match, chunk: int) -> list[pages.LightRow]:  # type: ignore[no-untyped-def]
    out: list[pages.LightRow] = []
    pos = None
    with node.db.read() as conn:
        while True:
            got = pages.scan(conn, "c1", match, after=pos, chunk=chunk)
            out.extend(got)
            if len(got) < chunk:
                return out
            pos = got[-1].position


def test_keyset_pages_cover_everything_in_order(loaded) -> None:  # type: ignore[no-untyped-def]
    whole = all_rows(loaded, Match(), 1000)
    assert len(whole) == 60
    assert [r.position for r in whole] == sorted(r.position for r in whole)
    for chunk in (1, 7, 13, 59, 60):
        assert all_rows(loaded, Match(), chunk) == whole


def test_filters(loaded) -> None:  # type: ignore[no-untyped-def]
    whole = all_rows(loaded, Match(), 1000)
    malware = all_rows(loaded, Match(types=("malware",)), 5)
    assert malware == [r for r in whole if r.type == "malware"]
    one = whole[0].stix_id
    assert all_rows(loaded, Match(ids=(one,)), 2) == [r for r in whole if r.stix_id == one]
    after = all_rows(loaded, Match(added_after_us=1004), 3)
    assert after == [r for r in whole if r.date_added_us > 1004]
    assert all_rows(loaded, Match(spec_versions=("2.0",)), 3) == []


def test_versions_full_rows_and_delete(loaded) -> None:  # type: ignore[no-untyped-def]
    whole = all_rows(loaded, Match(), 1000)
    one = whole[0].stix_id
    with loaded.db.read() as conn:
        versions = pages.versions_of_ids(conn, "c1", [one])
        assert [v.version_us for v in versions] == sorted(r.version_us for r in whole if r.stix_id == one)
        assert pages.versions_of_ids(conn, "c2", [one]) == []
        full = egress.full_rows(conn, [v.seq for v in versions])
        assert [bytes(r.body) for r in full] == [f'{{"id":"{one}","n":{v.version_us}}}'.encode() for v in versions]
    with loaded.db.write() as conn:
        assert pages.delete_versions(conn, "c2", [versions[0].seq]) == 0  # not in that collection
        assert pages.delete_versions(conn, "c1", [versions[0].seq]) == 1
    assert len(all_rows(loaded, Match(), 1000)) == 59


KEY = secrets.token_bytes(32)


@settings(max_examples=200, deadline=None)
@given(added=st.integers(0, 2**62), seq=st.integers(0, 2**40), flip=st.integers(0, 10_000))
def test_cursor_round_trip_and_tamper(added: int, seq: int, flip: int) -> None:
    codec = CursorCodec(KEY)
    token = codec.encode("USA", "objects:c1", "f1", (added, seq))
    assert codec.decode(token, "USA", "objects:c1", "f1") == (added, seq)
    for partner, scope, filters in (("CAN", "objects:c1", "f1"), ("USA", "manifest:c1", "f1"),
                                    ("USA", "objects:c1", "f2")):
        with pytest.raises(BadCursor):
            codec.decode(token, partner, scope, filters)
    with pytest.raises(BadCursor):
        CursorCodec(secrets.token_bytes(32)).decode(token, "USA", "objects:c1", "f1")
    i = flip % len(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    changed = token[:i] + alphabet[(alphabet.index(token[i]) + 1 + flip % 60) % len(alphabet)] + token[i + 1 :]
    if changed != token:
        try:
            got = codec.decode(changed, "USA", "objects:c1", "f1")
        except BadCursor:
            pass
        else:  # base64 padding bits can change without changing the bytes
            assert got == (added, seq)
    sealed = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"USA" not in sealed and b"objects:c1" not in sealed  # the payload is not in clear


def test_insert_reports_exactly_the_rows_it_stored(node) -> None:  # type: ignore[no-untyped-def]
    """All new (the SQLite path that derives seqs), some already stored, a repeat within the batch."""
    from sqlalchemy import select

    from tearline.store.schema import objects

    first = [version(i, f"indicator--{i:08d}-0000-4000-8000-000000000000", "indicator", 10, i) for i in range(5)]
    with node.db.write() as conn:
        got = insert_versions(conn, first)
    again = [first[1], version(7, "indicator--new", "indicator", 11, 1), first[3],
             version(8, "indicator--new2", "indicator", 11, 2), version(8, "indicator--new2", "indicator", 11, 2)]
    with node.db.write() as conn:
        got += insert_versions(conn, again)
    with node.db.read() as conn:
        stored = [tuple(r) for r in conn.execute(
            select(objects.c.seq, objects.c.stix_id, objects.c.version_us).order_by(objects.c.seq))]
    assert got == stored
    assert [s for _, s, _ in got] == [r.stix_id for r in first] + ["indicator--new", "indicator--new2"]
