"""What a liaison officer sees in a real browser when a page is refused, and that the
language picked on one page is kept on the next (Debian Chromium, phone-sized)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from maps import labels
from tests.accounts import issue_token
from tests.maps.conftest import screenshot

OWN, OTHER = "HF-01", "WJ-01"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def liaison(browser, server: str, demo_db: Engine) -> Iterator[object]:
    """The liaison officer of HF-01 only, on a phone-sized page; requests leaving
    127.0.0.1 are aborted and counted."""
    token = issue_token(demo_db, "liaison", sites=[OWN])
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {token}"}, viewport=PHONE
    )
    outside: list[str] = []
    problems: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("http://127.0.0.1:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("console", lambda m: problems.append(m.text) if "Security Policy" in m.text else None)
    pg.base, pg.outside, pg.problems = server, outside, problems
    yield pg
    context.close()


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_another_sites_map_then_an_unknown_site_in_the_picked_language(liaison) -> None:
    page = liaison
    answer = page.goto(f"{page.base}/maps/sites/{OTHER}")
    assert answer.status == 403
    text = page.inner_text("main")
    assert "无权查看" in text and OTHER in text and "您的账号没有分配到该工地" in text
    assert "请管理员把该工地分配给您" in text and "site 3" not in text
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    _fits_the_phone(page)
    screenshot(page, "error-403-zh")

    page.click("text=English")
    assert page.evaluate("document.documentElement.lang") == "en"
    text = page.inner_text("main")
    assert "Not allowed" in text and OTHER in text and "Ask the administrator" in text
    screenshot(page, "error-403-en")

    # No ?lang= from here on: the cookie carries the choice.
    answer = page.goto(f"{page.base}/maps/sites/NOPE-01")
    assert answer.status == 404
    text = page.inner_text("main")
    assert "Not found" in text and "NOPE-01" in text and "No site has this code" in text
    _fits_the_phone(page)
    screenshot(page, "error-404-en")

    page.click("text=Back to the home page")
    page.wait_for_load_state()
    assert page.url == f"{page.base}/"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.outside == [] and page.problems == []


def test_the_ogc_pages_and_docs_follow_the_picked_language(liaison) -> None:
    page = liaison
    page.goto(f"{page.base}/?lang=en")
    page.goto(f"{page.base}/ogc/collections?f=html")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text("h1").startswith("Collections")
    page.click("text=中文")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.inner_text("h1").startswith("数据集")
    screenshot(page, "ogc-collections-zh")
    page.goto(f"{page.base}/docs", wait_until="networkidle")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.title().startswith("工地周边影响服务 · 接口文档")
    page.wait_for_selector(".swagger-ui .info .description")
    assert "每个建设工地影响哪些住户" in page.inner_text(".swagger-ui .info .description")
    page.goto(f"{page.base}/ogc/collections/sites/items?f=html&lang=en")
    page.goto(f"{page.base}/docs", wait_until="networkidle")
    assert page.title().startswith("Site-impact service · API documentation")
    page.wait_for_selector(".swagger-ui .info .description")
    assert "which households each" in page.inner_text(".swagger-ui .info .description")
    screenshot(page, "docs-en")
    own = page.goto(f"{page.base}/maps/sites/{OWN}", wait_until="networkidle")
    page.wait_for_selector(".leaflet-control-layers")
    control = page.text_content(".leaflet-control-layers") or ""  # folded on a phone
    assert own.status == 200
    assert labels.text("site_households", "en") in control
    assert labels.text("site_households", "zh") not in control
    assert page.outside == [] and page.problems == []
