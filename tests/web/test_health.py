"""`/healthz` and the request id on a real server: liveness without a token; `X-Request-ID` kept or made."""

from __future__ import annotations

import httpx
from tests.web.support import Live


def test_healthz_answers_without_a_token(demo_live: Live) -> None:
    r = httpx.get(f"{demo_live.url}/healthz", timeout=10)
    assert r.status_code == 200 and r.text == "ok\n"
    assert r.headers["cache-control"] == "no-store"
    assert httpx.post(f"{demo_live.url}/healthz", timeout=10).status_code == 405


def test_request_id_is_propagated_or_generated(demo_live: Live) -> None:
    given = httpx.get(f"{demo_live.url}/healthz", headers={"X-Request-ID": "abc-123"}, timeout=10)
    assert given.headers["x-request-id"] == "abc-123"
    fresh = [httpx.get(f"{demo_live.url}/taxii2/", timeout=10).headers["x-request-id"] for _ in range(2)]
    assert len(fresh[0]) == 32 and fresh[0] != fresh[1]  # also on a TAXII answer (here a 401)
    bad = httpx.get(f"{demo_live.url}/healthz", headers={"X-Request-ID": "a b\"c"}, timeout=10)
    assert bad.headers["x-request-id"] != "a b\"c" and len(bad.headers["x-request-id"]) == 32


def test_readyz_checks_the_database_and_migrations(demo_live: Live) -> None:
    r = httpx.get(f"{demo_live.url}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    assert r.text == "database: ok\nmigrations: ok\n"


def _count(text: str, route: str, status: str) -> float:
    for line in text.splitlines():
        if line.startswith("tearline_http_requests_total{") and f'route="{route}"' in line \
                and f'status="{status}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_taxii_requests_by_route_template(demo_live: Live) -> None:
    before = httpx.get(f"{demo_live.url}/metrics", timeout=10)
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    partner = next(iter(demo_live.tokens))
    with demo_live.client(partner) as c:
        for _ in range(3):
            assert c.get("/taxii2/").status_code == 200
        c.get("/api/collections/no-such-collection-xyz/")
    after = httpx.get(f"{demo_live.url}/metrics", timeout=10).text
    assert _count(after, "/taxii2/", "200") - _count(before.text, "/taxii2/", "200") == 3
    assert "tearline_http_request_seconds_bucket" in after
    assert 'route="/api/collections/{collection_id}/"' in after  # the template, never the raw path
    assert "no-such-collection-xyz" not in after
