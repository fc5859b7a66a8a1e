"""The Manager's dashboard as its user meets it: a login link from `inferencekey dashboard`,
then a real headless Chromium that watches a workload ensured through the SDK become ready
and revokes a key. Plain HTTP checks cover the access rules and that no secret leaks."""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferencekey import AuthError, Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import Manager, Project

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("INFERENCEKEY_ARTIFACTS", ROOT / "target" / "artifacts"))
TOKEN = re.compile(r"ik_(?:live|sdk|admin)_[A-Za-z0-9]+_[A-Za-z0-9]+")


def http(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def login_link(manager: Manager) -> str:
    link = manager.cli("dashboard").stdout.strip()
    assert link.startswith(manager.url + "/dashboard/login?code="), link
    return link


def session_cookie(manager: Manager) -> str:
    status, headers, _ = http(login_link(manager))
    assert status in (302, 303, 307), status
    assert headers["location"] == "/dashboard"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return cookie.split(";")[0]


def test_access_rules(manager: Manager, project: Project) -> None:
    page_status, page_headers, page = http(manager.url + "/dashboard")
    assert page_status == 200 and b"InferenceKey Manager" in page
    assert "script-src 'self'" in page_headers["content-security-policy"]
    assert not TOKEN.search(page.decode())

    assert http(manager.url + "/dashboard/api/state")[0] == 401
    assert http(manager.url + "/dashboard/login?code=made-up")[0] == 401
    # Data-plane and SDK tokens are not the admin's.
    for token in (project.key, project.env["INFERENCEKEY_SDK_TOKEN"]):
        status, _, _ = http(
            manager.url + "/dashboard/api/state", headers={"Authorization": f"Bearer {token}"}
        )
        assert status in (401, 403)

    link = login_link(manager)
    assert http(link)[0] in (302, 303)
    assert http(link)[0] == 401, "a login link works once"

    cookie = session_cookie(manager)
    status, _, body = http(manager.url + "/dashboard/api/state", headers={"Cookie": cookie})
    assert status == 200
    # The key list shows redacted forms only, never a secret.
    assert not TOKEN.search(body.decode())
    assert project.key not in body.decode()

    # A write with the cookie alone (what a cross-site form could send) is refused.
    revoke = f"{manager.url}/dashboard/api/keys/nope/revoke"
    assert http(revoke, method="POST", headers={"Cookie": cookie})[0] == 403
    marked = {"Cookie": cookie, "X-IK-Dashboard": "1"}
    assert http(revoke, method="POST", headers=marked)[0] == 404

    assert (
        http(manager.url + "/dashboard/logout", method="POST", headers={"Cookie": cookie})[0] == 204
    )
    assert http(manager.url + "/dashboard/api/state", headers={"Cookie": cookie})[0] == 401


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None  # type: ignore[assignment]
    if executable is None or sync_playwright is None:
        message = "the browser test needs Debian's chromium and the playwright package"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run and scripts/test install them)")
        pytest.skip(message)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def test_dashboard_in_a_real_browser(manager: Manager, project: Project, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(login_link(manager))
    assert page.url == manager.url + "/dashboard"
    section = page.locator(f'section[data-project="{project.slug}"]')
    section.wait_for(timeout=15_000)

    # A key made outside the page shows up, redacted, and can be revoked from it.
    victim = manager.key(project.slug)
    victim_id = victim.split("_")[2]
    row = section.locator(f'tr[data-key="{victim_id}"]')
    row.wait_for(timeout=15_000)
    assert victim not in page.content()

    # A workload ensured through the SDK appears and becomes ready without a reload.
    slug = "dash-" + uuid.uuid4().hex[:8]
    mgmt = ManagementClient(
        project.slug, base_url=manager.url, sdk_token=project.env["INFERENCEKEY_SDK_TOKEN"]
    )
    mgmt.ensure(
        WorkloadSpec(
            name="Dashboard bot", slug=slug, model="m", backend=Backend.VLLM, command="vllm serve m"
        )
    )
    workload = section.locator(f'tr[data-slug="{slug}"]')
    workload.wait_for(timeout=15_000)
    workload.locator('[data-phase="ready"]').wait_for(timeout=60_000)
    assert workload.locator(".replicas").inner_text() == "1 / 1"

    # Its readiness log and engine log open on a click.
    workload.click()
    page.locator("#detail pre.log").first.wait_for(timeout=15_000)
    assert "ready" in page.locator("#detail").inner_text()

    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-revoke]").click()
    row.locator(".revoked").wait_for(timeout=15_000)
    data = DataClient(project=project.slug, base_url=manager.url, api_key=victim)
    with pytest.raises(AuthError):
        data.endpoint(slug).generate_text(prompt="hi", max_tokens=5)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # A key created on the page is shown once, then gone from the page. The choice of
    # scope survives the page's live updates.
    form = section.locator("form.newkey")
    form.locator("select").select_option(slug)
    body = page.locator("body")
    renders = int(body.get_attribute("data-renders") or 0)
    for _ in range(200):  # the page's CSP forbids wait_for_function's eval: poll instead
        if int(body.get_attribute("data-renders") or 0) > renders + 1:
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError("the page did not re-render within 10 s")
    assert form.locator("select").input_value() == slug
    form.locator("button[type=submit]").click()
    shown = page.locator("#new-key code")
    shown.wait_for(timeout=15_000)
    new_key = shown.inner_text()
    assert new_key.startswith("ik_live_")
    out = DataClient(project=project.slug, base_url=manager.url, api_key=new_key)
    assert out.endpoint(slug).generate_text(prompt="hi", max_tokens=5).text
    assert section.locator(f'tr[data-key="{new_key.split("_")[2]}"]').inner_text().count(slug)
    page.reload()
    section.wait_for(timeout=15_000)
    assert new_key not in page.content()
    assert not TOKEN.search(page.content())
    page.close()
