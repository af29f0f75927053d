"""Protected terms never leave: a term planted in any string field, disguised every way the gate
must see through, is received by no partner over TAXII, export or preview; the same object
without the term is released. End to end over a real node (SQLite), through the served app."""

from __future__ import annotations

import asyncio
import io
import itertools
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import LETTERS, disguise

from tearline.asgi import build_app
from tearline.bootstrap import create_node
from tearline.canonical import dumps
from tearline.crypto.sealing import write_kek_file
from tearline.model.labeltext import parse_label
from tearline.model.markings import MarkedItem
from tearline.model.sources import Grade, SourceIdentity
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store import nodes

TAXII = "application/taxii+json;version=2.1"
PARTNERS = ("USA", "NZL")
# whole words that occur in every object and in the markings the release adds
FIXED = {"created", "description", "id", "modified", "name", "object", "refs", "published", "spec", "version",
         "type", "report", "marking", "definition", "external", "references", "source", "x_qq", "stix"}
WORD = st.text(alphabet=LETTERS, min_size=3, max_size=8).filter(
    lambda w: w not in FIXED and not set(w) <= set("abcdef")
)
TERMS = st.lists(WORD, min_size=1, max_size=2).map(" ".join)
PLACES = ("name", "description", "external", "nested")
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = Path(tmp_path_factory.mktemp("gate"))
    write_kek_file(tmp / "v.kek")
    node, _ = create_node(Settings(data=tmp / "node", kek_file=str(tmp / "v.kek")), code="GBR")
    tokens = {}
    for code in PARTNERS:
        _, tokens[code] = node.trust.add_partner(code, code, ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    with node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    assert shared is not None
    yield node, shared.id, tokens, build_app(node)
    node.close()


def _report(n: int, place: str, text: str) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "report", "spec_version": "2.1", "id": f"report--00000000-0000-4000-8000-{n:012d}",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "published": "2024-01-01T00:00:00.000Z", "name": "weekly", "description": "summary",
        "object_refs": [f"report--00000000-0000-4000-8000-{n:012d}"],
    }
    if place == "external":
        obj["external_references"] = [{"source_name": "internal", "description": f"seen {text} here"}]
    elif place == "nested":
        obj["x_qq"] = {"qq": [1, {"qqq": f"{text}"}]}
    else:
        obj[place] = f"from {text}, today"
    return obj


async def _taxii(app, token: str, stix_id: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    h = {"Accept": TAXII, "Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        got = []
        for path in (f"/api/collections/shared/objects/{stix_id}/", "/api/collections/shared/objects/?limit=1000"):
            r = await c.get(path, headers=h)
            assert r.status_code in (200, 404)
            got += [dumps(o) for o in (r.json().get("objects", []) if r.status_code == 200 else [])]
        return got


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(term=TERMS, place=st.sampled_from(PLACES), data=st.data())
def test_planted_terms_never_leave_and_clean_objects_do(served, term: str, place: str,  # type: ignore[no-untyped-def]
                                                        data: st.DataObject) -> None:
    node, shared, tokens, app = served
    n = next(_ids)
    node.vault.add_source(f"K{n}", SourceIdentity(name=f"Person {n} Qq", terms=(term,)), grade=Grade.parse("B2"))
    disguised = data.draw(disguise(term))
    dirty, clean = _report(2 * n, place, disguised), _report(2 * n + 1, place, "nothing")
    label = MarkedItem(parse_label("UNCLASSIFIED//TLP:GREEN"))
    node.intake.store([Prepared(dirty, label), Prepared(clean, label)], collection_id=shared,
                      added=node.clock.now(), summary=IngestSummary())
    for code in PARTNERS:
        served_now = asyncio.run(_taxii(app, tokens[code], str(dirty["id"])))
        buf = io.BytesIO()
        node.exporter().export(code, buf)
        exported = [dumps(o) for o in orjson.loads(buf.getvalue())["objects"]]
        preview = node.insight.preview(code, str(dirty["id"]))
        assert preview.body is None
        for body in served_now + exported:
            assert orjson.loads(body)["id"] != dirty["id"], f"{code} received the planted term at {place}"
        clean_seen = [b for b in exported if orjson.loads(b)["id"] == clean["id"]]
        assert clean_seen and node.insight.preview(code, str(clean["id"])).body is not None


def test_a_gate_hit_inside_a_marking_definition_withholds_it(tmp_path: Path) -> None:
    """A label's definition spells its topics: when a topic is also a protected term, the definition
    is withheld by id (and alerted), and so is every object that would leave with it, while the
    same object under a clean label is released."""
    write_kek_file(tmp_path / "v.kek")
    node, _ = create_node(Settings(data=tmp_path / "node", kek_file=str(tmp_path / "v.kek")), code="GBR")
    try:
        node.trust.add_partner("USA", "USA", ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
        with node.db.read() as conn:
            shared = nodes.find_collection(conn, "shared")
        assert shared is not None

        def report(n: int) -> dict[str, object]:
            return {"type": "report", "spec_version": "2.1", "id": f"report--00000000-0000-4000-8000-{n:012d}",
                    "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                    "published": "2024-01-01T00:00:00.000Z", "name": f"weekly {n}", "description": "clear",
                    "object_refs": [f"report--00000000-0000-4000-8000-{n:012d}"]}

        tainted = MarkedItem(parse_label("UNCLASSIFIED//TLP:GREEN//TOPICS kestrelwing"))
        clean = MarkedItem(parse_label("UNCLASSIFIED//TLP:GREEN//TOPICS ransomware"))
        node.intake.store([Prepared(report(1), tainted), Prepared(report(2), clean)], collection_id=shared.id,
                          added=node.clock.now(), summary=IngestSummary())
        first = {o.stix_id: o for o in node.release.release("USA", [1, 2], channel="preview", record=False)}
        assert all(o.body is not None for o in first.values())
        acs = next(d.id for d in first[report(1)["id"]].definitions if b"kestrelwing" in d.body)
        assert node.release.definition("USA", acs) is not None
        node.vault.add_source("KESTREL", SourceIdentity(name="Kestrelwing"), grade=Grade.parse("B2"))
        assert node.release.definition("USA", acs) is None  # by id over TAXII
        buf = io.BytesIO()
        node.exporter().export("USA", buf)
        ids = [o["id"] for o in orjson.loads(buf.getvalue())["objects"]]
        assert report(2)["id"] in ids and report(1)["id"] not in ids and acs not in ids
        assert b"kestrelwing" not in buf.getvalue().lower()
        with node.db.read() as conn:
            from tearline.store.releases import alerts

            assert acs in {a.stix_id for a in alerts(conn)}
    finally:
        node.close()
