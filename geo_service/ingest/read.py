"""Reading layer files: GeoJSON, GeoPackage, zipped Shapefile and CSV, into a frame with a CRS.

What belongs here: the supported suffixes, the size and zip safety checks made before
GDAL opens anything, CSV geometry columns, and the CRS a frame is given (the file's, or the
one the user named, never a guess). Nothing here knows layers.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from geo_service.errors import MissingCRS, UnknownCRS, UnsupportedFile, UploadTooLarge
from geo_service.settings import ImportSettings

SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".csv")
_LON = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")
_WKT = ("wkt", "geometry", "geom", "the_geom", "shape")


def read_file(
    path: Path,
    *,
    crs: str | None,
    settings: ImportSettings,
    name: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any supported file into a frame with a CRS, or refuse it with the reason.

    ``name`` is what messages call the file (an upload's own name, not our temporary copy);
    ``layer`` picks one layer of a file that holds several (a GeoPackage), as ogr2ogr's
    positional layer name does.
    """
    name = name or path.name
    size_mb = path.stat().st_size / 2**20
    if size_mb > settings.max_upload_mb:
        raise UploadTooLarge(
            f"{name} is {size_mb:.0f} MiB; the limit is {settings.max_upload_mb} MiB"
        )
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; use GeoJSON, GeoPackage, "
            "a zipped Shapefile or CSV with lon/lat or WKT columns"
        )
    if suffix == ".csv":
        if layer is not None:
            raise UnsupportedFile(
                f"{name} is a CSV file, which holds one table; the layer option "
                f"(CLI --layer, API ?layer=) {layer!r} is for files with layers (GeoPackage)"
            )
        frame = _read_csv(path, name)
    else:
        source = _zip_source(path, settings, name) if suffix == ".zip" else str(path)
        frame = _read_vector(source, name, path, layer)
    return _with_crs(frame, crs, name)


def _read_vector(source: str, name: str, path: Path, layer: str | None) -> gpd.GeoDataFrame:
    try:
        layers = pyogrio.list_layers(source)
        return pyogrio.read_dataframe(
            source, layer=_pick_layer(layers, name, layer), use_arrow=True
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # GDAL names the file by its path here: show the name the user knows instead.
        reason = str(exc).replace(str(path.parent) + "/", "").replace(path.name, name)
        raise UnsupportedFile(f"{name} could not be read: {reason}") from None
    except shapely.errors.GEOSException as exc:
        raise UnsupportedFile(f"{name} could not be read: a geometry is malformed: {exc}") from None


def _pick_layer(layers: np.ndarray, name: str, wanted: str | None) -> str:
    """The layer to read: the one named, or the only one; refusals list what there is."""
    names = [str(n) for n in layers[:, 0]]
    listed = ", ".join(
        f"{n} ({kind or 'no geometry'})" for n, kind in zip(names, layers[:, 1], strict=True)
    )
    if not names:
        raise UnsupportedFile(f"{name} holds no vector layer")
    if wanted is not None and wanted not in names:
        raise UnsupportedFile(f"{name} holds no layer {wanted!r}; its layers are: {listed}")
    if wanted is None and len(names) > 1:
        raise UnsupportedFile(
            f"{name} holds {len(names)} layers: {listed}; name the one to import "
            "(CLI --layer NAME, API ?layer=NAME)"
        )
    return wanted or names[0]


def _zip_source(path: Path, settings: ImportSettings, name: str) -> str:
    """Check an archive before GDAL reads it in place: no traversal, no bomb, one Shapefile."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UnsupportedFile(f"{name} is not a valid zip archive") from None
    with archive:
        members = archive.infolist()
        total = 0
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise UnsupportedFile(
                    f"{name}: member {member.filename!r} points outside the archive"
                )
            total += member.file_size
            if member.compress_size and member.file_size / member.compress_size > 1000:
                raise UploadTooLarge(
                    f"{name}: member {member.filename!r} expands over 1000x (a zip bomb?)"
                )
        if total > settings.max_unzipped_mb * 2**20:
            raise UploadTooLarge(
                f"{name} unpacks to {total / 2**20:.0f} MiB; the limit is "
                f"{settings.max_unzipped_mb} MiB"
            )
        shapefiles = [m.filename for m in members if m.filename.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        found = ", ".join(shapefiles) or "none"
        raise UnsupportedFile(f"{name} must hold exactly one .shp file (found: {found})")
    return f"/vsizip/{path}/{shapefiles[0]}"


def _read_csv(path: Path, name: str) -> gpd.GeoDataFrame:
    """A CSV with lon/lat or WKT columns; cells that are not coordinates are reported by row."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UnsupportedFile(f"{name} is not a readable UTF-8 CSV file: {exc}") from None
    lower = {c.strip().lower(): c for c in table.columns}
    geom_error = pd.Series([None] * len(table), index=table.index, dtype=object)
    wkt = next((lower[c] for c in _WKT if c in lower), None)
    lon = next((lower[c] for c in _LON if c in lower), None)
    lat = next((lower[c] for c in _LAT if c in lower), None)
    if wkt is not None:
        raw = table.pop(wkt).str.strip()
        cells = np.array([v or None for v in raw], dtype=object)  # empty: no geometry
        geoms = shapely.from_wkt(cells, on_invalid="ignore")
        bad = pd.isna(geoms) & (raw != "").to_numpy()
        geom_error[bad] = [f"WKT could not be parsed: {v[:60]!r}" for v in raw[bad]]
    elif lon is not None and lat is not None:
        xs = pd.to_numeric(table.pop(lon).str.strip(), errors="coerce")
        ys = pd.to_numeric(table.pop(lat).str.strip(), errors="coerce")
        bad = xs.isna() | ys.isna()
        geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
        geoms[bad.to_numpy()] = None
        geom_error[bad] = f"{lon}/{lat} are not both numbers"
    else:
        raise UnsupportedFile(
            f"{name} has no geometry columns: give lon and lat columns, or a WKT column "
            f"(columns are: {', '.join(table.columns)})"
        )
    frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, index=table.index), crs=None)
    frame["_geom_error"] = geom_error
    return frame


def _parse_crs(value: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise UnknownCRS(
            f"unknown coordinate reference system {value!r}; give an EPSG code such as "
            "EPSG:4490, EPSG:4549 or EPSG:4326"
        ) from None


def _with_crs(frame: gpd.GeoDataFrame, crs: str | None, name: str) -> gpd.GeoDataFrame:
    """Give the frame its CRS: the file's, or the one the user named, never a guess."""
    if crs is not None:
        given = _parse_crs(crs)
        if frame.crs is not None and not frame.crs.equals(given):
            raise UnknownCRS(
                f"{name} declares {frame.crs.to_string()} but the import says {given.to_string()}; "
                "drop the option or fix the file"
            )
        return frame.set_crs(given, allow_override=True)
    if frame.crs is None:
        raise MissingCRS(
            f"{name} does not declare its coordinate reference system; give it explicitly "
            "(CLI --crs, API ?crs=), e.g. EPSG:4490 (CGCS2000), EPSG:4549 or EPSG:4326"
        )
    return frame
