"""Storing a unit on SQLite and PostgreSQL: versions already stored and the same version twice in one
unit, mixed labels and times added; what is stored and what the ingest's decisions are made from."""

from __future__ import annotations

from datetime import timedelta

from tests.data import T0

from tearline.canonical import to_micros
from tearline.model.labeltext import format_label, parse_label
from tearline.model.markings import MarkedItem
from tearline.model.releases import Verdict
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.trust import ProfileChange
from tearline.store import decisions as decisions_store
from tearline.store import nodes
from tearline.store import objects as objects_store

_UUID = "{:08d}-0000-4000-8000-000000000000"


def _obj(n: int, modified: str = "2026-01-01T00:00:00.000Z") -> dict[str, object]:
    return {
        "type": "malware", "spec_version": "2.1", "id": "malware--" + _UUID.format(n),
        "created": "2025-12-01T00:00:00.000Z", "modified": modified, "name": f"m{n}", "is_family": True,
    }  # fmt: skip


def _item(text: str) -> MarkedItem:
    return MarkedItem(label=parse_label(text))


def test_a_unit_stores_the_first_of_equal_versions_and_decides_on_what_it_stored(node) -> None:  # type: ignore[no-untyped-def]
    node.trust.add_partner("USA", "United States", ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    with node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared").id
    clear, noforn = _item("UNCLASSIFIED//TLP:CLEAR"), _item("SECRET//NOFORN//TLP:AMBER")
    first = IngestSummary()
    node.intake.store([Prepared(_obj(1), clear)], collection_id=shared, added=T0, summary=first)
    assert (first.new, first.duplicate) == (1, 0)

    times = [T0 + timedelta(minutes=m) for m in range(6)]
    unit = [
        Prepared(_obj(1), noforn),  # stored already (with its own label): left as it is
        Prepared(_obj(2), noforn),  # the first of two equal versions: stored, NOFORN
        Prepared(_obj(3), clear),
        Prepared(_obj(2), clear),  # the second: a duplicate, its label ignored
        Prepared(_obj(2, "2026-02-01T00:00:00.000Z"), clear),  # a new version of the same object
        Prepared(_obj(3), noforn),
    ]
    summary = IngestSummary()
    seqs = node.intake.store(unit, collection_id=shared, added=times, summary=summary)
    assert (summary.new, summary.duplicate) == (3, 3)
    assert seqs == sorted(seqs) and len(set(seqs)) == 3

    with node.db.read() as conn:
        rows = {r.seq: r for r in objects_store.rows_by_seq(conn, seqs)}
    stored = [(r.stix_id, r.version, r.label, r.date_added_us) for r in rows.values()]
    n2, n3 = "malware--" + _UUID.format(2), "malware--" + _UUID.format(3)
    assert [r.stix_id for r in rows.values()] == [n2, n3, n2], stored
    assert [r.label for r in rows.values()] == [format_label(noforn.label)] + [format_label(clear.label)] * 2, stored
    assert [r.date_added_us for r in rows.values()] == [to_micros(times[i]) for i in (1, 2, 4)], stored

    # the decisions the ingest wrote (in its transaction) are those of the labels it stored
    with node.db.read() as conn:
        info = decisions_store.info(conn, "USA")
    assert info is not None and info.watermark_seq == max(seqs)  # written by the ingest, not recomputed
    view = node.decisions.view("USA")
    verdicts = {seq: view.verdict(seq) for seq in seqs}
    assert verdicts[seqs[0]] == Verdict.WITHHOLD
    assert verdicts[seqs[1]] != Verdict.WITHHOLD and verdicts[seqs[2]] != Verdict.WITHHOLD
    assert view.released(seqs[1], rows[seqs[1]].date_added_us)
    assert not view.released(seqs[0], rows[seqs[0]].date_added_us)


def test_the_insert_pairs_each_new_row_with_its_place_in_the_batch(node) -> None:  # type: ignore[no-untyped-def]
    """The same id and version in two collections: the one already stored is left, the other goes in,
    and each new seq is paired with the version that made it (not one equal to it elsewhere)."""

    def row(n: int, coll: str, label: str) -> objects_store.NewVersion:
        return objects_store.NewVersion(
            collection_id=coll, stix_id="malware--" + _UUID.format(n), type="malware",
            version="2026-01-01T00:00:00.000Z", version_us=n, spec_version="2.1", date_added_us=1,
            body=b"{}", label=label, classification=0, tlp=0, noforn=0, orcon=0, rel_to="", topics="",
            source_refs="", originator=None, further_sharing=None, portions=None, posted_by=None,
        )  # fmt: skip

    with node.db.write() as conn:
        assert [i for _, i in objects_store.insert_batch(conn, objects_store.batch_of([row(1, "c1", "a")]))] == [0]
    batch = objects_store.batch_of([row(1, "c1", "b"), row(1, "c2", "c"), row(2, "c1", "d"), row(1, "c2", "e")])
    with node.db.write() as conn:
        got = objects_store.insert_batch(conn, batch)
    assert [i for _, i in got] == [1, 2]
    with node.db.read() as conn:
        rows = objects_store.rows_by_seq(conn, [seq for seq, _ in got])
    assert [(r.collection_id, r.version_us, r.label) for r in rows] == [("c2", 1, "c"), ("c1", 2, "d")]
