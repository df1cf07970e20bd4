"""Issue 13.9: from the landing page to your sites, and from the overview to each site's and
community's own map, in a real browser; never a link that answers 403."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from tests.accounts import PASSWORD, make_user
from tests.maps.conftest import _page, screenshot
from tests.maps.test_browser import _clean, _click_at, _click_site, _feature, _open

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def _community(db: Engine) -> tuple[int, str, float, float]:
    """A community clear of the sites, with a point inside it."""
    name, lon, lat = _feature(db, "communities")
    with db.connect() as conn:
        cid = conn.execute(
            text("SELECT id FROM communities WHERE name = :n"), {"n": name}
        ).scalar_one()
    return cid, name, lon, lat


def _popup_link(page, text_: str) -> str | None:
    links = page.locator(".leaflet-popup-content a", has_text=text_)
    return links.first.get_attribute("href") if links.count() else None


def test_the_overview_links_a_community_to_its_map_and_a_site_to_its_map(
    page, demo_db: Engine
) -> None:
    cid, name, lon, lat = _community(demo_db)
    _open(page, "/maps/overview")

    _click_at(page, lon, lat, 15)
    page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(300)
    screenshot(page, "maps-overview-community-link")
    assert _popup_link(page, "打开社区地图") == f"/maps/communities/{cid}?lang=zh"
    page.locator(".leaflet-popup-content a", has_text="打开社区地图").first.click()
    page.wait_for_url(f"**/maps/communities/{cid}?lang=zh")
    page.wait_for_function("window.GeoService && window.GeoService.map !== null")
    assert name in page.inner_text(".gs-title")

    _open(page, "/maps/overview")
    _click_site(page, "HF-01")
    assert _popup_link(page, "打开工地地图") == "/maps/sites/HF-01?lang=zh"
    page.locator(".leaflet-popup-content a", has_text="打开工地地图").first.click()
    page.wait_for_url("**/maps/sites/HF-01?lang=zh")
    page.wait_for_function("window.GeoService && window.GeoService.map !== null")
    assert "HF-01" in page.inner_text(".gs-title")
    _clean(page)


def test_a_liaison_officer_gets_links_only_to_the_maps_they_may_open(
    phone, demo_db: Engine
) -> None:
    """The phone fixture is HF-01's liaison officer: HF-01's map opens; another site's map
    and the community maps (planners' maps) would answer 403, so they are not linked."""
    with demo_db.connect() as conn:
        other = conn.execute(
            text("SELECT code FROM sites WHERE code <> 'HF-01' ORDER BY code LIMIT 1")
        ).scalar_one()
    _open(phone, "/maps/overview")

    _click_site(phone, "HF-01")
    assert _popup_link(phone, "打开工地地图") == "/maps/sites/HF-01?lang=zh"
    phone.evaluate("GeoService.map.closePopup()")  # on a phone it covers much of the map
    phone.wait_for_selector(".leaflet-popup-content", state="detached")
    _click_site(phone, other)
    assert other in phone.inner_text(".leaflet-popup-content")
    assert _popup_link(phone, "打开工地地图") is None
    _, _, lon, lat = _community(demo_db)
    _click_at(phone, lon, lat, 15)
    phone.wait_for_selector(".leaflet-popup-content")
    assert _popup_link(phone, "打开社区地图") is None
    _clean(phone)


def _sign_in(page, username: str) -> None:
    page.goto(page.base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(page.base + "/")


def test_signed_in_the_landing_page_shows_who_you_are_your_sites_and_signs_out(
    browser, server: str, demo_db: Engine
) -> None:
    make_user(demo_db, "nav-liaison", "liaison", sites=["HF-01"])
    with demo_db.connect() as conn:
        affected = conn.execute(
            text(
                "SELECT count(*) FROM household_impacts hi JOIN sites s ON s.id = hi.site_id"
                " WHERE s.code = 'HF-01'"
            )
        ).scalar_one()
    context, page = _page(browser, server, None, **PHONE)
    try:
        _sign_in(page, "nav-liaison")
        assert page.inner_text("#who-name") == "nav-liaison"
        assert page.inner_text("#who-role") == "联络人员"
        row = page.inner_text("#site-HF-01")
        assert f"{affected:,}" in row
        assert page.locator("table.sites tbody tr").count() == 1
        screenshot(page, "landing-liaison-phone")
        # Nothing wider than the phone: no page-wide horizontal scroll.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#sign-out").bounding_box()
        assert box and box["height"] >= 44

        page.locator("#site-HF-01 a", has_text="工地地图").click()
        page.wait_for_url("**/maps/sites/HF-01")
        page.wait_for_function("window.GeoService && window.GeoService.map !== null")

        page.goto(page.base + "/")
        page.click("#sign-out")
        page.wait_for_url(re.compile(r".*/login$"))
        page.goto(page.base + "/")
        assert page.locator("#who-name").count() == 0
        assert page.locator("a.signin").count() == 1
        _clean(page)
    finally:
        context.close()


def test_a_planner_sees_every_site_with_status_and_progress(
    browser, server: str, demo_db: Engine
) -> None:
    make_user(demo_db, "nav-planner", "planner")
    with demo_db.connect() as conn:
        sites = conn.execute(text("SELECT count(*) FROM sites")).scalar_one()
    context, page = _page(browser, server, None, viewport={"width": 1440, "height": 900})
    try:
        _sign_in(page, "nav-planner")
        assert page.inner_text("#who-role") == "规划人员"
        assert page.locator("table.sites tbody tr").count() == sites
        assert "全部工地" in page.inner_text("#your-sites")
        screenshot(page, "landing-planner")
        page.goto(page.base + "/?lang=en")
        assert page.inner_text("#who-role") == "Planner"
        assert "All sites" in page.inner_text("#your-sites")
        _clean(page)
    finally:
        context.close()
