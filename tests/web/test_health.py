"""`/healthz` on a real server: the process answers 200 without a token and without touching the node."""

from __future__ import annotations

import httpx
from tests.web.support import Live


def test_healthz_answers_without_a_token(demo_live: Live) -> None:
    r = httpx.get(f"{demo_live.url}/healthz", timeout=10)
    assert r.status_code == 200 and r.text == "ok\n"
    assert r.headers["cache-control"] == "no-store"
    assert httpx.post(f"{demo_live.url}/healthz", timeout=10).status_code == 405
