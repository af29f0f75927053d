"""Kept whole answers (``tearline.services.answers``) on SQLite and PostgreSQL: an answer is served
again only while nothing it depends on changed. Each change that narrows or widens what a partner
may see changes the very next answer: a scale-back, a new protected term, an approval and its
revocation, a profile version that takes effect later, an embargo running out, a change made by
another process on the same database, a post and a delete. Objects answers name the ledger entries
that recorded them, and repeats are counted in ``releases.deliveries``."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tearline.asgi import taxii_app
from tearline.bootstrap import Node, open_node
from tearline.canonical import dumps_ordered
from tearline.model.labeltext import parse_label
from tearline.model.sources import SourceIdentity
from tearline.services.cursors import CursorCodec
from tearline.services.trust import ProfileChange
from tearline.store.nodes import read_epoch
from tearline.store.schema import releases

TAXII = "application/taxii+json;version=2.1"
OBJECTS = "/api/collections/shared/objects/"
LEDGER = "X-Tearline-Ledger-Entries"


def indicator(name: str) -> dict[str, Any]:
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


IDS = {name: indicator(name)["id"] for name in ("green", "amber", "orcon", "Operation Bluefin")}


class Served:
    """A node with partners USA and CAN (CAN under a two-hour embargo) and a client per partner."""

    def __init__(self, node: Node, tmp: Path, serve_app: Any) -> None:
        self.node = node
        node.trust.add_partner("USA", "USA", ProfileChange(tlp_ceiling="AMBER"))
        node.trust.add_partner("CAN", "CAN", ProfileChange(tlp_ceiling="AMBER", embargo=timedelta(hours=2)))
        node.vault.add_source("NIGHTJAR", SourceIdentity(name="Ivan Petrovich Sidorov"))
        for label, names in (("UNCLASSIFIED//TLP:GREEN", ["green", "Operation Bluefin"]),
                             ("UNCLASSIFIED//TLP:AMBER", ["amber"]),
                             ("UNCLASSIFIED//TLP:GREEN//ORCON", ["orcon"])):
            path = tmp / f"{uuid.uuid4()}.json"
            path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                        "objects": [indicator(n) for n in names]}))
            node.intake.ingest_paths([str(path)], default=parse_label(label))
        self.tokens = {p: node.trust.rotate_token(p) for p in ("USA", "CAN")}
        self.app = taxii_app(node)
        self.client = httpx.Client(base_url=serve_app(self.app), timeout=60)
        self.pipeline_calls = 0
        original = node.release.release

        def counting(partner, rows, **kw):  # type: ignore[no-untyped-def]
            self.pipeline_calls += 1
            return original(partner, rows, **kw)

        node.release.release = counting  # type: ignore[method-assign]  # instrumentation, not a stand-in

    def get(self, partner: str = "USA", path: str = OBJECTS, **params: str) -> Any:
        r = self.client.get(path, params=params,
                            headers={"Accept": TAXII, "Authorization": f"Bearer {self.tokens[partner]}"})
        assert r.status_code == 200, r.text
        return r

    def ids(self, partner: str = "USA") -> set[str]:
        return {o["id"] for o in self.get(partner).json()["objects"]}

    def kept(self, partner: str = "USA") -> set[str]:
        """The ids of an answer asked twice, the second time served whole from the cache."""
        first = self.get(partner)
        calls = self.pipeline_calls
        again = self.get(partner)
        assert again.content == first.content and self.pipeline_calls == calls  # no pipeline: kept
        return {o["id"] for o in first.json()["objects"]}


@pytest.fixture
def served(node: Node, tmp_path: Path, serve_app: Any) -> Iterator[Served]:
    s = Served(node, tmp_path, serve_app)
    yield s
    s.client.close()
    s.app.state.taxii.close()


def test_kept_answer_names_its_ledger_entries_and_counts_repeats(served: Served) -> None:
    first = served.get()
    objs = first.json()["objects"]
    assert {o["id"] for o in objs} == {IDS["green"], IDS["amber"], IDS["Operation Bluefin"]}
    entries = [int(x) for x in first.headers[LEDGER].split(",")]
    assert len(entries) == len(objs) == len(set(entries))
    with served.node.db.read() as conn:
        rows = {r.stix_id: r for r in conn.execute(select(releases).where(releases.c.partner == "USA"))}
    assert [rows[o["id"]].ledger_seq for o in objs] == entries  # recorded before the bytes left
    for o, seq in zip(objs, entries, strict=True):  # each entry is the release of exactly these bytes
        (entry,) = served.node.ledger.partner_leaves("USA", seq, seq + 1)
        leaf = json.loads(entry["leaf"])
        assert (leaf["object"], leaf["sha256"]) == (o["id"], hashlib.sha256(dumps_ordered(o)).hexdigest())
    for _ in range(3):
        again = served.get()
        assert again.content == first.content and again.headers[LEDGER] == first.headers[LEDGER]
    served.app.state.taxii.deliveries.flush()  # (the background writer may have written some already)
    assert served.app.state.taxii.deliveries.pending == 0
    with served.node.db.read() as conn:
        counts = {r.stix_id: r.deliveries for r in conn.execute(select(releases).where(releases.c.partner == "USA"))}
    assert counts == {o["id"]: 4 for o in objs}
    empty = served.get(**{"match[type]": "malware"})
    assert empty.json() == {"more": False, "objects": []} and empty.headers[LEDGER] == ""


def test_scale_back_changes_the_next_answer(served: Served) -> None:
    assert IDS["amber"] in served.kept()
    served.node.trust.change("USA", ProfileChange(tlp_ceiling="GREEN"), reason="scale back", approved_by="ops",
                             narrowing_only=True)
    assert IDS["amber"] not in served.ids()


def test_new_protected_term_changes_the_next_answer(served: Served) -> None:
    assert IDS["Operation Bluefin"] in served.kept()
    served.node.vault.add_term("NIGHTJAR", "Operation Bluefin")
    assert IDS["Operation Bluefin"] not in served.ids()
    assert IDS["green"] in served.ids()


def test_approval_and_its_revocation_change_the_next_answer(served: Served) -> None:
    assert IDS["orcon"] not in served.kept()
    approval = served.node.approvals.approve(IDS["orcon"], "USA", by="Head of Liaison", reason="operational need")
    assert IDS["orcon"] in served.kept()
    served.node.approvals.revoke(approval.id, by="Head of Liaison", reason="originator withdrew consent")
    assert IDS["orcon"] not in served.ids()


def test_profile_version_effective_later_applies_on_time(served: Served, clock: Any) -> None:
    served.node.trust.change("USA", ProfileChange(tlp_ceiling="GREEN"), reason="from next hour", approved_by="ops",
                             effective_from=clock.now() + timedelta(hours=1))
    assert IDS["amber"] in served.kept()
    clock.advance(timedelta(minutes=59))
    assert IDS["amber"] in served.kept()
    clock.advance(timedelta(minutes=1))  # nothing in the database changes: the clock alone
    assert IDS["amber"] not in served.ids()


def test_embargo_running_out_changes_the_next_answer(served: Served, clock: Any) -> None:
    assert served.kept("CAN") == set()
    clock.advance(timedelta(hours=2))
    assert served.ids("CAN") == {IDS["green"], IDS["amber"], IDS["Operation Bluefin"]}


def test_change_by_another_process_changes_the_next_answer(served: Served, clock: Any) -> None:
    assert IDS["amber"] in served.kept()
    other = open_node(served.node.settings, clock=clock)  # what the CLI or another worker would open
    try:
        other.trust.change("USA", ProfileChange(tlp_ceiling="GREEN"), reason="scale back", approved_by="ops",
                           narrowing_only=True)
    finally:
        other.close()
    assert IDS["amber"] not in served.ids()


def test_post_and_delete_change_the_next_answer(served: Served) -> None:
    inbox = "/api/collections/inbox-usa/objects/"
    assert served.get(path=inbox).json()["objects"] == []
    mine = indicator("posted by USA")
    headers = {"Accept": TAXII, "Content-Type": TAXII, "Authorization": f"Bearer {served.tokens['USA']}"}
    r = served.client.post(inbox, content=json.dumps({"objects": [mine]}), headers=headers)
    assert r.status_code == 202 and r.json()["success_count"] == 1
    assert [o["id"] for o in served.get(path=inbox).json()["objects"]] == [mine["id"]]
    assert served.client.delete(f"{inbox}{mine['id']}/", headers=headers).status_code == 200
    assert served.get(path=inbox).json()["objects"] == []


def test_answers_are_kept_per_partner_and_per_request(served: Served, clock: Any) -> None:
    clock.advance(timedelta(hours=2))
    usa, can = served.get("USA"), served.get("CAN")
    assert usa.json() == can.json()  # the same objects, released to each partner: its own ledger entries
    assert set(usa.headers[LEDGER].split(",")).isdisjoint(can.headers[LEDGER].split(","))
    assert served.get("USA").headers[LEDGER] == usa.headers[LEDGER]
    assert served.get("CAN").headers[LEDGER] == can.headers[LEDGER]
    one = served.get("USA", limit="1")
    assert len(one.json()["objects"]) == 1 and one.json()["more"] is True
    assert served.get("USA", limit="1", next=one.json()["next"]).json()["objects"] != one.json()["objects"]


def test_cursor_is_the_same_for_the_same_position() -> None:
    codec = CursorCodec(b"k" * 32)
    a = codec.encode("USA", "objects:c1", "f1", (10, 20))
    assert a == codec.encode("USA", "objects:c1", "f1", (10, 20))  # a page URL repeats across crawls
    assert a != codec.encode("USA", "objects:c1", "f1", (10, 21))
    assert codec.decode(a, "USA", "objects:c1", "f1") == (10, 20)
    nonces = {codec.encode("USA", "s", "f", (i, i)).split(".")[0][:16] for i in range(500)}
    assert len(nonces) == 500  # distinct positions never share a nonce here


def test_every_kind_of_change_moves_the_epoch(served: Served) -> None:
    node = served.node

    def epoch() -> int:
        with node.db.read() as conn:
            return read_epoch(conn)

    steps = [
        lambda: node.trust.change("USA", ProfileChange(tlp_ceiling="GREEN"), reason="r", approved_by="ops"),
        lambda: node.vault.add_term("NIGHTJAR", "Operation Bluefin"),
        lambda: node.vault.add_source("KESTREL", SourceIdentity(name="Margit Kovacsne")),
        lambda: node.approvals.approve(IDS["orcon"], "USA", by="Head of Liaison", reason="need"),
        lambda: node.trust.add_partner("NZL", "NZL", ProfileChange()),
    ]
    for step in steps:
        before = epoch()
        step()
        assert epoch() > before
    assert node.decisions.epoch() == epoch()


def test_a_listing_keeps_verdicts_not_bytes(served: Served) -> None:
    cache = served.app.state.taxii.cache
    listed = served.get(path="/api/collections/shared/manifest/").json()["objects"]
    assert {o["id"] for o in listed} == {IDS["green"], IDS["amber"], IDS["Operation Bluefin"]}
    assert len(cache) >= 3 and cache.distinct_bodies == 0  # the pipeline's verdicts, no bytes
    calls = served.pipeline_calls
    first = served.get()
    objs = first.json()["objects"]
    assert served.pipeline_calls > calls  # a first delivery runs the pipeline with its record stage
    assert {o["id"] for o in objs} == {o["id"] for o in listed}
    assert len(first.headers[LEDGER].split(",")) == len(objs)
    assert cache.distinct_bodies == len(objs)  # delivered bytes are kept, for pages made from them
    assert served.get(**{"match[type]": "indicator"}).json()["objects"] == objs
