"""Import one million households three ways, in one run, on the same file and database.

1. the project's import (``geo_service.ingest.import_file``: every row validated, buildings
   resolved by address, COPY, both GiST indexes and the unique index built);
2. ``geopandas.read_file`` + ``GeoDataFrame.to_postgis`` (GeoAlchemy2 adds a GiST index);
3. ``ogr2ogr -f PostgreSQL`` with ``PG_USE_COPY=YES`` and ``-lco SPATIAL_INDEX=GIST``.

Writes ``benchmarks/results/import_households.{json,md}``, including the plan of a 500 m
query on the imported table (it must use the spatial index).

    .venv/bin/python benchmarks/import_households.py [--households 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from geo_service.database import fresh_database, make_engine
from geo_service.demo import write_city
from geo_service.ingest import TqdmProgress, import_file
from geo_service.settings import ImportSettings
from geo_service.spatial import within_metres

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"


def bench_database() -> str:
    """A fresh ``geo_service_bench`` database (or GEO_SERVICE_BENCH_DATABASE_URL's)."""
    return fresh_database("geo_service_bench", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL"))


def city_files(households: int) -> dict[str, Path]:
    folder = WORK / f"city_{households}"
    wanted = {
        layer: folder / f"city_{layer}.gpkg" for layer in ("communities", "buildings", "households")
    }
    if not all(p.exists() for p in wanted.values()):
        print(f"generating a city of {households:,} households in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        write_city(folder, households=households)
    return wanted


def timed(label: str, action) -> float:
    print(f"== {label}", flush=True)
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"   {seconds:.1f} s", flush=True)
    return seconds


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def plan_of_500m_query(engine: Engine) -> str:
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM households ORDER BY id LIMIT 1 OFFSET 5000")
        ).one()
        condition = within_metres("geom", "ST_Point(:x, :y, 4326)", "500")
        rows = (
            conn.execute(
                text(
                    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM households "
                    f"WHERE {condition}"
                ),
                {"x": lon, "y": lat},
            )
            .scalars()
            .all()
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    args = parser.parse_args()

    files = city_files(args.households)
    url = bench_database()
    engine = make_engine(url)
    settings = ImportSettings(max_upload_mb=4096)
    for layer in ("communities", "buildings"):
        import_file(engine, layer, files[layer], settings=settings)
    rows = count(engine, "buildings")
    print(f"loaded {count(engine, 'communities')} communities and {rows} buildings")

    source = files["households"]
    results: dict[str, dict] = {}

    def project() -> None:
        report = import_file(
            engine, "households", source, mode="replace", settings=settings, progress=TqdmProgress()
        )
        print("  ", report.summary().splitlines()[0])

    seconds = timed("project import (validate, resolve, COPY, indexes)", project)
    results["project import"] = {"seconds": seconds, "rows": count(engine, "households")}
    plan = plan_of_500m_query(engine)

    def geopandas_route() -> None:
        frame = gpd.read_file(source, engine="pyogrio", use_arrow=True)
        frame.to_postgis(
            "households_to_postgis", engine, if_exists="replace", index=False, chunksize=50_000
        )

    seconds = timed("geopandas read_file + to_postgis (GiST index)", geopandas_route)
    results["geopandas to_postgis"] = {
        "seconds": seconds,
        "rows": count(engine, "households_to_postgis"),
    }

    pg = make_url(url)
    dsn = f"PG:host={pg.host} port={pg.port} dbname={pg.database} user={pg.username}" + (
        f" password={pg.password}" if pg.password else ""
    )

    def ogr2ogr() -> None:
        subprocess.run(
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                dsn,
                str(source),
                "-nln",
                "households_ogr",
                "-lco",
                "SPATIAL_INDEX=GIST",
                "-lco",
                "GEOMETRY_NAME=geom",
                "-overwrite",
                "--config",
                "PG_USE_COPY",
                "YES",
            ],
            check=True,
        )

    seconds = timed("ogr2ogr -f PostgreSQL (PG_USE_COPY=YES, SPATIAL_INDEX=GIST)", ogr2ogr)
    results["ogr2ogr"] = {"seconds": seconds, "rows": count(engine, "households_ogr")}

    for entry in results.values():
        entry["rows_per_s"] = round(entry["rows"] / entry["seconds"])
    ours = results["project import"]["rows_per_s"]
    verdict = {
        "at_least_as_fast_as_ogr2ogr": ours >= results["ogr2ogr"]["rows_per_s"],
        "faster_than_to_postgis": ours > results["geopandas to_postgis"]["rows_per_s"],
    }
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": "import_households",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "households": args.households,
        "file": str(source.relative_to(HERE.parent)),
        "file_mb": round(source.stat().st_size / 2**20, 1),
        "results": results,
        "targets": verdict,
        "plan_500m_query": plan,
    }
    (RESULTS / "import_households.json").write_text(json.dumps(payload, indent=2))
    lines = [
        "# Import of households: project vs geopandas vs ogr2ogr",
        "",
        f"{args.households:,} households from one GeoPackage ({payload['file_mb']} MiB), same "
        f"embedded PostGIS, one run, {payload['when']}, {os.cpu_count()} cores.",
        "",
        "| method | seconds | rows | rows/s |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {r['seconds']:.1f} | {r['rows']:,} | {r['rows_per_s']:,} |"
            for name, r in results.items()
        ),
        "",
        f"Targets: at least as fast as ogr2ogr: **{verdict['at_least_as_fast_as_ogr2ogr']}**; "
        f"faster than to_postgis: **{verdict['faster_than_to_postgis']}**.",
        "",
        "The project import includes reading, row validation (geometry, types, duplicates),",
        "resolving each household's building by address, COPY, and building the GiST index,",
        "the unique (building, unit) index and the foreign key to buildings. ogr2ogr builds",
        "its GiST index and primary key; to_postgis its GiST index.",
        "",
        "Plan of a 500 m query on the imported table:",
        "",
        "```",
        plan,
        "```",
    ]
    (RESULTS / "import_households.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
