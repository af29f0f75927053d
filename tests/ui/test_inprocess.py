"""The UI in-process (Starlette TestClient): login failures, CSRF refusal, roles, partner tokens,
the ledger JSON shapes, and the store/service pieces behind the pages."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works the same
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from tests.ui.support import PASSWORDS, UiNode, make_app, node_users

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def client(ui_node: UiNode) -> Iterator[TestClient]:
    with TestClient(make_app(ui_node.node), base_url="http://127.0.0.1") as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def log_in(c: TestClient, name: str, password: str | None = None) -> Any:
    token = csrf_of(c.get("/ui/login").text)
    return c.post("/ui/login", data={"name": name, "password": password or PASSWORDS[name], "csrf": token,
                                     "next": ""}, follow_redirects=False)


def test_pages_need_a_login(client: TestClient) -> None:
    r = client.get("/ui/partners/USA", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=%2Fui%2Fpartners%2FUSA")
    assert client.get("/ui/ledger/api/head").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient) -> None:
    a = log_in(client, "olive", "wrong password here")
    b = log_in(client, "nobody", "wrong password here")
    assert a.status_code == b.status_code == 401
    assert "Wrong user name or password." in a.text and "Wrong user name or password." in b.text
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_partner_taxii_token_does_not_open_the_ui(ui_node: UiNode, client: TestClient) -> None:
    token = ui_node.node.trust.rotate_token("NZL")
    r = client.get("/ui/", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
    assert r.status_code == 303 and "/ui/login" in r.headers["location"]


def test_login_refused_without_the_csrf_token(client: TestClient) -> None:
    client.get("/ui/login")
    r = client.post("/ui/login", data={"name": "olive", "password": PASSWORDS["olive"], "csrf": "forged"})
    assert r.status_code == 403 and "did not come from this site" in r.text


def test_post_without_csrf_is_refused_and_changes_nothing(ui_node: UiNode, client: TestClient) -> None:
    assert log_in(client, "olive").status_code == 303
    before = len(ui_node.node.trust.history("NZL"))
    r = client.post("/ui/partners/NZL/apply", data={"exclude_topics": "iran", "reason": "test"})
    assert r.status_code == 403 and "reload the page" in r.text
    r = client.post("/ui/partners/NZL/apply", data={"exclude_topics": "iran", "reason": "test", "csrf": "x" * 43})
    assert r.status_code == 403
    assert len(ui_node.node.trust.history("NZL")) == before


def test_roles(ui_node: UiNode, client: TestClient) -> None:
    assert log_in(client, "vic").status_code == 303
    page = client.get("/ui/partners/NZL?exclude_topics=iran")
    assert page.status_code == 200 and 'id="apply-form"' not in page.text and 'id="viewer-note"' in page.text
    before = len(ui_node.node.trust.history("NZL"))
    token = csrf_of(page.text)
    r = client.post("/ui/partners/NZL/apply", data={"exclude_topics": "iran", "reason": "x", "csrf": token})
    assert r.status_code == 403 and "your role `viewer` cannot do this" in r.text
    r = client.post("/ui/partners/NZL/restore", data={"version": "1", "reason": "x", "csrf": token})
    assert r.status_code == 403
    assert len(ui_node.node.trust.history("NZL")) == before


def test_officer_scale_back_needs_a_reason_refuses_widening_and_restores(ui_node: UiNode, client: TestClient) -> None:
    assert log_in(client, "olive").status_code == 303
    token = csrf_of(client.get("/ui/partners/DEU").text)
    r = client.post("/ui/partners/DEU/apply", data={"exclude_topics": "finance", "reason": " ", "csrf": token})
    assert r.status_code == 400 and "a reason is required" in r.text
    r = client.post("/ui/partners/DEU/apply", data={"clearance": "TOP SECRET", "reason": "more", "csrf": token})
    assert r.status_code == 409 and "cannot widen" in r.text
    r = client.post("/ui/partners/DEU/apply", data={"exclude_topics": "finance", "reason": "narrow", "csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303
    history = ui_node.node.trust.history("DEU")
    assert "finance" in history[-1].profile.excluded_topics and history[-1].approved_by == "olive"
    r = client.post("/ui/partners/DEU/restore", data={"version": "1", "reason": "review done", "csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303
    history = ui_node.node.trust.history("DEU")
    assert history[-1].profile == history[0].profile and history[-1].reason == "review done"


def test_role_change_and_removal_apply_to_open_sessions(ui_node: UiNode, client: TestClient) -> None:
    users = node_users(ui_node.node)
    from tearline.services.users import Role

    users.add("tmp-officer", Role.OFFICER, "temporary-password")
    assert log_in(client, "tmp-officer", "temporary-password").status_code == 303
    users.set_role("tmp-officer", Role.VIEWER)
    token = csrf_of(client.get("/ui/partners/JPN").text)
    r = client.post("/ui/partners/JPN/apply", data={"suspend": "1", "reason": "x", "csrf": token})
    assert r.status_code == 403
    users.remove("tmp-officer")
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_login_redirects_only_inside_the_ui(client: TestClient) -> None:
    token = csrf_of(client.get("/ui/login").text)
    r = client.post("/ui/login", data={"name": "vic", "password": PASSWORDS["vic"], "csrf": token,
                                       "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/ui/"


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    log_in(client, "vic")
    assert client.post("/ui/logout", data={"csrf": "nope"}).status_code == 403
    token = csrf_of(client.get("/ui/").text)
    assert client.post("/ui/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_pages_render_with_security_headers(ui_node: UiNode, client: TestClient) -> None:
    log_in(client, "vic")
    for path in ("/ui/", "/ui/partners/USA?exclude_topics=iran&since=2026-01-01", f"/ui/items/{ui_node.cited_report}",
                 "/ui/ledger", f"/ui/ledger?object={ui_node.alert_object}", "/ui/vault"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store" and '<html lang="en">' in r.text
    assert client.get("/ui/items/indicator--00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/ui/partners/ZZZ").status_code == 404
    assert "bad duration" in client.get("/ui/partners/USA?embargo=soon").text


def test_ledger_api_has_the_documented_shapes_and_proves(ui_node: UiNode, client: TestClient) -> None:
    from tearline.ledger.verify import SignedHead

    log_in(client, "vic")
    head = client.get("/ui/ledger/api/head").json()
    assert set(head) == {"origin", "root", "signature", "size", "timestamp_us"}
    SignedHead.from_json(head)
    seq = head["size"] // 2
    leaves = client.get(f"/ui/ledger/api/leaves?start={seq}&end={seq + 1}").json()
    assert leaves["start"] == seq and leaves["leaves"][0]["seq"] == seq
    proof = client.get(f"/ui/ledger/api/proof/inclusion?seq={seq}&size={head['size']}").json()
    assert proof["seq"] == seq and proof["size"] == head["size"] and proof["path"]
    assert client.get("/ui/ledger/api/proof/inclusion?seq=x").status_code == 400
    assert client.get("/ui/ledger/api/leaves?start=0&end=5000").status_code == 400
    found = client.get(f"/ui/ledger?object={ui_node.alert_object}").text
    assert ui_node.alert_object in found and "alert" in found


def test_vault_page_never_shows_identities(ui_node: UiNode, client: TestClient) -> None:
    log_in(client, "vic")
    html = client.get("/ui/vault").text
    for s in ui_node.node.vault.sources():
        assert s.cover in html
    for _cover, term in ui_node.node.vault.protected_terms():
        assert term not in html
