"""A real server on 127.0.0.1 with the demo district, and headless Debian Chromium.

Every request the browser makes outside 127.0.0.1 is aborted and counted; the tests
expect none. Chromium is the system one (``apt-get install chromium``), never a
Playwright download.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token
from tests.conftest import demo_district

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def demo_db(engine: Engine) -> Engine:
    """The test database holding the demo district (loaded when a test changed it)."""
    return demo_district(engine)


@pytest.fixture(scope="module")
def server(demo_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving the app on the demo database; yields its base URL."""
    home = str(tmp_path_factory.mktemp("home"))
    with running_server(
        demo_db.url.render_as_string(hide_password=False), env={"GEO_SERVICE_HOME": home}
    ) as base:
        yield base


@dataclass
class Visit:
    """What the browser saw: console errors and the requests that tried to leave."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright import sync_api as playwright_api

    # ``./dev`` installs Debian's chromium: without it these tests fail, they never skip.
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: apt-get install -y chromium"
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser, server: str, token: str | None, **options):
    """A browser page that sends ``token`` (None: a person who signs in with the form);
    ``page.visit`` records errors and outside requests."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = browser.new_context(extra_http_headers=headers, **options)
    visit = Visit()

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:", "file://")):
            r.continue_()
        else:
            visit.outside.append(url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: visit.errors.append(str(e)))
    pg.on("requestfailed", lambda r: visit.failed.append(r.url))
    pg.visit = visit
    pg.base = server
    return context, pg


@pytest.fixture
def page(browser, server: str, demo_db: Engine):
    """An administrator's page on a planner's screen (1440x900)."""
    context, pg = _page(
        browser, server, issue_token(demo_db, "admin"), viewport={"width": 1440, "height": 900}
    )
    yield pg
    context.close()


@pytest.fixture
def phone(browser, server: str, demo_db: Engine):
    """A liaison officer of HF-01 on a phone: 390x844, touch, mobile viewport."""
    token = issue_token(demo_db, "liaison", sites=["HF-01"])
    context, pg = _page(
        browser,
        server,
        token,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield pg
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
