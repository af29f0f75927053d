"""Objects refused during a pull: listed with their state; those that may pass later (a marking
definition not known yet) fetched again by id on the next pulls; the others refused for good."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from tearline.demo.network import Member
from tearline.model.labeltext import parse_label
from tearline.model.markings import MarkedItem
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.sync_pull import Puller
from tearline.services.sync_push import Pusher
from tearline.store import nodes
from tests.federation.support import inbox_versions
from tests.helpers import cli

TAXII = "application/taxii+json;version=2.1"
ORCON = "UNCLASSIFIED//ORCON//TLP:GREEN"  # released to a partner with an approval; its definition is not served


def indicator(name: str) -> dict[str, Any]:
    ts = "2026-01-01T00:00:00.000Z"
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": ts,
        "modified": ts, "name": name, "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": ts,
    }


def add_shared(m: Member, obj: dict[str, Any], label: str) -> None:
    with m.node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    assert shared is not None
    summary = IngestSummary()
    m.node.intake.store([Prepared(obj=obj, item=MarkedItem(parse_label(label)))], collection_id=shared.id,
                        added=m.node.clock.now(), summary=summary)
    assert summary.new == 1


def orcon_for_usa(a: Member, name: str) -> tuple[dict[str, Any], int]:
    obj = indicator(name)
    add_shared(a, obj, ORCON)
    approval = a.node.approvals.approve(obj["id"], "USA", by="Head of Liaison", reason="test")
    return obj, approval.id


def states(b: Member) -> dict[str, dict[str, Any]]:
    return {r.stix_id: {"state": r.state, "attempts": r.attempts, "outcome": r.outcome, "reason": r.reason}
            for r in b.node.federation().rejections("GBR")}


def post_definitions(a: Member, b: Member, ids: set[str]) -> None:
    """A posts to its inbox at B the definitions its releases of ``ids`` to USA carry (as its push does)."""
    n = a.node
    defs: dict[str, Any] = {}
    for o in Pusher(n.db, n.clock, n.decisions, n.release).releasable("USA"):
        if o.stix_id in ids:
            for d in o.definitions:
                defs.setdefault(d.id, orjson.loads(d.body))
    assert defs
    headers = {"Accept": TAXII, "Content-Type": TAXII, "Authorization": f"Bearer {b.tokens['GBR']}"}
    with httpx.Client(headers=headers) as c:
        root = c.get(b.url).json()["default"]
        inbox = next(x for x in c.get(root + "collections/").json()["collections"] if x["can_write"])
        r = c.post(f"{root}collections/{inbox['id']}/objects/", content=orjson.dumps({"objects": list(defs.values())}))
        assert r.status_code == 202 and r.json()["failure_count"] == 0


def test_pending_rejections_are_retried_by_id_and_permanent_ones_stay_refused(
    pair: tuple[Member, Member], serve: Callable[[Member], str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = pair
    serve(a)
    serve(b)
    x, _ = orcon_for_usa(a, "approved for USA, definition not served")
    z, z_approval = orcon_for_usa(a, "approved for USA, approval revoked later")
    with b.node.db.read() as conn:  # one of B's own objects, re-shared by A
        shared_b = nodes.find_collection(conn, "shared")
        assert shared_b is not None
    own = next(o for o in (orjson.loads(p.body) for p in Pusher(
        b.node.db, b.node.clock, b.node.decisions, b.node.release).releasable("GBR")) if o["type"] == "indicator")
    add_shared(a, own, "UNCLASSIFIED//TLP:GREEN")

    fed = b.node.federation()
    fed.peers.add("GBR", a.url, a.tokens["USA"])
    puller = Puller(b.node.db, b.node.clock, b.node.intake, b.node.info)
    peer = fed.peers.get("GBR")
    first = puller.pull(peer)
    assert first.error is None and first.objects > 0
    got = states(b)
    assert set(got) == {x["id"], z["id"], own["id"]}, got
    assert got[x["id"]]["state"] == got[z["id"]]["state"] == "pending"
    assert got[x["id"]]["reason"].startswith("unknown marking definition `marking-definition--")
    assert got[own["id"]] == {"state": "refused", "attempts": 0, "outcome": None,
                              "reason": "an object this node originated"}

    # listed by the command, all or by state
    monkeypatch.setenv("TEARLINE_KEK_FILE", b.node.settings.kek_file)
    listed = cli(capsys, "--data", str(b.node.settings.data), "sync", "rejections", "--json")
    assert listed.code == 0, listed.err
    rows = {r["id"]: r for r in orjson.loads(listed.out)}
    assert rows[x["id"]]["state"] == "pending" and rows[x["id"]]["direction"] == "pull"
    assert rows[x["id"]]["collection"] and rows[own["id"]]["state"] == "refused"
    pending = cli(capsys, "--data", str(b.node.settings.data), "sync", "rejections", "GBR", "--state", "pending",
                  "--json")
    assert {r["id"] for r in orjson.loads(pending.out)} == {x["id"], z["id"]}
    bad = cli(capsys, "--data", str(b.node.settings.data), "sync", "rejections", "--state", "lost")
    assert bad.code == 3 and "unknown state `lost`" in bad.err

    # the next pull fetches the pending ones again: the definition is still unknown
    second = puller.pull(peer)
    assert second.error is None and second.retried == 2 and second.recovered == 0
    got = states(b)
    assert got[x["id"]]["state"] == "pending" and got[x["id"]]["attempts"] == 1
    assert got[x["id"]]["outcome"].startswith("unknown marking definition")
    assert got[own["id"]]["state"] == "refused" and got[own["id"]]["attempts"] == 0  # never retried

    # A sends the definition; A no longer releases z to USA
    a.node.approvals.revoke(z_approval, by="Head of Liaison", reason="test")
    post_definitions(a, b, {x["id"]})
    third = puller.pull(peer)
    assert third.error is None and third.retried == 2 and third.recovered == 1
    got = states(b)
    assert got[x["id"]] == {**got[x["id"]], "state": "stored", "attempts": 2, "outcome": "stored"}
    assert got[z["id"]]["state"] == "gone"
    assert got[own["id"]]["state"] == "refused"
    assert (x["id"], x["modified"]) in inbox_versions(b, "GBR")
    assert (z["id"], z["modified"]) not in inbox_versions(b, "GBR")
    assert (own["id"], own["modified"]) not in inbox_versions(b, "GBR")

    # nothing pending any more: nothing retried
    assert puller.pull(peer).retried == 0


def test_pending_rejections_give_up_after_the_bound_and_settle_when_a_push_brings_the_object(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    a, b = pair
    serve(a)
    serve(b)
    w, _ = orcon_for_usa(a, "never resolvable by a pull")
    fed = b.node.federation()
    fed.peers.add("GBR", a.url, a.tokens["USA"])
    peer = fed.peers.get("GBR")
    puller = Puller(b.node.db, b.node.clock, b.node.intake, b.node.info, max_attempts=2)
    assert puller.pull(peer).rejected == 1
    assert puller.pull(peer).retried == 1
    assert states(b)[w["id"]]["state"] == "pending"
    assert puller.pull(peer).retried == 1
    gave_up = states(b)[w["id"]]
    assert gave_up["state"] == "refused" and gave_up["attempts"] == 2
    assert gave_up["outcome"].startswith("gave up after 2 attempts: unknown marking definition")
    assert puller.pull(peer).retried == 0

    # a pending one that A's push delivers meanwhile (with its definitions) is settled as stored
    v, _ = orcon_for_usa(a, "delivered by a push")
    assert puller.pull(peer).rejected == 1
    fed_a = a.node.federation()
    fed_a.peers.add("USA", b.url, b.tokens["GBR"])
    [pushed] = fed_a.run("push", "USA")
    assert pushed.error is None and pushed.objects > 0
    again = puller.pull(peer)
    assert again.retried == 1 and again.recovered == 0
    assert states(b)[v["id"]]["state"] == "stored"
    assert states(b)[v["id"]]["outcome"] == "stored since by a push or another pull"
