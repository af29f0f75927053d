"""The one door out, walked from the routes: every route of the served app is either an egress route
(it returns object or marking-definition bytes) or says why it is not; each egress route is driven
here for several partners, and every object and definition byte it returned is an outcome of the
release pipeline for that partner and is recorded in the ledger. Export (objects and the
definitions it carries) is held to the same; a preview (an operator's view, nothing sent to a
partner) must be pipeline bytes, and is not recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from rich.console import Console
from starlette.routing import BaseRoute, Mount, Route

from tearline.asgi import build_app
from tearline.bootstrap import open_node
from tearline.canonical import dumps_ordered
from tearline.demo.run import run_demo
from tearline.settings import Settings
from tearline.store.ledger import iter_leaves

TAXII = "application/taxii+json;version=2.1"
OBJECTS = "/api/collections/{collection_id}/objects/"
OBJECT = "/api/collections/{collection_id}/objects/{object_id}/"
EGRESS = {OBJECTS, OBJECT}  # routes whose answers carry object or definition bytes
NOT_EGRESS = {
    "/readyz": "readiness: database and migration check outcomes, nothing from the store",
    "/metrics": "request counters and latencies by route template; loopback callers only",
    "/healthz": "liveness: the constant text `ok`, nothing from the store",
    "/taxii2/": "discovery: the node's name and API root",
    "/api/": "API root information",
    "/api/status/{status_id}/": "the status of the partner's own Add Objects request",
    "/api/collections/": "the collections the partner may read",
    "/api/collections/{collection_id}/": "one collection's resource",
    "/api/collections/{collection_id}/manifest/": "ids, versions and dates of released versions, no bytes",
    "/api/collections/{collection_id}/objects/{object_id}/versions/": "version timestamps of released versions",
    "/ledger/v1/head": "the signed tree head: hashes",
    "/ledger/v1/proof/inclusion": "proof hashes of the partner's own leaves",
    "/ledger/v1/proof/consistency": "proof hashes",
    "/ledger/v1/leaves": "the partner's own ledger leaves",
    "/psi/v1/query": "PSI answer: values drawn only from the pipeline's release bytes for the partner "
                     "(record=False), sent blinded under a per-query key; each session a `psi` ledger leaf",
    "/ui/": "operator pages behind a login: nothing reaches a partner",
    "/ui/login": "operator login",
    "/ui/logout": "operator logout",
    "/ui/partners/{code}": "operator page: profile history and what-if",
    "/ui/partners/{code}/apply": "operator action: a profile version",
    "/ui/partners/{code}/restore": "operator action: a profile version",
    "/ui/items": "operator search",
    "/ui/items/{stix_id:path}": "operator page: previews (pipeline bytes, not recorded; see below)",
    "/ui/ledger": "operator ledger explorer",
    "/ui/ledger/api/head": "operator ledger explorer",
    "/ui/ledger/api/proof/inclusion": "operator ledger explorer",
    "/ui/ledger/api/proof/consistency": "operator ledger explorer",
    "/ui/ledger/api/leaves": "operator ledger explorer",
    "/ui/vault": "operator page: source summaries, never identities",
    "/ui/trace": "operator page (officer role): scores of a leak the operator brings; no stored body leaves",
    "/ui/static": "stylesheets and scripts",
}
PARTNERS = ["USA", "JPN", "DEU"]


def _paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for r in routes:
        if isinstance(r, Route):
            yield prefix + r.path
        elif isinstance(r, Mount):
            inner = list(getattr(r, "routes", []) or [])
            if inner:
                yield from _paths(inner, prefix + r.path)
            else:
                yield prefix + r.path


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings(data=Path(tmp_path_factory.mktemp("egress")) / "node")
    run_demo(settings, Console(file=io.StringIO()), size=600)
    n = open_node(settings)
    yield n
    n.close()


def test_every_egress_route_goes_through_the_pipeline_and_the_ledger(node) -> None:  # type: ignore[no-untyped-def]
    produced: dict[str, set[bytes]] = defaultdict(set)
    release, definition = node.release.release, node.release.definition

    def recording(partner, versions, **kw):  # type: ignore[no-untyped-def]
        outcomes = release(partner, versions, **kw)
        for o in outcomes:
            if o.body is not None:
                produced[partner].add(o.body)
                produced[partner].update(d.body for d in o.definitions)
        return outcomes

    def recording_definition(partner, definition_id, **kw):  # type: ignore[no-untyped-def]
        body = definition(partner, definition_id, **kw)
        if body is not None:
            produced[partner].add(body)
        return body

    # instrumentation of the real pipeline (every caller reaches it through these attributes)
    node.release.release = recording
    node.release.definition = recording_definition
    app = build_app(node)
    paths = set(_paths(app.routes))
    unclassified = paths - EGRESS - NOT_EGRESS.keys()
    assert not unclassified, f"routes neither egress nor explained: {sorted(unclassified)}"
    assert paths >= EGRESS
    emitted: dict[tuple[str, str], list[bytes]] = defaultdict(list)  # (phase, partner): what was sent
    produced_at: dict[str, dict[str, set[bytes]]] = {}
    recorded_at: dict[str, dict[str, set[str]]] = {}
    driven: dict[str, int] = defaultdict(int)
    tokens = {p: node.trust.rotate_token(p) for p in PARTNERS}
    try:
        asyncio.run(_walk(app, tokens, emitted, driven))
        produced_at["taxii"] = {p: set(v) for p, v in produced.items()}  # each phase checked on its own
        recorded_at["taxii"] = _recorded(node)
        for p in PARTNERS:
            buf = io.BytesIO()
            node.exporter().export(p, buf)
            for o in orjson.loads(buf.getvalue())["objects"]:
                emitted[("export", p)].append(dumps_ordered(o))
                driven["export"] += 1
        produced_at["export"] = {p: set(v) for p, v in produced.items()}
        recorded_at["export"] = _recorded(node)
        previews = []
        for p in PARTNERS:
            some = next((b for b in sorted(produced[p]) if orjson.loads(b)["type"] != "marking-definition"), None)
            assert some is not None
            preview = node.insight.preview(p, orjson.loads(some)["id"])
            if preview.body is not None:
                previews.append((p, preview.body))
    finally:
        node.release.release, node.release.definition = release, definition
    assert driven[OBJECTS] > 100 and driven[OBJECT] > 20 and driven["definitions"] > 0 and driven["export"] > 100
    assert previews
    for p, body in previews:
        assert body in produced[p], f"a preview for {p} was not made by the pipeline"
    for phase in ("taxii", "export"):
        for p in PARTNERS:
            sent, made, kept = emitted[(phase, p)], produced_at[phase][p], recorded_at[phase][p]
            stray = [b for b in sent if b not in made]
            assert not stray, f"{len(stray)} reached {p} by {phase} without the pipeline: {stray[0][:120]!r}"
            unrecorded = [b for b in sent if hashlib.sha256(b).hexdigest() not in kept]
            assert not unrecorded, f"{len(unrecorded)} reached {p} by {phase} unrecorded: {unrecorded[0][:120]!r}"


def _recorded(node: Any) -> dict[str, set[str]]:
    """sha256 of every release leaf in the ledger, by partner."""
    out: dict[str, set[str]] = defaultdict(set)
    with node.db.read() as conn:
        for leaf in iter_leaves(conn):
            if leaf.kind == "release" and leaf.partner:
                out[leaf.partner].add(orjson.loads(leaf.leaf)["sha256"])
    return out


async def _walk(app: Any, tokens: dict[str, str], emitted: dict[tuple[str, str], list[bytes]],
                driven: dict[str, int]) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tearline.test") as client:
        for p, token in tokens.items():
            h = {"Accept": TAXII, "Authorization": f"Bearer {token}"}
            colls = (await client.get("/api/collections/", headers=h)).json()["collections"]
            for c in colls:
                base = f"/api/collections/{c['id']}"
                url, ids, refs = f"{base}/objects/?limit=50&match[version]=all", set(), set()
                while url:
                    r = await client.get(url, headers=h)
                    assert r.status_code == 200
                    env = r.json()
                    for o in env.get("objects", []):
                        emitted[("taxii", p)].append(dumps_ordered(o))
                        ids.add(o["id"])
                        refs.update(o.get("object_marking_refs", []))
                        driven[OBJECTS] += 1
                    url = f"{base}/objects/?limit=50&match[version]=all&next={env['next']}" if env.get("more") else ""
                for i in sorted(ids)[:40]:
                    for o in (await client.get(f"{base}/objects/{i}/", headers=h)).json().get("objects", []):
                        emitted[("taxii", p)].append(dumps_ordered(o))
                        driven[OBJECT] += 1
                for ref in sorted(refs - ids):  # the node's own definitions, fetched by id
                    r = await client.get(f"{base}/objects/{ref}/", headers=h)
                    assert r.status_code == 200, ref
                    for o in r.json()["objects"]:
                        emitted[("taxii", p)].append(dumps_ordered(o))
                        driven["definitions"] += 1
