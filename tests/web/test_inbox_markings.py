"""Add Objects resolves marking references against what the node already holds, as the OASIS
`taxii2-client` sees it: ATT&CK ICS 16.1 posted with its `statement` marking definition, then 17.1
and 18.1 without it (it was sent once); every version arrives, and `last`, `first`, `all`, the
versions list and the manifest agree with the raw files. A truly unknown definition is refused per
object with how to mend it, and nothing else in the envelope is lost."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taxii2client.v21 import Collection, Server, as_pages

from tearline.bootstrap import Node, create_node
from tearline.clock import SystemClock
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store.objects import counts

ATTACK = Path(__file__).resolve().parents[3] / "shared" / "data" / "attack"
RELEASES = ("16.1", "17.1", "18.1")
STATEMENT = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"


def _version(obj: dict[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created"))


def _bundles() -> list[list[dict[str, Any]]]:
    files = [ATTACK / f"ics-attack-{r}.json" for r in RELEASES]
    if not all(f.is_file() for f in files):
        pytest.skip(f"ATT&CK ICS bundles not found at {ATTACK}")
    return [json.loads(f.read_text("utf-8"))["objects"] for f in files]


@pytest.fixture(scope="module")
def inbox_node(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator[tuple[Node, str, str]]:  # type: ignore[no-untyped-def]
    from tearline.asgi import taxii_app

    settings = Settings(data=Path(tmp_path_factory.mktemp("inbox")) / "node")
    node, _ = create_node(settings, code="GBR", name="inbox", clock=SystemClock())
    _, token = node.trust.add_partner("USA", "USA", ProfileChange())
    url = serve_app(taxii_app(node))
    yield node, url, token
    node.close()


def _inbox(url: str, token: str) -> Collection:
    root = Server(f"{url}/taxii2/", user="USA", password=token).default
    assert root is not None
    return next(c for c in root.collections if c.alias == "inbox-usa")


def _all(collection: Collection, fetch: str, **filters: str) -> list[dict[str, Any]]:
    method = collection.get_objects if fetch == "objects" else collection.get_manifest
    return [o for page in as_pages(method, per_request=500, **filters) for o in page.get("objects", [])]


def test_definitions_sent_once_resolve_for_later_envelopes(inbox_node: tuple[Node, str, str]) -> None:
    node, url, token = inbox_node
    bundles = _bundles()
    inbox = _inbox(url, token)
    for n, objs in enumerate(bundles):
        sent = objs if n == 0 else [o for o in objs if o["id"] != STATEMENT]
        assert n == 0 or all(STATEMENT in o["object_marking_refs"] for o in sent if "object_marking_refs" in o)
        status = inbox.add_objects({"objects": sent})
        assert status.status == "complete"
        assert (status.failure_count, status.success_count) == (0, len(sent)), status.failures[:3]

    expected: dict[str, set[str]] = {}
    for objs in bundles:
        for o in objs:
            expected.setdefault(o["id"], set()).add(_version(o))

    # default: the last version of every id, the 18.1 ones
    last = {o["id"]: _version(o) for o in _all(inbox, "objects")}
    assert last == {i: max(v) for i, v in expected.items()}
    first = {o["id"]: _version(o) for o in _all(inbox, "objects", version="first")}
    assert first == {i: min(v) for i, v in expected.items()}
    every = sorted((o["id"], _version(o)) for o in _all(inbox, "objects", version="all"))
    assert every == sorted((i, v) for i, vs in expected.items() for v in vs)
    manifest = sorted((m["id"], m["version"]) for m in _all(inbox, "manifest", version="all"))
    assert manifest == every

    three = sorted(i for i, v in expected.items() if len(v) == 3)
    assert len(three) >= 10
    for stix_id in three[:10]:
        assert inbox.object_versions(stix_id)["versions"] == sorted(expected[stix_id])

    # every object read back still cites the statement, and its definition is served
    read = [o for o in _all(inbox, "objects") if o["type"] != "marking-definition"]
    assert read and all(STATEMENT in o["object_marking_refs"] for o in read)
    assert inbox.get_object(STATEMENT)["objects"][0]["definition_type"] == "statement"

    # re-posting the same version adds nothing
    with node.db.read() as conn:
        before = counts(conn)
    again = inbox.add_objects({"objects": [o for o in bundles[2] if o["id"] != STATEMENT]})
    assert again.failure_count == 0
    with node.db.read() as conn:
        assert counts(conn) == before


def test_an_unknown_definition_is_refused_with_the_mend_and_the_rest_is_kept(
    inbox_node: tuple[Node, str, str],
) -> None:
    node, url, token = inbox_node
    unknown = f"marking-definition--{uuid.uuid4()}"

    def indicator(n: int, refs: list[str]) -> dict[str, Any]:
        return {
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": f"probe {n}", "pattern": f"[ipv4-addr:value = '203.0.113.{n}']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": refs,
        }

    green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"  # TLP 2.0, the node's own
    good = [indicator(1, [STATEMENT]), indicator(2, []), indicator(3, [green])]
    bad = indicator(4, [STATEMENT, unknown])
    granular = {**indicator(5, []), "granular_markings": [{"marking_ref": unknown, "selectors": ["name"]}]}
    status = _inbox(url, token).add_objects({"objects": [good[0], bad, good[1], granular, good[2]]})
    assert (status.success_count, status.failure_count) == (3, 2)
    assert {s["id"] for s in status.successes} == {o["id"] for o in good}
    assert [f["id"] for f in status.failures] == [bad["id"], granular["id"]]
    for f in status.failures:
        assert f["message"] == (f"unknown marking definition `{unknown}`: post the definition first, "
                                "or in the same envelope")
    with node.db.read() as conn:
        stored = {str(sid) for (sid,) in conn.exec_driver_sql("SELECT stix_id FROM objects")}
    assert {o["id"] for o in good} <= stored
    assert bad["id"] not in stored and granular["id"] not in stored
