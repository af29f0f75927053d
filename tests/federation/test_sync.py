"""Pull and push between real nodes over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gc
import io
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from rich.console import Console

from tearline.demo.network import Member, add_reporting
from tearline.demo.scenario import build_scenario
from tearline.services.sync_pull import Puller
from tearline.services.sync_push import Pusher
from tearline.services.trust import ProfileChange
from tearline.store import nodes
from tearline.store import sync as sync_store
from tests.federation.support import Proxy, inbox_versions, releasable

TAXII = "application/taxii+json;version=2.1"


def inbox_count(receiver: Member, sender: str) -> int:
    from sqlalchemy import func, select

    from tearline.store.schema import objects

    with receiver.node.db.read() as conn:
        inbox = nodes.inbox_of(conn, sender)
        assert inbox is not None
        q = select(func.count()).select_from(objects).where(
            objects.c.collection_id == inbox.id, objects.c.type != "marking-definition"
        )
        return int(conn.execute(q).scalar_one())


def topic_versions(m: Member, topic: str) -> set[tuple[str, str]]:
    with m.node.db.read() as conn:
        return sync_store.versions_with_topic(conn, topic)


def test_push_equals_what_the_pipeline_releases_and_stops_after_a_scale_back(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    a, b = pair
    serve(b)
    fed = a.node.federation()
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    want = releasable(a, "USA")
    assert 0 < len(want) < len(topic_versions(a, "russia")) + 10_000
    [report] = fed.run("push", "USA")
    assert report.error is None and report.rejected == 0
    assert report.objects == len(want)
    assert inbox_versions(b, "GBR") == want  # object by object, nothing else
    assert inbox_count(b, "GBR") == len(want)  # stored once each
    with a.node.db.read() as conn:
        assert sync_store.push_cursor(conn, "USA") > 0
    # a second push sends nothing: everything is confirmed
    [again] = fed.run("push", "USA")
    assert again.objects == 0 and again.pages == 0

    a.node.trust.change("USA", ProfileChange(exclude_topics=("russia",)), approved_by="test", reason="scale back",
                        narrowing_only=True)
    added = add_reporting(a, build_scenario(seed=99, now=a.node.clock.now(), size=500), 150)
    assert added == 150
    russia_new = topic_versions(a, "russia") - topic_versions(b, "russia") - want
    assert russia_new, "the new reporting must hold the excluded topic for the check to mean anything"
    after = releasable(a, "USA")
    [third] = fed.run("push", "USA")
    assert third.error is None and third.objects > 0
    got = inbox_versions(b, "GBR")
    assert got == want | after
    assert not (got - want) & topic_versions(a, "russia")  # nothing more of the topic


def test_pull_resumes_after_a_cut_page_without_loss_or_duplicates(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    a, b = pair
    serve(a)
    b_url = serve(b)
    proxy = Proxy(target=a.url.removesuffix("/taxii2/"), cut_from=3)
    url = proxy.start() + "/taxii2/"
    try:
        want = releasable(a, "USA")
        _send_definitions(a, b_url, b.tokens["GBR"])
        fed = b.node.federation()
        fed.peers.add("GBR", url, a.tokens["USA"])
        peer = fed.peers.get("GBR")
        puller = Puller(b.node.db, b.node.clock, b.node.intake, b.node.info, page=50)
        collecting: list[bool] = []  # whether the cyclic collector ran while each page was stored
        hook = b.node.intake.on_stored
        assert hook is not None

        def watch(conn: object, stored: object) -> None:
            collecting.append(gc.isenabled())
            hook(conn, stored)

        b.node.intake.on_stored = watch
        with pytest.raises(Exception, match="failed"):
            puller.pull(peer)
        assert gc.isenabled()  # resumed though the pull failed
        assert inbox_count(b, "GBR") == 100  # the two committed pages, and only them
        with b.node.db.read() as conn:
            [cursor] = sync_store.cursors(conn, "GBR").values()
        assert cursor.next is not None  # mid-crawl: resumes at the third page
        proxy.cutting = False
        report = puller.pull(peer)
        assert collecting and not any(collecting) and gc.isenabled()  # paused per page, on between pages
        assert report.rejected == 0, report.rejections[:3]
        assert report.duplicates == 0
        assert report.objects == len(want) - 100
        assert inbox_versions(b, "GBR") == want
        assert inbox_count(b, "GBR") == len(want)
        # nothing new: an empty incremental pull
        again = puller.pull(peer)
        assert again.objects == 0 and again.duplicates == 0
        # new reporting at the peer comes with the next pull, and only it
        add_reporting(a, build_scenario(seed=98, now=a.node.clock.now(), size=500), 60)
        _send_definitions(a, b_url, b.tokens["GBR"])
        more = puller.pull(peer)
        assert more.duplicates == 0
        assert more.objects == len(releasable(a, "USA") - want) > 0
    finally:
        proxy.stop()


def test_a_stopped_pull_ends_after_the_page_in_hand_and_the_next_goes_on(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    """The background sync's stop (SIGTERM on `serve`) ends a pull between pages, not after the
    whole crawl; the saved cursor carries the next pull on without loss or duplicates."""
    a, b = pair
    serve(a)
    b_url = serve(b)
    want = releasable(a, "USA")
    _send_definitions(a, b_url, b.tokens["GBR"])
    fed = b.node.federation()
    fed.peers.add("GBR", a.url, a.tokens["USA"])
    peer = fed.peers.get("GBR")
    stop = threading.Event()
    hook = b.node.intake.on_stored
    assert hook is not None

    def stop_after_storing(conn: object, stored: object) -> None:
        hook(conn, stored)
        stop.set()  # as if SIGTERM came while the first page was being stored

    b.node.intake.on_stored = stop_after_storing
    puller = Puller(b.node.db, b.node.clock, b.node.intake, b.node.info, page=50, stop=stop)
    first = puller.pull(peer)
    assert (first.pages, first.objects) == (1, 50)
    assert inbox_count(b, "GBR") == 50
    b.node.intake.on_stored = hook
    stop.clear()
    rest = puller.pull(peer)
    assert rest.duplicates == 0 and rest.objects == len(want) - 50
    assert inbox_versions(b, "GBR") == want


def test_a_stopped_push_ends_after_the_batch_in_hand_and_the_next_sends_the_rest(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    """The background sync's stop ends a push between batches, not after every batch; what was not
    posted stays unconfirmed, so the next push sends exactly that."""
    a, b = pair
    serve(b)
    fed = a.node.federation()
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    peer = fed.peers.get("USA")
    want = releasable(a, "USA")
    assert len(want) > 100
    stop = threading.Event()
    pusher = Pusher(a.node.db, a.node.clock, a.node.decisions, a.node.release, batch=50, stop=stop)
    post = pusher._post

    def stop_after_posting(*args: object, **kwargs: object) -> None:
        post(*args, **kwargs)  # type: ignore[arg-type]
        stop.set()  # as if SIGTERM came while the first batch was being posted

    pusher._post = stop_after_posting  # type: ignore[method-assign]
    first = pusher.push(peer)
    assert (first.pages, first.objects) == (1, 50)
    assert inbox_count(b, "GBR") == 50
    pusher._post = post  # type: ignore[method-assign]
    stop.clear()
    rest = pusher.push(peer)
    assert rest.objects == len(want) - 50 and rest.rejected == 0
    assert inbox_versions(b, "GBR") == want
    assert inbox_count(b, "GBR") == len(want)  # nothing sent twice


def _send_definitions(a: Member, url: str, token: str) -> None:
    """The peer posts its marking definitions to its inbox at B (what its pushes carry), so a pull
    can read the labels of its pages (Get Objects carries objects, not the definitions they use)."""
    defs: dict[str, object] = {}
    n = a.node
    for o in Pusher(n.db, n.clock, n.decisions, n.release).releasable("USA"):
        for d in o.definitions:
            defs.setdefault(d.id, orjson.loads(d.body))

    headers = {"Accept": TAXII, "Content-Type": TAXII, "Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers) as c:
        root = c.get(url).json()["default"]
        inbox = next(x for x in c.get(root + "collections/").json()["collections"] if x["can_write"])
        r = c.post(f"{root}collections/{inbox['id']}/objects/", content=orjson.dumps({"objects": list(defs.values())}))
        assert r.status_code == 202 and r.json()["failure_count"] == 0


def test_failing_peers_are_reported_backed_off_and_do_not_stop_the_others(
    pair: tuple[Member, Member], serve: Callable[[Member], str], bad_server: Callable[[int, bytes], str]
) -> None:
    a, b = pair
    serve(b)
    fed = a.node.federation()
    fed.peers.add("CAN", bad_server(500, b'{"title": "boom"}'), "t1")
    fed.peers.add("AUS", bad_server(200, b"<html>not taxii</html>"), "t2")
    fed.peers.add("NZL", bad_server(200, b'{"api_roots": 7}'), "t3")
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    reports = {r.peer: r for r in fed.run("push")}
    assert "http 500" in str(reports["CAN"].error)
    assert "not json" in str(reports["AUS"].error).lower()
    assert "no api root" in str(reports["NZL"].error)
    assert reports["USA"].error is None and reports["USA"].objects == len(releasable(a, "USA")) > 0
    health = {(h.peer, h.direction): h for h in fed.health()}
    assert health[("CAN", "push")].failures == 1 and health[("USA", "push")].failures == 0
    # backed off: not tried again at once, and reported as skipped
    again = {r.peer: r for r in fed.run("push", respect_backoff=True)}
    assert again["CAN"].skipped and again["AUS"].skipped and not again["USA"].skipped
    pulled = {r.peer: r for r in fed.run("pull")}
    assert pulled["CAN"].error and pulled["USA"].error is None


def test_peer_token_is_sealed_and_peers_must_be_partners(pair: tuple[Member, Member]) -> None:
    from tearline.errors import NotFound

    a, _ = pair
    fed = a.node.federation()
    fed.peers.add("USA", "http://127.0.0.1:9/taxii2/", "tl_secret-token-value")
    [row] = fed.peers.rows()
    assert row.code == "USA"
    db_file = a.node.settings.data / "tearline.db"
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob("tearline.db*"))
    if a.node.db.is_sqlite:
        assert b"tl_secret-token-value" not in raw
    assert fed.peers.get("USA").token == "tl_secret-token-value"
    # a data-key rotation re-seals the token with the identities: it stays readable
    a.node.vault.rotate_data_key()
    assert a.node.federation().peers.get("USA").token == "tl_secret-token-value"
    with pytest.raises(NotFound):
        fed.peers.add("FRA", "http://127.0.0.1:9/taxii2/", "x")


def test_reciprocity_counts_received_and_released(pair: tuple[Member, Member], serve: Callable[[Member], str]) -> None:
    from tearline.services.reciprocity import reciprocity

    a, b = pair
    serve(b)
    fed = a.node.federation()
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    [report] = fed.run("push", "USA")
    flows = {f.partner: f for f in reciprocity(a.node.db)}
    assert flows["USA"].released == report.objects and flows["USA"].received == 0
    flows_b = {f.partner: f for f in reciprocity(b.node.db)}
    assert flows_b["GBR"].received == report.objects and flows_b["GBR"].balance == report.objects
    assert sum(v[0] for v in flows_b["GBR"].by_month.values()) == report.objects


@pytest.mark.slow
@pytest.mark.federation_demo
def test_network_demo(tmp_path: Path) -> None:
    from tearline.demo.network import SCALERS, TARGET, run_network

    result = run_network(tmp_path / "net", Console(file=io.StringIO(), width=160))
    assert result.ok, result.problems
    assert result.seconds < 120
    assert all(result.topic_after[s][TARGET] == 0 for s in SCALERS)
    assert result.topic_after["NZL"][TARGET] > 0


def test_a_peer_whose_token_cannot_be_read_is_backed_off_and_the_others_go_on(
    pair: tuple[Member, Member], serve: Callable[[Member], str]
) -> None:
    a, b = pair
    serve(b)
    fed = a.node.federation()
    fed.peers.add("CAN", "http://127.0.0.1:9/taxii2/", "t1")
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    with a.node.db.write() as conn:
        a.node.vault.delete_secret(conn, "peer:CAN", "token")
    reports = {r.peer: r for r in fed.run("push")}
    assert "has no token" in str(reports["CAN"].error) and reports["CAN"].next_try_us
    assert reports["USA"].error is None and reports["USA"].objects > 0
    health = {(h.peer, h.direction): h for h in fed.health()}
    assert health[("CAN", "push")].failures == 1
    again = {r.peer: r for r in fed.run("push", respect_backoff=True)}
    assert again["CAN"].skipped and not again["USA"].skipped
