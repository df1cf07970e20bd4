"""The README's maps section shows the overview and a site map as the tests see them.

Every run takes both screenshots into ``test-artifacts/``; with
``GEO_SERVICE_README_SCREENSHOTS=1`` it also refreshes the copies the README shows
(``maps/screenshots/``), so they are never drawn by hand.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from sqlalchemy import Engine

from tests.maps.conftest import ARTIFACTS, screenshot
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
