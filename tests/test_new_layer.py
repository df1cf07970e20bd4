"""Adding a layer is one declaration and one generated migration (issue: one source).

A throwaway layer, noise barriers with two fields, is declared here as a module in
``layers/`` would declare it; ``alembic revision --autogenerate`` writes its migration from
the declaration; and with nothing else written it imports, and appears in the OGC API,
its vector tiles, exports and search. The migration is taken back down afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

import layers
from geo_service import schema
from geo_service.database import alembic_config
from geo_service.export import export_layer
from geo_service.ingest import import_file
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, ImportSettings
from layers.base import Field, Layer, Search
from tests.accounts import bearer, issue_token

LAYER = Layer(
    id="noise_barriers",
    title_zh="声屏障",
    title_en="Noise barriers",
    description="Noise barriers along the works, with their height.",
    table="noise_barriers",
    geometry_types=("LineString",),
    feature_id="id",
    natural_key=("name",),
    fields=(
        Field("name", "名称", "Name", required=True),
        Field("height_m", "高度（米）", "Height (m)", kind="float"),
    ),
    search=Search(keys=("name",), label="name"),
    popup_fields=("name", "height_m"),
)

BARRIERS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "秋涛路声屏障-1", "height_m": 3.5},
            "geometry": {"type": "LineString", "coordinates": [[120.19, 30.25], [120.195, 30.252]]},
        },
        {
            "type": "Feature",
            "properties": {"name": "秋涛路声屏障-2", "height_m": 4.0},
            "geometry": {"type": "LineString", "coordinates": [[120.196, 30.252], [120.2, 30.254]]},
        },
    ],
}


@pytest.fixture
def barriers_declared(
    db: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The layer registered, its migration generated into ``tmp_path`` and applied; on the
    way out, migrated back down so that the other tests find the schema they know."""
    monkeypatch.setitem(layers.LAYERS, LAYER.id, LAYER)
    monkeypatch.setitem(layers.COLLECTIONS, LAYER.id, LAYER)
    stored = {**layers.LAYERS, **layers.WORKFLOW_LAYERS}
    monkeypatch.setattr(schema, "metadata", schema.build_metadata(stored.values()))
    config = alembic_config(database_url)
    versions = Path(config.get_main_option("script_location") or "") / "versions"
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", f"{versions}{os.pathsep}{tmp_path}")
    (before,) = ScriptDirectory.from_config(config).get_heads()
    command.revision(
        config, message="noise barriers", autogenerate=True, rev_id="9001", version_path=tmp_path
    )
    try:
        command.upgrade(config, "heads")
        with db.begin() as conn:
            schema.sync_triggers(conn)  # as every ``db up`` does after the migrations
        yield next(tmp_path.glob("9001_*.py"))
    finally:
        command.downgrade(config, before)


def test_a_new_layer_is_one_declaration_and_one_generated_migration(
    barriers_declared: Path, db: Engine, tmp_path: Path
) -> None:
    migration = barriers_declared.read_text()
    assert "op.create_table('noise_barriers'" in migration
    assert "op.drop_table('noise_barriers')" in migration
    # Nothing else differs between the declarations and the database.
    assert migration.count("op.create_table(") == 1
    assert "op.drop_column" not in migration and "op.add_column" not in migration
    assert "noise_barriers" in inspect(db).get_table_names()

    # Import, all or nothing, through the pipeline every layer uses.
    source = tmp_path / "barriers.geojson"
    source.write_text(json.dumps(BARRIERS, ensure_ascii=False), encoding="utf-8")
    report = import_file(db, "noise_barriers", source, settings=ImportSettings())
    assert report.inserted == 2

    app = create_app(DatabaseSettings(database_url=db.url.render_as_string(False)))
    with TestClient(app) as client:
        client.headers.update(bearer(issue_token(db, "planner")))

        collections = client.get("/ogc/collections").json()["collections"]
        assert "noise_barriers" in [c["id"] for c in collections]
        items = client.get("/ogc/collections/noise_barriers/items").json()
        assert items["numberMatched"] == 2
        assert {
            f["properties"]["name"]: f["properties"]["height_m"] for f in items["features"]
        } == {
            "秋涛路声屏障-1": 3.5,
            "秋涛路声屏障-2": 4.0,
        }
        queryables = client.get("/ogc/collections/noise_barriers/queryables").json()
        assert {"name", "height_m"} <= set(queryables["properties"])

        # The z15 tile 27323/13492 holds the first barrier; the second lies east of it.
        tile = client.get("/ogc/collections/noise_barriers/tiles/WebMercatorQuad/15/27323/13492")
        assert tile.status_code == 200, tile.text
        decoded = mapbox_vector_tile.decode(tile.content)
        assert {f["properties"]["name"] for f in decoded["noise_barriers"]["features"]} == {
            "秋涛路声屏障-1"
        }

        found = client.get("/api/search", params={"q": "声屏障"}).json()["results"]
        assert [(r["layer"], r["label"]) for r in found] == [
            ("noise_barriers", "秋涛路声屏障-1"),
            ("noise_barriers", "秋涛路声屏障-2"),
        ]

    exported = tmp_path / "barriers.gpkg"
    assert export_layer(db, "noise_barriers", exported) == 2
    frame = gpd.read_file(exported)
    assert sorted(frame["height_m"]) == [3.5, 4.0]
    assert set(frame.geometry.geom_type) == {"LineString"}
