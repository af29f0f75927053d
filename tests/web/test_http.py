"""Raw HTTP against a real server: media types, authentication, limits, cursors and the one error
body shape (TAXII 2.1 §3.6.1) on every error."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from tests.web.support import TAXII, Live

from tearline.asgi import taxii_app
from tearline.services.taxii import Config

ENVELOPE = {"Content-Type": TAXII}


def assert_error(r: httpx.Response, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == TAXII
    body = r.json()
    assert set(body) == {"title", "description", "error_code", "http_status"}
    assert body["http_status"] == str(status)
    text = body["description"]
    assert text[:1] == text[:1].lower()
    assert not text.endswith(".")
    return body


@pytest.fixture(scope="module")
def strict_url(demo_live: Live, serve_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The same node behind a tiny body limit."""
    yield serve_app(taxii_app(demo_live.node, config=Config(max_body_bytes=2000)))


def test_success_media_type(demo_live: Live) -> None:
    with demo_live.client("USA") as c:
        for path in ("/taxii2/", "/api/", "/api/collections/", "/api/collections/shared/objects/?limit=1"):
            r = c.get(path)
            assert r.status_code == 200
            assert r.headers["content-type"] == TAXII
        r = c.get("/api/collections/shared/objects/?limit=1", headers={"Accept": "application/taxii+json"})
        assert r.status_code == 200


def test_authentication(demo_live: Live) -> None:
    url = demo_live.url + "/api/collections/"
    none = httpx.get(url, headers={"Accept": TAXII})
    assert_error(none, 401)
    assert none.headers["www-authenticate"] == 'Basic realm="tearline"'
    assert_error(httpx.get(url, headers={"Accept": TAXII, "Authorization": "Bearer tl_wrong"}), 401)
    assert_error(httpx.get(url, headers={"Accept": TAXII}, auth=("USA", "tl_wrong")), 401)
    assert_error(httpx.get(url, headers={"Accept": TAXII}, auth=("CAN", demo_live.tokens["USA"])), 401)
    good = httpx.get(url, headers={"Accept": TAXII}, auth=("usa", demo_live.tokens["USA"]))
    assert good.status_code == 200
    bad_b64 = {"Accept": TAXII, "Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert_error(httpx.get(url, headers=bad_b64), 401)


def test_failed_attempts_are_rate_limited(demo_live: Live, serve_app) -> None:  # type: ignore[no-untyped-def]
    app = taxii_app(demo_live.node, config=Config(auth_burst=3, auth_refill_s=60))
    url = serve_app(app) + "/api/collections/"
    for _ in range(3):
        assert_error(httpx.get(url, headers={"Accept": TAXII}, auth=("USA", "nope")), 401)
    assert_error(httpx.get(url, headers={"Accept": TAXII}, auth=("USA", "nope")), 429)
    # blocked: even good credentials wait (the bucket refills at one per minute here)
    assert_error(httpx.get(url, headers={"Accept": TAXII}, auth=("USA", demo_live.tokens["USA"])), 429)


def test_not_acceptable_and_unsupported_media_type(demo_live: Live) -> None:
    with demo_live.client("USA") as c:
        assert_error(c.get("/api/collections/", headers={"Accept": "application/json"}), 406)
        assert_error(c.get("/api/collections/", headers={"Accept": "application/taxii+json;version=2.0"}), 406)
        inbox = "/api/collections/inbox-usa/objects/"
        assert_error(c.post(inbox, content=b'{"objects": []}', headers={"Content-Type": "application/json"}), 415)
        assert_error(c.post(inbox, content=b'{"objects": []}'), 415)
        assert_error(c.post(inbox, content=b"{not json", headers=ENVELOPE), 400)
        assert_error(c.post(inbox, content=b"[]", headers=ENVELOPE), 400)
        assert_error(c.post("/api/collections/shared/objects/", content=b'{"objects": []}', headers=ENVELOPE), 403)
        r = c.post(inbox, content=b'{"objects": []}', headers=ENVELOPE)
        assert r.status_code == 202 and r.json()["total_count"] == 0


def test_body_too_large(demo_live: Live, strict_url: str) -> None:
    headers = {"Accept": TAXII, "Authorization": f"Bearer {demo_live.tokens['USA']}", **ENVELOPE}
    url = strict_url + "/api/collections/inbox-usa/objects/"
    big = b'{"objects": [' + b" " * 5000 + b"]}"
    assert_error(httpx.post(url, content=big, headers=headers), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"objects": ['
        for _ in range(10):
            yield b" " * 500
        yield b"]}"

    assert_error(httpx.post(url, content=chunks(), headers=headers), 413)


def test_not_found_and_method_shapes(demo_live: Live) -> None:
    with demo_live.client("USA") as c:
        body = assert_error(c.get("/api/collections/nope/"), 404)
        assert body == assert_error(c.get("/api/no/such/route/"), 404)
        assert body == assert_error(c.get("/api/status/not-a-uuid/"), 404)
        assert body == assert_error(c.get("/api/status/0b5d7c61-4bd5-4a8b-9f0e-1ad9c3a8e3d1/"), 404)
        assert_error(c.put("/api/collections/shared/objects/"), 405)
        assert_error(c.delete("/api/collections/shared/objects/indicator--0b5d7c61-4bd5-4a8b-9f0e-1ad9c3a8e3d1/"), 403)


def test_bad_filters(demo_live: Live) -> None:
    with demo_live.client("USA") as c:
        base = "/api/collections/shared/objects/"
        for query in ("limit=0", "limit=x", "added_after=yesterday", "match[version]=soon", "match[color]=red",
                      "match[type]=Bad Type", "match[id]=nope"):
            assert_error(c.get(base + "?" + query), 400)


def test_cursors(demo_live: Live) -> None:
    base = "/api/collections/shared/objects/"
    with demo_live.client("USA") as usa, demo_live.client("CAN") as can:
        first = usa.get(base, params={"limit": "5"}).json()
        cursor = first["next"]
        ok = usa.get(base, params={"limit": "5", "next": cursor})
        assert ok.status_code == 200 and ok.json()["objects"][0] != first["objects"][0]
        same = usa.get(base, params={"limit": "7", "next": cursor})  # the limit may change between pages
        assert same.json()["objects"][:5] == ok.json()["objects"]
        body, tag = cursor.split(".")
        flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
        for bad in (f"{flipped}.{tag}", f"{body}.{tag[::-1]}", "garbage", "", "a.b.c", cursor + "x"):
            assert_error(usa.get(base, params={"next": bad}), 400)
        assert_error(can.get(base, params={"next": cursor}), 400)  # another partner's
        assert_error(usa.get(base, params={"next": cursor, "match[type]": "indicator"}), 400)  # other filters
        assert_error(usa.get("/api/collections/shared/manifest/", params={"next": cursor}), 400)  # other endpoint


def test_crash_shows_no_exception_text(demo_live: Live, serve_app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    app = taxii_app(demo_live.node)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret-detail-xyz")

    monkeypatch.setattr(app.state.taxii, "reader", boom)
    url = serve_app(app)
    r = httpx.get(url + "/api/collections/shared/objects/", headers={"Accept": TAXII},
                  auth=("USA", demo_live.tokens["USA"]))
    body = assert_error(r, 500)
    assert "secret" not in r.text and body["description"] == "the server could not answer"
