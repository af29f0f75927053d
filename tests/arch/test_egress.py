"""The one door out, walked: every object a partner receives over every egress route (TAXII objects,
object by id, versions; export; preview) is byte for byte an outcome of the release pipeline for
that partner."""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from pathlib import Path

import httpx
import orjson
import pytest
from rich.console import Console

from tearline.asgi import build_app
from tearline.bootstrap import open_node
from tearline.canonical import dumps
from tearline.demo.run import run_demo
from tearline.settings import Settings

TAXII = "application/taxii+json;version=2.1"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings(data=Path(tmp_path_factory.mktemp("egress")) / "node")
    run_demo(settings, Console(file=io.StringIO()), size=600)
    n = open_node(settings)
    yield n
    n.close()


def test_every_egress_route_goes_through_the_pipeline(node) -> None:  # type: ignore[no-untyped-def]
    produced: dict[str, set[bytes]] = defaultdict(set)
    original = node.release.release

    def recording(partner, rows, **kw):  # type: ignore[no-untyped-def]
        outcomes = original(partner, rows, **kw)
        produced[partner].update(o.body for o in outcomes if o.body is not None)
        return outcomes

    node.release.release = recording  # instrumentation of the real pipeline, not a stand-in
    emitted: dict[str, list[bytes]] = defaultdict(list)
    partners = ["USA", "JPN", "DEU"]
    tokens = {p: node.trust.rotate_token(p) for p in partners}
    asyncio.run(_walk(node, partners, tokens, emitted, produced))
    node.release.release = original
    assert sum(len(v) for v in emitted.values()) > 100
    for p in partners:
        stray = [b for b in emitted[p] if b not in produced[p]]
        assert not stray, f"{len(stray)} objects reached {p} without the release pipeline"


async def _walk(node, partners, tokens, emitted, produced) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=build_app(node))
    async with httpx.AsyncClient(transport=transport, base_url="http://tearline.test") as client:
        for p in partners:
            h = {"Accept": TAXII, "Authorization": f"Bearer {tokens[p]}"}
            colls = (await client.get("/api/collections/", headers=h)).json()["collections"]
            for c in colls:
                base = f"/api/collections/{c['id']}"
                url, ids = f"{base}/objects/?limit=50&match[version]=all", set()
                while url:
                    r = await client.get(url, headers=h)
                    assert r.status_code == 200
                    env = r.json()
                    for o in env.get("objects", []):
                        emitted[p].append(dumps(o))
                        ids.add(o["id"])
                    url = f"{base}/objects/?limit=50&match[version]=all&next={env['next']}" if env.get("more") else ""
                for i in sorted(ids)[:40]:
                    for o in (await client.get(f"{base}/objects/{i}/", headers=h)).json().get("objects", []):
                        emitted[p].append(dumps(o))
                    assert (await client.get(f"{base}/objects/{i}/versions/", headers=h)).status_code == 200
            buf = io.BytesIO()
            node.exporter().export(p, buf)
            for o in orjson.loads(buf.getvalue())["objects"]:
                if o["type"] != "marking-definition":
                    emitted[p].append(dumps(o))
            some = next(iter(produced[p]), None)
            if some is not None:
                preview = node.insight.preview(p, orjson.loads(some)["id"])
                if preview.body is not None:
                    emitted[p].append(preview.body)
