"""Basemap packages on disk: what the service reads from them, and the files it refuses."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from geo_service.basemap import open_package
from geo_service.cli import main
from geo_service.errors import InvalidBasemap
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, MapSettings
from tests.basemaps import DISTRICT, colour, district_tiles, write_mbtiles, write_pmtiles


def _colour_of(data: bytes) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((128, 128))


@pytest.fixture
def mbtiles(tmp_path: Path) -> Path:
    return write_mbtiles(tmp_path / "district.mbtiles")


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_a_package_gives_its_metadata_and_each_xyz_tile(
    kind: str, mbtiles: Path, tmp_path: Path
) -> None:
    path = mbtiles if kind == "mbtiles" else write_pmtiles(tmp_path / "d.pmtiles", mbtiles)
    package = open_package(path)
    info = package.info
    assert (info.format, info.min_zoom, info.max_zoom) == ("png", 12, 15)
    assert info.bounds == pytest.approx(DISTRICT, abs=1e-6)
    assert info.attribution == "© 杭州市测绘院"  # the file's markup dropped
    assert info.name == "测绘院底图 test"
    for z, x, y in district_tiles()[::17]:
        assert _colour_of(package.tile(z, x, y)) == colour(z, x, y)
    assert package.tile(15, 0, 0) is None
    package.close()


def test_mbtiles_rows_are_tms_so_the_service_flips_y(mbtiles: Path) -> None:
    z, x, y = district_tiles()[-1]
    with sqlite3.connect(mbtiles) as db:
        stored = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, 2**z - 1 - y),
        ).fetchone()[0]
    assert open_package(mbtiles).tile(z, x, y) == stored
    assert open_package(mbtiles).tile(z, x, 2**z - 1 - y) is None  # the unflipped row is empty


def test_the_version_changes_with_the_file(mbtiles: Path) -> None:
    before = open_package(mbtiles).info.version
    with sqlite3.connect(mbtiles) as db:
        db.execute("UPDATE metadata SET value = 'renamed' WHERE name = 'name'")
    assert open_package(mbtiles).info.version != before


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "notes.mbtiles"
    text.write_text("not tiles")
    empty_db = tmp_path / "empty.mbtiles"
    sqlite3.connect(empty_db).execute("CREATE TABLE other (a)").connection.commit()
    broken_pmtiles = tmp_path / "broken.pmtiles"
    broken_pmtiles.write_bytes(b"PMTiles\x02" + bytes(200))
    return {
        "missing": (tmp_path / "nowhere.mbtiles", "cannot be read (No such file or directory)"),
        "text": (text, "neither an MBTiles (SQLite) nor a PMTiles file"),
        "sqlite without tiles": (empty_db, "not an MBTiles file (no such table: metadata)"),
        "unknown format": (
            write_mbtiles(tmp_path / "gif.mbtiles", format="gif"),
            "tile format 'gif' (metadata 'format') is not one of png, jpg, webp, pbf",
        ),
        "bad bounds": (
            write_mbtiles(tmp_path / "bounds.mbtiles", bounds="30.2,120.1,30.3,120.2"),
            "are not west,south,east,north in degrees",
        ),
        "old pmtiles": (broken_pmtiles, "not a PMTiles v3 file (SpecVersionUnsupported)"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "text", "sqlite without tiles", "unknown format", "bad bounds", "old pmtiles"],
)
def test_a_file_the_service_cannot_serve_is_refused_with_a_sentence(
    case: str, tmp_path: Path
) -> None:
    path, problem = _bad_files(tmp_path)[case]
    with pytest.raises(InvalidBasemap) as refused:
        open_package(path)
    assert refused.value.message.startswith(f"GEO_SERVICE_MAP_BASEMAP_FILE {path}: ")
    assert problem in refused.value.message


def test_serve_and_the_app_refuse_to_start_on_a_bad_basemap_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    bad = tmp_path / "basemap.mbtiles"
    bad.write_text("<html>a download page, not tiles</html>")
    monkeypatch.setenv("GEO_SERVICE_MAP_BASEMAP_FILE", str(bad))
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: GEO_SERVICE_MAP_BASEMAP_FILE {bad}: neither an MBTiles (SQLite) nor a PMTiles file"
    )
    with pytest.raises(InvalidBasemap):
        create_app(DatabaseSettings(database_url=database_url), map_settings=MapSettings())


def test_a_stand_alone_map_file_refuses_the_local_basemap_with_a_reason(tmp_path: Path) -> None:
    out = tmp_path / "site.html"
    result = CliRunner().invoke(main, ["map", "HF-01", "-o", str(out), "--basemap", "local"])
    assert result.exit_code == 2 and "a stand-alone file cannot load it" in result.output
    assert not out.exists()


def test_a_default_basemap_the_service_cannot_draw_stops_it_too(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("GEO_SERVICE_MAP_BASEMAP", "local")
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: GEO_SERVICE_MAP_BASEMAP=local: the local basemap needs GEO_SERVICE_MAP_BASEMAP_FILE"
    )
    with pytest.raises(InvalidBasemap, match="unknown basemap 'osmm'"):
        create_app(
            DatabaseSettings(database_url=database_url), map_settings=MapSettings(basemap="osmm")
        )
