"""Every object served over TAXII from the four ATT&CK bundles (all versions) is valid STIX 2.1 by
the OASIS validator (errors only: tearline's own marking-definition ids are UUIDv5, a warning)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stix2validator import ValidationOptions, validate_instance
from tests.data import attack_files
from tests.web.support import Live, rotate_tokens

from tearline.bootstrap import create_node
from tearline.clock import SystemClock
from tearline.model.labeltext import parse_label
from tearline.services.trust import ProfileChange
from tearline.settings import Settings


@pytest.fixture(scope="module")
def attack_live(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    from tearline.asgi import taxii_app

    files = attack_files()
    if not files:
        pytest.skip("ATT&CK bundles not found")
    settings = Settings(data=Path(tmp_path_factory.mktemp("attack")) / "node")
    node, _ = create_node(settings, code="GBR", name="attack", clock=SystemClock())
    node.trust.add_partner("USA", "USA", ProfileChange())
    summary = node.intake.ingest_paths([str(f) for f in files], default=parse_label("UNCLASSIFIED//TLP:CLEAR"))
    assert summary.new > 5000
    tokens = rotate_tokens(node)
    app = taxii_app(node)
    yield Live(serve_app(app), app, node, tokens)
    node.close()


@pytest.mark.slow
def test_every_served_object_validates(attack_live: Live) -> None:
    options = ValidationOptions(version="2.1")
    served = 0
    problems: list[str] = []
    with attack_live.client("USA") as c:
        query = {"limit": "1000", "match[version]": "all"}
        while True:
            r = c.get("/api/collections/shared/objects/", params=query)
            assert r.status_code == 200
            body = r.json()
            for obj in body.get("objects", []):
                served += 1
                result = validate_instance(obj, options)
                problems.extend(f"{obj['id']}: {e.message}" for e in result.errors)
            if not body["more"]:
                break
            query["next"] = body["next"]
        with attack_live.node.db.read() as conn:
            from tearline.store.objects import counts

            _, versions = counts(conn)
    assert served == versions
    assert problems == []


STATEMENT = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"


def test_taxii_and_export_keep_the_mitre_statement_marking(attack_live: Live) -> None:
    """ATT&CK objects cite MITRE's copyright statement; they leave with it next to the node's own
    TLP marking, and the statement's definition is served."""
    import io

    import orjson


    with attack_live.client("USA") as c:
        env = c.get("/api/collections/shared/objects/", params={"limit": "300", "match[type]": "attack-pattern"}).json()
        assert len(env["objects"]) > 200
        for obj in env["objects"]:
            assert STATEMENT in obj["object_marking_refs"], obj["id"]
            assert any(r != STATEMENT for r in obj["object_marking_refs"])  # the node's own TLP marking
        definition = c.get(f"/api/collections/shared/objects/{STATEMENT}/").json()["objects"]
        assert [d["definition_type"] for d in definition] == ["statement"]
        assert "MITRE" in definition[0]["definition"]["statement"]
    node = attack_live.node
    buf = io.BytesIO()
    node.exporter().export("USA", buf)
    bundle = orjson.loads(buf.getvalue())["objects"]
    patterns = [o for o in bundle if o["type"] == "attack-pattern"]
    assert patterns and all(STATEMENT in o["object_marking_refs"] for o in patterns)
    assert [o["id"] for o in bundle].count(STATEMENT) == 1
