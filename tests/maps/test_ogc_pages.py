"""The OGC API's pages in Chromium, on a planner's screen and on a phone: breadcrumbs, a
table whose rows lead to their features, values as people read them, and no page-wide
sideways scroll at 390 px."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from layers import COLLECTIONS
from tests.maps.conftest import ARTIFACTS, screenshot

SITE = "HF-01"
ITEMS = "/ogc/collections/sites/items?f=html"
SITES = COLLECTIONS["sites"]


def _stored(db: Engine, name: str) -> str:
    """HF-01's value of a coded field, as the database holds it."""
    with db.connect() as conn:
        return conn.execute(text(f"SELECT {name} FROM sites WHERE code = :c"), {"c": SITE}).scalar()


def _label(db: Engine, name: str, lang: str) -> str:
    return SITES.field(name).value_label(_stored(db, name), lang)


def _pictures(page, name: str) -> None:
    """What the screen shows, and the whole page (the table below the map)."""
    screenshot(page, name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"), full_page=True)


def _crumbs(page) -> list[str]:
    return [t.strip() for t in page.locator("nav.crumbs li").all_inner_texts()]


def _value(page, name: str) -> str:
    return page.inner_text(f'table.properties tr:has(th[title="{name}"]) td').strip()


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def _clean(page) -> None:
    assert page.visit.outside == [], page.visit.outside
    assert page.visit.errors == [], page.visit.errors


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_on_a_phone_a_row_is_tapped_to_its_feature_page(phone, demo_db: Engine, lang: str) -> None:
    zh = lang == "zh"
    phone.goto(f"{phone.base}{ITEMS}&lang={lang}", wait_until="load")
    phone.wait_for_function("window.featureLayer !== undefined")
    link = phone.locator("a.feature", has_text=SITE)
    box = link.bounding_box()
    table = phone.evaluate(
        "(b => [b.scrollWidth, b.clientWidth])(document.querySelector('.table-box'))"
    )
    _pictures(phone, f"ogc-items-phone-{lang}")

    assert _crumbs(phone) == (
        ["首页", "OGC API", "数据集", "建设工地", "要素"]
        if zh
        else ["Home", "OGC API", "Collections", "Construction sites", "Features"]
    )
    assert box is not None and box["height"] >= 44 and box["width"] >= 44, box
    assert table[0] > table[1]  # the table is wider than the phone: it scrolls in its box
    _no_sideways_scroll(phone)

    link.tap()
    phone.wait_for_url(f"**/ogc/collections/sites/items/{SITE}?f=html&lang={lang}")
    phone.wait_for_function("window.featureLayer !== undefined")
    _pictures(phone, f"ogc-feature-phone-{lang}")

    assert _crumbs(phone)[-2:] == ["要素" if zh else "Features", SITE]
    assert _value(phone, "status") == _label(demo_db, "status", lang)
    assert _value(phone, "kind") == _label(demo_db, "kind", lang)
    assert _value(phone, "night_work_permitted") in (("是", "否") if zh else ("Yes", "No"))
    started = _value(phone, "start_date")  # 2024年3月1日, Mar 1, 2024
    assert started.endswith("日") if zh else started[-6:-4] == ", ", started
    _no_sideways_scroll(phone)
    _clean(phone)


def test_on_a_desktop_the_keyboard_reaches_a_row_and_the_breadcrumbs_lead_back(
    page, demo_db: Engine
) -> None:
    page.goto(f"{page.base}{ITEMS}&lang=en", wait_until="load")
    page.wait_for_function("window.featureLayer !== undefined")
    _pictures(page, "ogc-items-desktop-en")
    shown = page.locator("table.features tr", has_text=SITE).inner_text()

    assert _label(demo_db, "status", "en") in shown
    assert _stored(demo_db, "status") not in shown
    link = page.locator("a.feature", has_text=SITE)
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/items/{SITE}?f=html&lang=en")
    page.wait_for_function("window.featureLayer !== undefined")
    _pictures(page, "ogc-feature-desktop-en")

    assert page.inner_text("h1").startswith(f"Construction sites {SITE}")
    assert _value(page, "kind") == _label(demo_db, "kind", "en")
    parcel = page.locator('table.properties tr:has(th[title="parcels"]) td a').first
    code = parcel.inner_text()
    parcel.click()  # a site's parcels lead to their own pages
    page.wait_for_url(f"**/ogc/collections/parcels/items/{code}?f=html&lang=en")
    assert _crumbs(page)[-3:] == ["Planning parcels", "Features", code]
    assert _value(page, "area_m2").endswith((" m²", " ha"))
    page.click("nav.crumbs >> text=Collections")
    page.wait_for_url("**/ogc/collections?f=html&lang=en")
    assert page.inner_text("h1").startswith("Collections")
    _no_sideways_scroll(page)
    _clean(page)


@pytest.mark.parametrize(
    "path",
    [
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/impact_zones",
        "/ogc/collections/impact_zones/items",
        "/ogc/collections/parcels/items/GS0407-R21/B1-02",
    ],
)
def test_every_ogc_page_fits_a_phone_with_its_breadcrumbs(phone, path: str) -> None:
    """Long link relations, JSON and compound parcel codes wrap or scroll in their own box."""
    answer = phone.goto(f"{phone.base}{path}?f=html", wait_until="load")
    name = "ogc-phone" + path.removeprefix("/ogc").replace("/", "-")
    _pictures(phone, name)

    assert answer is not None and answer.status == 200
    assert _crumbs(phone)[:2] == ["首页", "OGC API"]
    heights = phone.evaluate(
        "[...document.querySelectorAll('nav.crumbs a')].map(a => a.getBoundingClientRect().height)"
    )
    assert min(heights or [44]) >= 44, heights
    _no_sideways_scroll(phone)
    _clean(phone)
