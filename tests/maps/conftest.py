"""A real server on 127.0.0.1 with the demo district, and headless Debian Chromium.

Every request the browser makes outside 127.0.0.1 is aborted and counted; the tests
expect none. Chromium is the system one (``apt-get install chromium``), never a
Playwright download.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.accounts import issue_token
from tests.conftest import TABLES, clear_audit_log

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
    """The test database holding the demo district (loaded once for the module)."""
    from geo_service.demo import load_demo

    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        clear_audit_log(conn)
    load_demo(engine)
    return engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving the app on the demo database; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": demo_db.url.render_as_string(hide_password=False),
        "GEO_SERVICE_HOME": str(tmp_path_factory.mktemp("home")),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "geo_service.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Visit:
    """What the browser saw: console errors and the requests that tried to leave."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: str, demo_db: Engine):
    """An administrator's page; ``page.visit`` records errors and outside requests."""
    token = issue_token(demo_db, "admin")
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {token}"},
        viewport={"width": 1280, "height": 860},
    )
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
    yield pg
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
