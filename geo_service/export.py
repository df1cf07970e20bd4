"""Export of a layer to GeoJSON, GeoPackage or CSV, in the columns the import reads back.

References are written as the natural keys of what they point to (a household's building
address, a site's parcel codes), so an exported file re-imports unchanged. Personal fields
are left out unless the caller is entitled to them and asks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Engine

from geo_service.errors import UnsupportedFile
from geo_service.formats import LAYER_EXPORT, spreadsheet_frame
from geo_service.query import LayerQuery, quote
from layers import get_layer
from layers.base import Layer


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
    fmt = LAYER_EXPORT.named_by(path.suffix)
    if fmt is None:
        raise UnsupportedFile(
            f"cannot export to {path.name}: use a {LAYER_EXPORT.spoken_extensions()} file name"
        )
    frame = read_layer(engine, layer_id, include_personal)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list)).any():
            frame[column] = frame[column].map(
                lambda v: ";".join(v) or None if isinstance(v, list) else v
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    WRITERS[fmt](frame, path, layer_id)
    return len(frame)


def _csv(frame: gpd.GeoDataFrame, path: Path, _layer_id: str) -> None:
    """Geometry as WKT in a ``wkt`` column, which the import reads back; a BOM for Excel."""
    table = frame.drop(columns="geom")
    table["wkt"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=8)
    spreadsheet_frame(table).to_csv(path, index=False, encoding="utf-8-sig")


def _gdal(driver: str, frame: gpd.GeoDataFrame, path: Path, layer_id: str) -> None:
    """GeoJSON and GeoPackage: GDAL writes them, the layer named as the collection."""
    frame.to_file(path, driver=driver, engine="pyogrio", layer=layer_id)


# One writer per format ``formats.LAYER_EXPORT`` offers.
WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path, str], None]] = {
    "geojson": partial(_gdal, "GeoJSON"),
    "gpkg": partial(_gdal, "GPKG"),
    "csv": _csv,
}
