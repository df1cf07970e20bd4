"""The README shows the overview and a site map, and the liaison officer's pages on a phone,
as the tests see them.

Every run takes the screenshots into ``test-artifacts/``; with
``GEO_SERVICE_README_SCREENSHOTS=1`` it also refreshes the copies the README shows
(``maps/screenshots/``), so they are never drawn by hand.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from sqlalchemy import Engine, text

from tests.accounts import issue_token
from tests.maps.conftest import ARTIFACTS, _page, screenshot
from tests.maps.test_browser import _clean, _open, _tiles_drawn

ROOT = Path(__file__).resolve().parents[2]
SHOWN = ROOT / "maps" / "screenshots"
PAGES = {"overview": "/maps/overview", "site": "/maps/sites/HF-01"}


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_readme_shows_the_overview_and_a_site_map_taken_by_the_tests(
    page, demo_db: Engine
) -> None:
    for name, path in PAGES.items():
        _open(page, path)
        _tiles_drawn(page)
        page.wait_for_timeout(500)  # labels are placed after the tiles
        screenshot(page, f"readme-{name}")
        _clean(page)
    if os.environ.get("GEO_SERVICE_README_SCREENSHOTS"):
        SHOWN.mkdir(exist_ok=True)
        for name in PAGES:
            shutil.copyfile(ARTIFACTS / f"readme-{name}.png", SHOWN / f"{name}.png")

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in PAGES:
        assert f"](maps/screenshots/{name}.png)" in readme
        assert _png_size(SHOWN / f"{name}.png") == _png_size(ARTIFACTS / f"readme-{name}.png")


# The officer's pages on a phone, as the lead officer of the demo's road works opens them.
OFFICER, ROAD = "liaison-QT-01", "QT-01"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


def _phone_pages(engine: Engine) -> dict[str, str]:
    """A household with a visit and an open request, and a request well on its way."""
    with engine.connect() as conn:
        household = conn.execute(
            text("""
SELECT r.household_id FROM requests r JOIN sites s ON s.id = r.site_id
WHERE s.code = :road AND r.state = 'in_progress'
  AND EXISTS (SELECT 1 FROM visits v WHERE v.household_id = r.household_id)
ORDER BY r.id LIMIT 1"""),
            {"road": ROAD},
        ).scalar_one()
        request = conn.execute(
            text("""
SELECT r.public_id FROM requests r JOIN sites s ON s.id = r.site_id
WHERE s.code = :road AND r.household_id = :h AND r.state = 'in_progress'
ORDER BY r.id LIMIT 1"""),
            {"road": ROAD, "h": household},
        ).scalar_one()
    return {
        "liaison-sites": "/liaison/",
        "liaison-doors": f"/liaison/sites/{ROAD}",
        "liaison-household": f"/liaison/sites/{ROAD}/households/{household}",
        "liaison-request": f"/liaison/requests/{request}",
    }


def test_the_readme_shows_the_officers_pages_on_a_phone(browser, server, demo_db: Engine) -> None:
    pages = _phone_pages(demo_db)
    token = issue_token(demo_db, None, username=OFFICER)
    context, pg = _page(browser, server, token, **PHONE)
    try:
        for name, path in pages.items():
            pg.goto(pg.base + path, wait_until="networkidle")
            assert pg.evaluate("document.documentElement.scrollWidth") <= 390, name
            screenshot(pg, f"readme-{name}")
        _clean(pg)
    finally:
        context.close()
    if os.environ.get("GEO_SERVICE_README_SCREENSHOTS"):
        SHOWN.mkdir(exist_ok=True)
        for name in pages:
            shutil.copyfile(ARTIFACTS / f"readme-{name}.png", SHOWN / f"{name}.png")

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in pages:
        assert f"](maps/screenshots/{name}.png)" in readme
        assert _png_size(SHOWN / f"{name}.png") == _png_size(ARTIFACTS / f"readme-{name}.png")
