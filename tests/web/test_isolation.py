"""Per-partner views over a real server on the demo scenario: every partner sees exactly what the
policy and the release pipeline release to it, through every endpoint, and a withheld object
answers exactly like one that never existed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.web.support import Live

from tearline.store.schema import objects

RANDOM_ID = "indicator--3f1c2b9e-7a51-4d0e-9a55-2b9f7c1e0d42"


def crawl(client: httpx.Client, path: str, key: str, **params: str) -> list[Any]:
    """Every item of a paged listing, following `next` (limit 37 to cross many page edges)."""
    items: list[Any] = []
    query: dict[str, str] = {"limit": "37", **params}
    for _ in range(10_000):
        r = client.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        got = body.get(key, [])
        items.extend(got)
        if got:
            assert r.headers["X-TAXII-Date-Added-First"] <= r.headers["X-TAXII-Date-Added-Last"]
        if not body["more"]:
            assert "next" not in body
            return items
        query = {**query, "next": body["next"]}
    raise AssertionError("the crawl did not end")


def expected(live: Live, partner: str, collection_id: str) -> tuple[dict[int, Any], dict[int, bytes]]:
    """Rows of the collection and the bytes the pipeline releases, checked against the view."""
    node = live.node
    with node.db.read() as conn:
        rows = list(conn.execute(select(objects).where(objects.c.collection_id == collection_id)))
    by_seq = {int(r.seq): r for r in rows}
    view_set = node.decisions.released_seqs(partner) & set(by_seq)
    outcomes = node.release.release(partner, rows, channel="taxii", record=False)
    piped = {o.seq: o.body for o in outcomes if o.body is not None}
    assert set(piped) <= view_set  # the pipeline never releases what the materialised view withholds
    return by_seq, {s: b for s, b in piped.items() if s in view_set}


def chosen(by_seq: dict[int, Any], released: dict[int, bytes], which: str) -> dict[tuple[str, str], int]:
    per_id: dict[str, list[Any]] = defaultdict(list)
    for seq in released:
        per_id[by_seq[seq].stix_id].append(by_seq[seq])
    out: dict[tuple[str, str], int] = {}
    for versions in per_id.values():
        ordered = sorted(versions, key=lambda r: (r.version_us, r.seq))
        picks = {"all": ordered, "last": ordered[-1:], "first": ordered[:1]}[which]
        out.update({(r.stix_id, r.version): int(r.seq) for r in picks})
    return out


@pytest.mark.parametrize("partner", ["USA", "CAN", "AUS", "NZL", "FRA", "DEU", "JPN"])
def test_partner_sees_exactly_its_release(demo_live: Live, partner: str) -> None:
    with demo_live.client(partner) as client:
        colls = client.get("/api/collections/").json()["collections"]
        assert {c["alias"] for c in colls} == {"shared", f"inbox-{partner.lower()}"}
        missing = client.get(f"/api/collections/shared/objects/{RANDOM_ID}/")
        missing_versions = client.get(f"/api/collections/shared/objects/{RANDOM_ID}/versions/")
        assert missing.status_code == missing_versions.status_code == 404
        for coll in colls:
            cid = coll["id"]
            by_seq, released = expected(demo_live, partner, cid)
            base = f"/api/collections/{cid}"
            for which in ("all", "last", "first"):
                want = chosen(by_seq, released, which)
                served = crawl(client, base + "/objects/", "objects", **{"match[version]": which})
                keys = [(o["id"], o["modified"] if "modified" in o else o["created"]) for o in served]
                assert len(keys) == len(set(keys))
                assert set(keys) == set(want)
                for o, key in zip(served, keys, strict=True):  # the exact bytes of the pipeline
                    assert httpx.Response(200, content=released[want[key]]).json() == o
                manifest = crawl(client, base + "/manifest/", "objects", **{"match[version]": which})
                assert {(m["id"], m["version"]) for m in manifest} == set(want)
                dates = [m["date_added"] for m in manifest]
                assert dates == sorted(dates)
            visible_ids = sorted({by_seq[s].stix_id for s in released})
            withheld_ids = sorted({r.stix_id for r in by_seq.values()} - set(visible_ids))
            last = chosen(by_seq, released, "last")
            for sid in visible_ids[:: max(1, len(visible_ids) // 25)]:
                r = client.get(f"{base}/objects/{sid}/")
                assert r.status_code == 200
                assert [(o["id"], o.get("modified", o.get("created"))) for o in r.json()["objects"]] == [
                    k for k in last if k[0] == sid
                ]
                versions = client.get(f"{base}/objects/{sid}/versions/").json()["versions"]
                assert sorted(versions) == sorted(by_seq[s].version for s in released if by_seq[s].stix_id == sid)
            for sid in withheld_ids[:: max(1, len(withheld_ids) // 25)]:
                for suffix, ref in (("/", missing), ("/versions/", missing_versions)):
                    r = client.get(f"{base}/objects/{sid}{suffix}")
                    assert (r.status_code, r.content) == (ref.status_code, ref.content)
                    assert r.headers["content-type"] == ref.headers["content-type"]
                    assert r.headers.get("content-length") == ref.headers.get("content-length")


def test_foreign_inbox_is_absent(demo_live: Live) -> None:
    with demo_live.client("USA") as usa, demo_live.client("FRA") as fra:
        inbox = next(c for c in usa.get("/api/collections/").json()["collections"] if c["alias"] == "inbox-usa")
        assert inbox["can_write"] is True
        unknown = fra.get("/api/collections/0b5d7c61-4bd5-4a8b-9f0e-1ad9c3a8e3d1/")
        assert unknown.status_code == 404
        for suffix in ("", "objects/", "manifest/", f"objects/{RANDOM_ID}/", f"objects/{RANDOM_ID}/versions/"):
            for key in (inbox["id"], "inbox-usa"):
                r = fra.get(f"/api/collections/{key}/{suffix}")
                assert (r.status_code, r.content) == (404, unknown.content)
        r = fra.post(
            f"/api/collections/{inbox['id']}/objects/",
            content=b'{"objects": []}',
            headers={"Content-Type": "application/taxii+json;version=2.1"},
        )
        assert (r.status_code, r.content) == (404, unknown.content)
        r = fra.delete(f"/api/collections/{inbox['id']}/objects/{RANDOM_ID}/")
        assert (r.status_code, r.content) == (404, unknown.content)
