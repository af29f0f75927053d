"""The source vault on SQLite (always) and PostgreSQL (when TEARLINE_TEST_POSTGRES_URL is set).

The raw-bytes tests read what an attacker with the database (file or dump) but not the KEK holds,
and look for every identity value; the cover name, stored in the clear by design, proves the scan
sees text when it is there.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tearline.canonical import dumps
from tearline.crypto.sealing import Kek
from tearline.errors import ConfigError, Conflict, InvalidInput, NotFound
from tearline.ids import SeededIds
from tearline.model.markings import Label, MarkedItem
from tearline.model.sources import Grade, SourceIdentity
from tearline.services.intake import Prepared, cited_sources
from tearline.services.vault import Vault, vault_object_check
from tearline.store.schema import vault_fields, vault_keys, vault_reveals

KEK_A = Kek(b"\xa1" * 32)
KEK_B = Kek(b"\xb2" * 32)
NIGHTJAR = SourceIdentity(
    name="Ivan Petrovich Sidorov",
    aliases=("Vanya Sidorov", "The Ferryman"),
    phones=("+44 20 7946 0958",),
    emails=("ivan.sidorov@example.org",),
    addresses=("14 Quayside Lane, Harwich",),
    notes=("meets on Tuesdays",),
)
KESTREL = SourceIdentity(name="Margit Kovacsne", phones=("+36 1 555 0199",))
_SEEDS = itertools.count()
SECRETS = [v for ident in (NIGHTJAR, KESTREL) for _, v in ident.fields()]


def make_vault(node: Any, kek: Kek = KEK_A, **kw: Any) -> Vault:
    return Vault(node.db, node.clock, kek=kek, ids=SeededIds(f"vault-{next(_SEEDS)}"), **kw)


@pytest.fixture
def vault(node: Any) -> Vault:
    v = make_vault(node)
    v.add_source("nightjar", NIGHTJAR, grade=Grade.parse("B2"), compartments=["humint", "ru"])
    v.add_source("KESTREL", KESTREL)
    return v


def sealed_rows(node: Any) -> list[tuple[int, bytes]]:
    with node.db.read() as conn:
        return [(r.id, bytes(r.sealed)) for r in conn.execute(select(vault_fields).order_by(vault_fields.c.id))]


# -- sources and terms ----------------------------------------------------------------------------
def test_sources_are_listed_without_secrets(vault: Vault) -> None:
    rows = vault.sources()
    assert [(s.cover, str(s.grade), sorted(s.compartments), s.term_count) for s in rows] == [
        ("KESTREL", "F6", [], 2),
        ("NIGHTJAR", "B2", ["HUMINT", "RU"], 6),
    ]
    text = repr(rows)
    assert not any(s in text for s in SECRETS)
    assert vault.grades() == {"KESTREL": Grade("F", 6), "NIGHTJAR": Grade("B", 2)}
    assert set(vault.cover_ids()) == {"KESTREL", "NIGHTJAR"}
    assert vault.summary("nightjar") == vault.summary(vault.cover_ids()["NIGHTJAR"])
    assert vault.source_text(show_grade=True)("NIGHTJAR") == "a source graded B2"
    assert vault.source_text(show_grade=False)("NIGHTJAR") == "a source"
    assert vault.source_text(show_grade=True)("UNKNOWN") == "a source"


def test_protected_terms_are_every_identity_value_but_not_cover_or_notes(vault: Vault) -> None:
    terms = vault.protected_terms()
    values = [t for _, t in terms]
    expected = [v for ident in (NIGHTJAR, KESTREL) for k, v in ident.fields() if k != "note"]
    assert values == expected
    assert "NIGHTJAR" not in values and "meets on Tuesdays" not in values
    assert len({tid for tid, _ in terms}) == len(terms)
    assert all(term not in tid for tid, term in terms)


def test_added_terms_are_sealed_and_change_the_terms_version(vault: Vault) -> None:
    before = vault.terms_version()
    summary = vault.add_term("NIGHTJAR", "Operation Blue Heron")
    assert summary.term_count == 7
    assert ("term", "Operation Blue Heron") in [(tid.split("/")[1], t) for tid, t in vault.protected_terms()]
    after = vault.terms_version()
    assert after != before and after[0] == before[0] + 1
    with pytest.raises(InvalidInput, match="at least 3 characters"):
        vault.add_term("NIGHTJAR", "ab")
    with pytest.raises(NotFound, match="no source `NOPE`"):
        vault.add_term("NOPE", "something")


def test_covers_are_checked(vault: Vault) -> None:
    with pytest.raises(Conflict, match="`NIGHTJAR` already exists"):
        vault.add_source("Nightjar", SourceIdentity(name="Someone Else"))
    with pytest.raises(InvalidInput, match="bad cover name `9lives`"):
        vault.add_source("9lives", SourceIdentity(name="Someone Else"))
    with pytest.raises(InvalidInput, match="must not be one of the source's own protected terms"):
        vault.add_source("FERRYMAN", SourceIdentity(name="Ann Other", aliases=("ferryman",)))
    with pytest.raises(InvalidInput, match="needs a name"):
        vault.add_source("EMPTY", SourceIdentity(name="  "))


# -- what the database holds ----------------------------------------------------------------------
def _database_bytes(node: Any) -> bytes:
    if node.db.is_sqlite:
        node.db.dispose()  # let SQLite settle; the WAL file is read as well if it is still there
        folder = Path(node.db.url.split("///", 1)[1]).parent
        return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("tearline.db"))
    raw = node.db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        chunks: list[bytes] = []
        with conn.cursor() as cur:
            for table in ("vault_keys", "vault_sources", "vault_fields", "vault_reveals"):
                for fmt in ("text", "binary"):
                    with cur.copy(f"COPY {table} TO STDOUT (FORMAT {fmt})") as copy:
                        chunks.extend(bytes(block) for block in copy)
        return b"".join(chunks)
    finally:
        raw.close()


def test_no_identity_value_is_in_the_database(vault: Vault, node: Any) -> None:
    vault.add_term("KESTREL", "Danube Crossing")
    vault.reveal("KESTREL", by="officer one", reason="source meeting")
    data = _database_bytes(node)
    assert b"NIGHTJAR" in data and b"source meeting" in data  # the scan sees what is stored in the clear
    for value in [*SECRETS, "Danube Crossing"]:
        for form in {value, value.upper(), value.lower()}:
            assert form.encode("utf-8") not in data, form
            assert form.encode("utf-16-le") not in data, form
    assert KEK_A.key not in data and KEK_A.key.hex().encode() not in data


# -- keys -----------------------------------------------------------------------------------------
def test_a_wrong_kek_is_refused_clearly(vault: Vault, node: Any) -> None:
    other = make_vault(node, KEK_B)
    assert [s.cover for s in other.sources()] == ["KESTREL", "NIGHTJAR"]  # summaries need no key
    with pytest.raises(ConfigError, match=f"`{KEK_B.kek_id}` does not open this vault"):
        other.protected_terms()
    with pytest.raises(ConfigError):
        other.add_source("OSPREY", SourceIdentity(name="New Person"))


def test_kek_rotation_keeps_every_value_readable_without_touching_them(vault: Vault, node: Any) -> None:
    before, terms = sealed_rows(node), vault.protected_terms()
    assert vault.rotate_kek(KEK_B) == 1
    assert vault.rotate_kek(KEK_B) == 0  # idempotent
    assert sealed_rows(node) == before
    new = make_vault(node, KEK_B)
    assert new.protected_terms() == terms
    assert vault.protected_terms() == terms  # processes still on the old key keep working
    new.add_source("OSPREY", SourceIdentity(name="Written After Rotation"))
    assert "Written After Rotation" in [t for _, t in vault.protected_terms()]
    with pytest.raises(Conflict, match="in use"):
        vault.retire_kek(KEK_A.kek_id)
    assert new.retire_kek(KEK_A.kek_id) == 1
    with node.db.read() as conn:
        rows = list(conn.execute(select(vault_keys).where(vault_keys.c.kek_id == KEK_A.kek_id)))
    assert [(bool(r.active), bytes(r.wrapped)) for r in rows] == [(False, b"")]
    with pytest.raises(ConfigError, match="does not open this vault"):
        make_vault(node, KEK_A).protected_terms()
    assert new.protected_terms()[: len(terms)] == terms
    with pytest.raises(InvalidInput):
        new.rotate_kek(KEK_B)


def test_data_key_rotation_reseals_every_value_in_batches(vault: Vault, node: Any) -> None:
    reader = make_vault(node)  # a second process that has opened the old data key
    terms = reader.protected_terms()
    before = dict(sealed_rows(node))
    seen: list[int] = []
    report = vault.rotate_data_key(batch=3, progress=seen.append)
    after = dict(sealed_rows(node))
    assert report.resealed == len(before) == sum(seen) and max(seen) <= 3
    assert set(after) == set(before) and all(after[i] != before[i] for i in before)
    assert reader.protected_terms() == terms
    assert make_vault(node).protected_terms() == terms
    status = vault.key_status()
    assert [(k.number, k.active) for k in status] == [(None, False), (report.new_key, True)]
    with node.db.read() as conn:
        assert {r.key_id for r in conn.execute(select(vault_fields))} == {report.new_key}


def test_data_key_rotation_waits_for_a_kek_rotation_to_finish(vault: Vault) -> None:
    vault.rotate_kek(KEK_B)
    with pytest.raises(Conflict, match="retire the old key first"):
        vault.rotate_data_key()


# -- reveals --------------------------------------------------------------------------------------
def test_a_reveal_is_recorded_and_announced(vault: Vault, node: Any) -> None:
    calls: list[tuple[str, str, str]] = []
    v = make_vault(node, on_reveal=[lambda conn, sid, by, reason: calls.append((sid, by, reason))])
    summary, identity = v.reveal("nightjar", by="officer one", reason="tasking review")
    assert identity == NIGHTJAR
    assert summary.cover == "NIGHTJAR"
    assert calls == [(summary.id, "officer one", "tasking review")]
    with node.db.read() as conn:
        rows = list(conn.execute(select(vault_reveals)))
    assert [(r.source_id, r.by, r.reason) for r in rows] == [(summary.id, "officer one", "tasking review")]
    assert rows[0].at_us > 0
    with pytest.raises(InvalidInput, match="needs a reason"):
        v.reveal("NIGHTJAR", by="officer one", reason=" ")


def test_a_failing_reveal_hook_records_nothing(vault: Vault, node: Any) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("ledger down")

    with pytest.raises(RuntimeError):
        make_vault(node, on_reveal=[broken]).reveal("NIGHTJAR", by="a", reason="b")
    assert vault.reveals() == []


# -- import ---------------------------------------------------------------------------------------
HEADER = "cover,name,aliases,phones,emails,grade,compartments\n"


def test_import_is_all_or_nothing_and_names_the_line(vault: Vault) -> None:
    good = HEADER + 'OSPREY,Olga Ptak,"Olya;Ptashka",+48 22 555 0101,,A1,PL;HUMINT\n'
    bad = good + "HERON,Qx Secretname,Qz,,,B2,\n"
    with pytest.raises(InvalidInput) as caught:
        vault.import_csv(bad)
    assert caught.value.message.startswith("line 3:")
    assert "Qz" not in caught.value.message and "Secretname" not in caught.value.message
    assert "OSPREY" not in vault.cover_ids()
    with pytest.raises(Conflict, match="line 3: cover `OSPREY` appears twice"):
        vault.import_csv(good + "osprey,Another Person,,,,,\n")
    with pytest.raises(Conflict, match="line 2: a source with cover `NIGHTJAR` already exists"):
        vault.import_csv(HEADER + "NIGHTJAR,Another Person,,,,,\n")
    with pytest.raises(InvalidInput, match="line 2: bad grade `Z9`"):
        vault.import_csv(HEADER + "HERON,Another Person,,,,Z9,\n")
    with pytest.raises(InvalidInput, match="line 1: the header needs"):
        vault.import_csv("cover,name\nHERON,Another Person\n")
    added = vault.import_csv(good)
    assert [(s.cover, str(s.grade), sorted(s.compartments), s.term_count) for s in added] == [
        ("OSPREY", "A1", ["HUMINT", "PL"], 4)
    ]
    assert {"Olga Ptak", "Olya", "Ptashka", "+48 22 555 0101"} <= {t for _, t in vault.protected_terms()}


# -- the ingest check -----------------------------------------------------------------------------
def _on_bytes(check: Any) -> Any:
    """The check as intake calls it: with the object prepared (its labels and canonical bytes)."""
    return lambda obj, item: check([Prepared(obj, item, dumps(obj))]).get(0, [])


def test_the_ingest_check_refuses_named_sources_and_unknown_covers(vault: Vault) -> None:
    check = _on_bytes(vault_object_check(vault))
    item = MarkedItem(label=Label())
    ok = {"type": "note", "id": "note--1", "content": "per {{source:NIGHTJAR}}, the ferry sails at 6"}
    assert check(ok, item) == []
    named = {"type": "note", "id": "note--2", "content": "met Vanya  Sidorov at the quay",
             "abstract": "call +44 (0)20 7946 0958"}
    problems = check(named, item)
    assert problems == [
        "object `note--2`: `$.abstract` contains a protected term (cite the source as a `{{source:COVER}}` token)",
        "object `note--2`: `$.content` contains a protected term (cite the source as a `{{source:COVER}}` token)",
    ]
    assert not any(s in p for p in problems for s in SECRETS)
    cites = {"type": "note", "id": "note--3", "content": "per {{source:heron}}"}
    # intake hands the check the label it made: the covers an object cites are its source refs
    assert check(cites, MarkedItem(label=Label(source_refs=frozenset(cited_sources(cites))))) == [
        "object `note--3` cites unknown source `HERON`"
    ]
    vault.add_term("KESTREL", "Danube Crossing")  # a new term is seen without rebuilding the check
    assert check({"type": "note", "id": "note--4", "content": "the danube crossing"}, item)


def test_the_ingest_check_sees_terms_added_by_another_process(vault: Vault, node: Any) -> None:
    check = _on_bytes(vault_object_check(vault, recheck_s=0))
    item = MarkedItem(label=Label())
    obj = {"type": "note", "id": "note--5", "content": "crossing at Sulina Gate"}
    assert check(obj, item) == []
    make_vault(node).add_term("KESTREL", "Sulina Gate")
    assert check(obj, item) == [
        "object `note--5`: `$.content` contains a protected term (cite the source as a `{{source:COVER}}` token)"
    ]


# -- the model ------------------------------------------------------------------------------------
def test_grades_parse_print_and_refuse_bad_input() -> None:
    assert Grade.parse(" b 2 ") == Grade("B", 2) and str(Grade.parse("F6")) == "F6"
    for bad in ("G1", "A7", "A", "AA1", "", "B0"):
        with pytest.raises(InvalidInput, match="bad grade"):
            Grade.parse(bad)
    with pytest.raises(InvalidInput, match="bad reliability `Z`"):
        Grade("Z", 1)
    with pytest.raises(InvalidInput, match="bad credibility `9`"):
        Grade("A", 9)


def test_intake_refuses_exactly_the_objects_that_name_a_source(node: Any, tmp_path: Path) -> None:
    """The vault check as ingest runs it, a unit at a time: the object naming a source and the one
    citing an unknown cover are refused by their positions, the others are stored (with
    ``skip_invalid``), or the whole bundle is refused (without)."""
    import orjson

    from tearline.errors import StixError
    from tearline.store.objects import counts

    node.vault.add_source("NIGHTJAR", NIGHTJAR)

    def note(n: int, content: str) -> dict[str, Any]:
        return {"type": "note", "spec_version": "2.1", "id": f"note--00000000-0000-4000-8000-{n:012d}",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "content": content, "object_refs": ["indicator--00000000-0000-4000-8000-000000000001"]}

    objects = [note(0, "clean"), note(1, "met the ferryman at dawn"), note(2, "per {{source:NIGHTJAR}}"),
               note(3, "per {{source:OSPREY}}"), note(4, "also clean")]
    path = tmp_path / "b.json"
    path.write_bytes(orjson.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",
                                   "objects": objects}))
    default = node.info.default_label
    with pytest.raises(StixError, match=r"object #1 \(note--[0-9a-f-]+1\): .*contains a protected term"):
        node.intake.ingest_paths([str(path)], default=default)
    with node.db.read() as conn:
        assert counts(conn) == (0, 0)  # all or nothing
    summary = node.intake.ingest_paths([str(path)], default=default, skip_invalid=True)
    assert (summary.new, summary.rejected) == (3, 2)
    assert [p.split(":")[0].split(" ")[-2:] for p in summary.problems] == [
        ["#1", f"({objects[1]['id']})"], ["#3", f"({objects[3]['id']})"]
    ]
    assert "cites unknown source `OSPREY`" in summary.problems[1]
    assert not any(s.lower() in p.lower() for p in summary.problems for s in SECRETS)
