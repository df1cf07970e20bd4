"""Export of a layer to GeoJSON, GeoPackage or CSV, in the columns the import reads back.

References are written as the natural keys of what they point to (a household's building
address, a site's parcel codes), so an exported file re-imports unchanged. Personal fields
are left out unless the caller is entitled to them and asks.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Engine

from geo_service.errors import UnsupportedFile
from geo_service.query import LayerQuery, quote
from layers import get_layer
from layers.base import Layer

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".csv": "CSV"}


def layer_query(layer: Layer, include_personal: bool = False) -> str:
    """SELECT of a layer's row id, fields (references as natural keys) and geometry."""
    query = LayerQuery(layer, personal=include_personal)
    columns = ", ".join(f"{query.expr(f.name)} AS {quote(f.name)}" for f in query.fields)
    return f"SELECT m.id, {columns}, m.geom FROM {query.source} ORDER BY m.id"


def read_layer(engine: Engine, layer_id: str, include_personal: bool = False) -> gpd.GeoDataFrame:
    """The layer as a frame; many-valued references as lists."""
    layer = get_layer(layer_id)
    with engine.connect() as conn:
        return gpd.read_postgis(layer_query(layer, include_personal), conn, geom_col="geom")


def export_layer(engine: Engine, layer_id: str, path: Path, include_personal: bool = False) -> int:
    """Write the layer to ``path`` in the format its suffix names; returns the row count."""
    driver = FORMATS.get(path.suffix.lower())
    if driver is None:
        raise UnsupportedFile(
            f"cannot export to {path.name}: use a .geojson, .gpkg or .csv file name"
        )
    frame = read_layer(engine, layer_id, include_personal)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list)).any():
            frame[column] = frame[column].map(
                lambda v: ";".join(v) or None if isinstance(v, list) else v
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if driver == "CSV":
        table = frame.drop(columns="geom")
        table["wkt"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=8)
        table.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        frame.to_file(path, driver=driver, engine="pyogrio", layer=layer_id)
    return len(frame)
