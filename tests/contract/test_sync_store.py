"""`tearline.store.sync.own_ids` on SQLite and PostgreSQL: which ids of a pulled page this node
originated itself (a pull refuses those)."""

from __future__ import annotations

from typing import Any

from tearline.store.objects import NewVersion, insert_versions
from tearline.store.sync import own_ids


def version(n: int, v: int, originator: str | None) -> NewVersion:
    stix_id = f"indicator--00000000-0000-4000-8000-{n:012d}"
    return NewVersion(
        collection_id="c1", stix_id=stix_id, type="indicator", version=f"2026-01-01T00:00:{v:02d}.000Z",
        version_us=v, spec_version="2.1", date_added_us=1, body=b"{}", label="UNCLASSIFIED//TLP:CLEAR",
        classification=0, tlp=0, noforn=0, orcon=0, rel_to="", topics="", source_refs="", originator=originator,
        further_sharing=None, portions=None, posted_by=None,
    )


def test_own_ids_are_the_ids_with_a_version_of_this_node(node: Any) -> None:
    rows = []
    for n in range(1300):
        if n % 3 == 0:
            rows.append(version(n, 1, None))  # ours
        elif n % 3 == 1:
            rows.append(version(n, 1, "USA"))  # a partner's
        else:
            rows += [version(n, 1, "USA"), version(n, 2, None)]  # a partner's, then a version of ours
    with node.db.write() as conn:
        insert_versions(conn, rows)
    asked = [r.stix_id for r in rows] + ["indicator--not-stored"] + [rows[0].stix_id] * 3
    want = {r.stix_id for r in rows if r.originator is None}
    with node.db.read() as conn:
        assert own_ids(conn, asked) == want  # more than one statement's worth of ids, repeats too
        assert own_ids(conn, []) == set()
        assert own_ids(conn, ["indicator--not-stored"]) == set()
