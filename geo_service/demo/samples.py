"""The sample import files of ``data/samples/``, cut from the demo district.

Belongs here: choosing a few rows of each layer and writing them the way real deliveries
arrive (formats, CRSs, a CSV without one); ``data/samples/README.md`` gives the commands
that import them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from geo_service.demo.district import build_demo_district
from geo_service.demo.frames import write_geopackage


def write_samples(directory: Path) -> dict[str, Path]:
    """Small import files, one per supported format and CRS, cut from the demo district.

    They show how real deliveries arrive: parcels as a GeoPackage in CGCS2000 Gauss-Kruger
    zone 40 (EPSG:4549), communities as GeoJSON, buildings as a zipped Shapefile in CGCS2000
    (EPSG:4490), households as CSV with lon/lat (no CRS: import with ``--crs EPSG:4490``),
    sites as GeoJSON naming their parcels.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = build_demo_district()
    communities = frames["communities"].iloc[:2]
    buildings = frames["buildings"][frames["buildings"]["community"].isin(communities["name"])]
    buildings = buildings.iloc[:6]
    households = frames["households"][frames["households"]["building"].isin(buildings["address"])]
    sites = frames["sites"].iloc[:2]
    codes = {c for cell in sites["parcels"].dropna() for c in str(cell).split(";") if c}
    parcels = frames["parcels"][frames["parcels"]["code"].isin(codes)]
    paths = {
        "parcels": directory / "parcels_epsg4549.gpkg",
        "communities": directory / "communities.geojson",
        "buildings": directory / "buildings_epsg4490.zip",
        "households": directory / "households_lonlat.csv",
        "sites": directory / "sites.geojson",
    }
    write_geopackage(parcels.to_crs("EPSG:4549"), paths["parcels"], "parcels")
    paths["communities"].unlink(missing_ok=True)
    communities.to_file(paths["communities"], driver="GeoJSON", engine="pyogrio")
    paths["sites"].unlink(missing_ok=True)
    sites.to_file(paths["sites"], driver="GeoJSON", engine="pyogrio")
    shp = directory / "_shp"
    shp.mkdir(exist_ok=True)
    # Shapefiles cut names to 10 characters (households_count -> households); the import
    # recognises such cuts.
    buildings.to_crs("EPSG:4490").to_file(shp / "buildings.shp", encoding="utf-8", engine="pyogrio")
    with zipfile.ZipFile(paths["buildings"], "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(shp.iterdir()):
            archive.write(part, part.name)
            part.unlink()
    shp.rmdir()
    table = pd.DataFrame(households.drop(columns="geometry"))
    table.insert(2, "lon", households.geometry.x.round(7))
    table.insert(3, "lat", households.geometry.y.round(7))
    table.to_csv(paths["households"], index=False, encoding="utf-8")
    return paths
