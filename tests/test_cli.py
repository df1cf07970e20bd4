"""``geo-service import`` and ``export``: what a person at the terminal sees."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box
from sqlalchemy import Engine, text

from geo_service.cli import CliSettings, main
from geo_service.settings import DatabaseSettings
from tests.conftest import count_rows


@pytest.fixture
def cli_env(db: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    return db


def _parcels_file(tmp_path: Path, codes: list[str]) -> Path:
    geoms = [
        box(120.19 + i * 0.001, 30.30, 120.1905 + i * 0.001, 30.3005) for i in range(len(codes))
    ]
    path = tmp_path / "parcels.gpkg"
    gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs="EPSG:4326").to_file(path)
    return path


def test_import_prints_a_summary_and_export_round_trips(cli_env: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["import", "parcels", str(_parcels_file(tmp_path, ["XC1003-R21-02"]))]
    )
    assert result.exit_code == 0, result.output
    assert "parcels: 1 row(s) from parcels.gpkg (append): 1 inserted" in result.output
    out = tmp_path / "out.geojson"
    exported = runner.invoke(main, ["export", "parcels", "-o", str(out)])
    assert exported.exit_code == 0 and "wrote 1 parcels" in exported.output
    assert gpd.read_file(out)["code"].tolist() == ["XC1003-R21-02"]
    again = runner.invoke(main, ["import", "parcels", str(out), "--mode", "upsert"])
    assert again.exit_code == 0 and "1 updated" in again.output


def test_import_refusal_exits_2_with_the_rows(cli_env: Engine, tmp_path: Path) -> None:
    path = _parcels_file(tmp_path, ["XC1003-R21-02", "XC1003R2103"])
    result = CliRunner().invoke(main, ["import", "parcels", str(path)])
    assert result.exit_code == 2
    assert (
        "error: 1 problem(s) in the parcels file: row 2: code: parcel code 'XC1003R2103'"
        in result.output
    )
    assert count_rows(cli_env, "parcels") == 0


def test_import_reads_the_layer_named_by_the_layer_option(cli_env: Engine, tmp_path: Path) -> None:
    path = _parcels_file(tmp_path, ["XC1003-R21-02"])
    gpd.GeoDataFrame(
        {"name": ["新工社区"]}, geometry=[box(120.19, 30.24, 120.2, 30.25)], crs="EPSG:4326"
    ).to_file(path, layer="communities")
    runner = CliRunner()
    refused = runner.invoke(main, ["import", "parcels", str(path)])
    assert refused.exit_code == 2
    assert "holds 2 layers: parcels (Polygon), communities (Polygon)" in refused.output
    result = runner.invoke(main, ["import", "parcels", str(path), "--layer", "parcels"])
    assert result.exit_code == 0, result.output
    assert "from parcels.gpkg, layer parcels (append): 1 inserted" in result.output


def test_export_to_unknown_format_and_unknown_layer(cli_env: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["export", "parcels", "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and "use a .geojson, .gpkg or .csv" in bad.output
    unknown = runner.invoke(main, ["export", "roads", "-o", str(tmp_path / "x.gpkg")])
    assert unknown.exit_code == 2 and "unknown layer 'roads'" in unknown.output


def test_sample_files_import_in_order(cli_env: Engine) -> None:
    """The files in data/samples, with the commands data/samples/README.md gives."""
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    runner = CliRunner()
    for layer, name, extra in [
        ("parcels", "parcels_epsg4549.gpkg", []),
        ("communities", "communities.geojson", []),
        ("buildings", "buildings_epsg4490.zip", []),
        ("households", "households_lonlat.csv", ["--crs", "EPSG:4490"]),
        ("sites", "sites.geojson", []),
    ]:
        result = runner.invoke(main, ["import", layer, str(samples / name), *extra])
        assert result.exit_code == 0, result.output
        assert "ignored columns" not in result.output, result.output
    assert count_rows(cli_env, "households") > 50
    assert count_rows(cli_env, "site_parcels") >= 2


def test_impact_command_writes_lists_and_audits_personal_exports(
    cli_env: Engine, tmp_path: Path
) -> None:
    """``geo-service impact`` on the demo district: one site, every site, personal fields."""

    from geo_service.demo import load_demo

    load_demo(cli_env)
    runner = CliRunner()
    one = tmp_path / "wj.csv"
    result = runner.invoke(main, ["impact", "WJ-01", "--sort", "address", "-o", str(one)])
    assert result.exit_code == 0, result.output
    lines = one.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("# site: ") and "WJ-01" in lines[0]
    header = next(line for line in lines if not line.startswith("#"))
    assert "距离（米）" in header and "联系电话" not in header
    folder = tmp_path / "all"
    every = runner.invoke(main, ["impact", "--all", "--format", "xlsx", "-o", str(folder)])
    assert every.exit_code == 0, every.output
    assert len(list(folder.glob("*.xlsx"))) == 10
    personal = runner.invoke(
        main,
        [
            "impact",
            "WJ-01",
            "--include-personal",
            "--format",
            "geojson",
            "-o",
            str(tmp_path / "p.geojson"),
        ],
    )
    assert personal.exit_code == 0
    assert "示例-" in (tmp_path / "p.geojson").read_text(encoding="utf-8")
    with cli_env.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'export_personal' "
                "AND target = 'site:WJ-01'"
            )
        ).scalar_one()
    assert audited == 1
    assert runner.invoke(main, ["impact", "NOPE", "-o", str(one)]).exit_code == 2


def test_map_command_writes_one_self_contained_page(cli_env: Engine, tmp_path: Path) -> None:
    """``geo-service map`` takes a site's code or id and names the site by its code."""

    from geo_service.demo import load_demo

    load_demo(cli_env)
    with cli_env.connect() as conn:
        site_id = conn.execute(text("SELECT id FROM sites WHERE code = 'WJ-01'")).scalar_one()
    out = tmp_path / "site.html"
    result = CliRunner().invoke(main, ["map", str(site_id), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote the map of WJ-01 to {out}" in result.output
    html = out.read_text(encoding="utf-8")
    assert "WJ-01" in html and 'src="/' not in html and 'href="/static' not in html
    unknown = CliRunner().invoke(main, ["map", "NOPE", "-o", str(out)])
    assert unknown.exit_code == 2 and "no site has the id or code 'NOPE'" in unknown.output
    bad = CliRunner().invoke(main, ["map", "WJ-01", "-o", str(out), "--basemap", "bing"])
    assert bad.exit_code == 2 and "--basemap" in bad.output


def test_commands_use_the_settings_they_are_given(
    db: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings are read once at the edge: a command given them never reads the environment."""
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nowhere")
    given = CliSettings(DatabaseSettings(database_url=database_url))
    path = _parcels_file(tmp_path, ["XC1003-R21-02"])
    result = CliRunner().invoke(main, ["import", "parcels", str(path)], obj=given)
    assert result.exit_code == 0, result.output
    assert count_rows(db, "parcels") == 1


def test_service_area_commands_show_set_and_reset_it(cli_env: Engine) -> None:
    """Negative degrees are numbers, not options; the change is audited as the local user."""
    runner = CliRunner()
    shown = runner.invoke(main, ["service-area"])
    assert shown.exit_code == 0, shown.output
    assert "lon 73.0..136.0, lat 3.0..54.0 (the default, GEO_SERVICE_IMPORT_SERVICE_AREA)" in (
        shown.output
    )
    chile = runner.invoke(main, ["service-area", "set", "-76", "-56", "-66", "-17.5"])
    assert chile.exit_code == 0, chile.output
    assert "lon -76.0..-66.0, lat -56.0..-17.5 (set by local:" in chile.output
    assert "set by local:" in runner.invoke(main, ["service-area"]).output
    bad = runner.invoke(main, ["service-area", "set", "10", "0", "5", "1"])
    assert bad.exit_code == 2 and "west 10.0 and east 5.0" in bad.output
    reset = runner.invoke(main, ["service-area", "reset"])
    assert reset.exit_code == 0 and "(the default, GEO_SERVICE_IMPORT_SERVICE_AREA)" in reset.output
    with cli_env.connect() as conn:
        actions = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'set_service_area'")
        ).scalar_one()
    assert actions == 2


def test_on_invalid_skip_imports_the_rest_and_writes_the_skipped_rows(
    cli_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _parcels_file(tmp_path, ["XC1003-R21-02", "XC1003R2103", "XC1003-R21-04"])
    runner = CliRunner()
    assert runner.invoke(main, ["import", "parcels", str(path)]).exit_code == 2
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["import", "parcels", str(path), "--on-invalid", "skip"])
    assert result.exit_code == 0, result.output
    assert "2 inserted" in result.output and "1 row(s) skipped, with 1 problem(s):" in result.output
    assert "every skipped row, with its problems: parcels.gpkg.parcels.skipped.csv" in result.output
    written = (tmp_path / "parcels.gpkg.parcels.skipped.csv").read_text(encoding="utf-8-sig")
    assert written.splitlines()[1].startswith(
        "2,XC1003R2103,code,\"parcel code 'XC1003R2103' has 1 part"
    )
    again = runner.invoke(
        main,
        ["import", "parcels", str(path), "--on-invalid", "skip", "--report", "again.csv"],
    )
    assert again.exit_code == 0 and "3 row(s) skipped" in again.output  # two already stored
    assert len((tmp_path / "again.csv").read_text(encoding="utf-8-sig").splitlines()) == 4
    assert count_rows(cli_env, "parcels") == 2
