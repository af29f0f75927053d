"""Interop: the OASIS `taxii2-client` drives every endpoint of a real server, and a partner's
"last version" is the last one it may see (a newer withheld version leaves no trace)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from tests.web.support import Live, rotate_tokens

from tearline.bootstrap import create_node
from tearline.clock import SystemClock
from tearline.model.labeltext import parse_label
from tearline.services.trust import ProfileChange
from tearline.settings import Settings

GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
TWO_VERSIONS = "indicator--6b1f6a5e-0d44-4f55-9a0e-3c1d2f1b7e11"


def indicator(i: int, modified: str = "2026-01-01T00:00:00.000Z", marking: str = GREEN) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": TWO_VERSIONS if i < 0 else f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, str(i))}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"indicator {i}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{i % 250}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": [marking],
    }


@pytest.fixture(scope="module")
def small_live(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    from tearline.asgi import taxii_app

    settings = Settings(data=Path(tmp_path_factory.mktemp("small")) / "node")
    node, _ = create_node(settings, code="GBR", name="small", clock=SystemClock())
    for code in ("USA", "CAN"):
        node.trust.add_partner(code, code, ProfileChange(tlp_ceiling="AMBER"))
    objs = [indicator(i) for i in range(230)]
    objs.append(indicator(-1, "2026-01-01T00:00:00.000Z", GREEN))
    objs.append(indicator(-1, "2026-02-01T00:00:00.000Z", RED))  # newer, above every partner's ceiling
    bundle = settings.data / "bundle.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs}))
    node.intake.ingest_paths([str(bundle)], default=parse_label("UNCLASSIFIED//TLP:CLEAR"))
    tokens = rotate_tokens(node)
    app = taxii_app(node)
    yield Live(serve_app(app), app, node, tokens)
    node.close()


def server(live: Live, partner: str) -> Server:
    return Server(f"{live.url}/taxii2/", user=partner, password=live.tokens[partner])


def shared(live: Live, partner: str) -> Collection:
    root: ApiRoot = server(live, partner).default
    return next(c for c in root.collections if c.alias == "shared")


def test_discovery_api_root_collections(small_live: Live) -> None:
    srv = server(small_live, "USA")
    assert srv.title.startswith("tearline")
    root = srv.default
    assert root is not None and root.url == f"{small_live.url}/api/"
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length > 0
    aliases = {c.alias: c for c in root.collections}
    assert set(aliases) == {"shared", "inbox-usa"}
    assert aliases["shared"].can_read and not aliases["shared"].can_write
    assert aliases["inbox-usa"].can_read and aliases["inbox-usa"].can_write


def test_paged_objects_and_manifest(small_live: Live) -> None:
    coll = shared(small_live, "USA")
    pages = list(as_pages(coll.get_objects, per_request=50))
    assert [len(p.get("objects", [])) for p in pages] == [50, 50, 50, 50, 31]
    ids = [o["id"] for p in pages for o in p["objects"]]
    assert len(ids) == len(set(ids)) == 231
    manifest = [m for p in as_pages(coll.get_manifest, per_request=100) for m in p["objects"]]
    assert [m["id"] for m in manifest] == ids
    typed = coll.get_objects(type="indicator", id=ids[:3])
    assert sorted(o["id"] for o in typed["objects"]) == sorted(ids[:3])
    assert coll.get_objects(type="malware").get("objects", []) == []


def test_last_version_is_last_visible(small_live: Live) -> None:
    coll = shared(small_live, "USA")
    obj = coll.get_object(TWO_VERSIONS)["objects"]
    assert [o["modified"] for o in obj] == ["2026-01-01T00:00:00.000Z"]
    versions = coll.object_versions(TWO_VERSIONS)
    assert versions["versions"] == ["2026-01-01T00:00:00.000Z"]
    for which in ("last", "first", "all"):
        listed = [m for m in coll.get_manifest(version=which)["objects"] if m["id"] == TWO_VERSIONS]
        assert [m["version"] for m in listed] == ["2026-01-01T00:00:00.000Z"]
    newer = coll.get_object(TWO_VERSIONS, version="2026-02-01T00:00:00.000Z")
    never = coll.get_object(TWO_VERSIONS, version="2026-03-01T00:00:00.000Z")
    assert newer == never == {"more": False, "objects": []}


def test_post_status_and_delete_round_trip(small_live: Live) -> None:
    usa_root = server(small_live, "USA").default
    inbox = next(c for c in usa_root.collections if c.alias == "inbox-usa")
    mine = [indicator(1000 + i, marking=RED) for i in range(3)]  # their own: visible whatever its marking
    bad = {"type": "indicator", "id": "indicator--not-a-uuid"}
    status = inbox.add_objects({"objects": [mine[0], bad, mine[1], "not an object", mine[2]]})
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count, status.pending_count) == (5, 3, 2, 0)
    assert {s["id"] for s in status.successes} == {o["id"] for o in mine}
    # each failure names its object, in the envelope's order
    assert [(f["id"], f["message"].split(":")[0]) for f in status.failures] == [
        ("indicator--not-a-uuid", "envelope object #1 (indicator--not-a-uuid)"), ("", "not a JSON object")
    ]
    again = usa_root.get_status(status.id)
    assert again.success_count == 3
    got = inbox.get_objects()["objects"]
    assert sorted(o["id"] for o in got) == sorted(o["id"] for o in mine)
    assert all(o["name"].startswith("indicator 10") for o in got)
    # CAN cannot see the inbox, nor read USA's status
    can_root = server(small_live, "CAN").default
    assert "inbox-usa" not in {c.alias for c in can_root.collections}
    with pytest.raises(requests.HTTPError, match="404"):
        can_root.get_status(status.id)
    # delete: only the owner, only from its inbox
    inbox.delete_object(mine[0]["id"])
    assert sorted(o["id"] for o in inbox.get_objects()["objects"]) == sorted(o["id"] for o in mine[1:])
    with pytest.raises(requests.HTTPError, match="403"):
        shared(small_live, "USA")._conn.delete(  # the client refuses on can_write=False; ask directly
            shared(small_live, "USA").objects_url + TWO_VERSIONS + "/",
            headers={"Accept": "application/taxii+json;version=2.1"},
        )


def test_marking_definitions_of_received_objects_can_be_fetched(demo_live) -> None:  # type: ignore[no-untyped-def]
    """Every marking a partner's objects reference resolves through Get An Object."""
    with demo_live.client("USA") as c:
        env = c.get("/api/collections/shared/objects/?limit=60").json()
        refs = {r for o in env["objects"] for r in o.get("object_marking_refs", [])}
        assert refs
        for ref in refs:
            r = c.get(f"/api/collections/shared/objects/{ref}/")
            assert r.status_code == 200, ref
            assert r.json()["objects"][0]["id"] == ref
        unknown = c.get("/api/collections/shared/objects/marking-definition--00000000-0000-4000-8000-000000000000/")
        assert unknown.status_code == 404
