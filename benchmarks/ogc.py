"""The OGC API against tipg: item pages and vector tiles, same database, same machine, one run.

Loads the city (1,000,000 households, ~25,000 buildings) through the project's import into a
fresh ``geo_service_bench_ogc`` database, then ``VACUUM ANALYZE`` (what autovacuum does
after a bulk load; both servers read the same tables). Starts this service
(``geo_service.devserver.running_server``, uvicorn, 1 worker) and tipg (``uvicorn
tipg.main:app``, 1 worker, installed in ``benchmarks/work/tipg-venv``, never in the
project's environment) on 127.0.0.1, and asks both for the same things:

* GeoJSON item pages of 1,000 and 10,000 features of households (points) and buildings
  (polygons), at offsets spread over the table (both order by the id);
* vector tiles (WebMercatorQuad) at zoom 12..16, the same z/x/y list for both (tiles holding
  a random sample of households, seeded);
* a whole collection read as GDAL and QGIS read it: the first page of 10,000, then each
  ``next`` link until there is none (ours carry a cursor, tipg's an offset).

Each case runs at concurrency 1 and 8 (asyncio, one keep-alive httpx client with that many
connections, ``Accept-Encoding: identity`` for both: no compression). Reported: features/s,
requests/s, p50/p95 latency, bytes, and for tiles the features (MVT) per tile.

Set-up: ``python3 -m venv benchmarks/work/tipg-venv &&
benchmarks/work/tipg-venv/bin/pip install tipg uvicorn``.

    .venv/bin/python benchmarks/ogc.py [--requests 16] [--tiles-per-zoom 12] [--tile-repeats 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import morecantile
import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

from geo_service.database import fresh_database, make_engine
from geo_service.demo import write_city
from geo_service.devserver import admin_token, dies_with_parent, free_port, running_server
from geo_service.ingest import import_file
from geo_service.settings import ImportSettings

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
TIPG = WORK / "tipg-venv" / "bin"
COLLECTIONS = ("households", "buildings")
UNCACHED = "geo_service, no tile cache"
LIMITS = (1000, 10_000)
ZOOMS = (12, 13, 14, 15, 16)
CONCURRENCY = (1, 8)


def city_files() -> dict[str, Path]:
    folder = WORK / "city_1000000"
    wanted = {
        layer: folder / f"city_{layer}.gpkg" for layer in ("communities", "buildings", "households")
    }
    if not all(p.exists() for p in wanted.values()):
        folder.mkdir(parents=True, exist_ok=True)
        write_city(folder, households=1_000_000)
    return wanted


def prepare() -> tuple[str, dict]:
    url = fresh_database("geo_service_bench_ogc", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL"))
    engine = make_engine(url, pool_size=1)
    settings = ImportSettings(max_upload_mb=4096)
    files = city_files()
    for layer in ("communities", "buildings", "households"):
        started = time.perf_counter()
        import_file(engine, layer, files[layer], settings=settings)
        print(f"imported {layer} in {time.perf_counter() - started:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        counts = {
            c: int(conn.execute(text(f"SELECT count(*) FROM {c}")).scalar_one())
            for c in COLLECTIONS
        }
        sample = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM households"
                " TABLESAMPLE SYSTEM (1) REPEATABLE (7)"
            )
        ).all()
    token = admin_token(engine, "benchmarks/ogc.py")
    engine.dispose()
    return url, {"counts": counts, "points": sample, "token": token}


def tile_list(points: list, per_zoom: int) -> list[tuple[int, int, int]]:
    """Per zoom, the tiles of ``per_zoom`` households drawn at random (seeded), distinct."""
    tms = morecantile.tms.get("WebMercatorQuad")
    rng = random.Random(12)
    tiles = []
    for z in ZOOMS:
        chosen: list[tuple[int, int, int]] = []
        for lon, lat in rng.sample(points, min(len(points), 50 * per_zoom)):
            t = tms.tile(lon, lat, z)
            if (z, t.x, t.y) not in chosen:
                chosen.append((z, t.x, t.y))
            if len(chosen) == per_zoom:
                break
        tiles += chosen
    return tiles


def _wait(server: subprocess.Popen, probe: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(probe, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"server for {probe} exited")
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{probe} did not answer")


@contextmanager
def running_tipg(url: str) -> Iterator[str]:
    """tipg on 127.0.0.1 against the same database, from its own environment."""
    if not (TIPG / "uvicorn").exists():
        raise SystemExit(
            "tipg is not installed: python3 -m venv benchmarks/work/tipg-venv && "
            "benchmarks/work/tipg-venv/bin/pip install tipg uvicorn"
        )
    port = free_port()
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": plain,
        "TIPG_DB_SCHEMAS": '["public"]',
    }
    server = subprocess.Popen(
        [
            TIPG / "uvicorn",
            "tipg.main:app",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", "1",
            "--log-level", "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=tempfile.mkdtemp(prefix="tipg-"),  # no stray .env
        preexec_fn=dies_with_parent,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(server, base + "/collections")
        yield base
    finally:
        server.terminate()
        server.wait(30)


def mvt_counts(data: bytes) -> dict[str, int]:
    """Features per layer of an MVT tile (a minimal protobuf walk: Tile.layers=3,
    Layer.name=1, Layer.features=2)."""

    def varint(buf: bytes, i: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value, i
            shift += 7

    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, i = varint(buf, i)
                yield number, value
            elif wire == 2:
                size, i = varint(buf, i)
                yield number, buf[i : i + size]
                i += size
            elif wire == 1:
                i += 8
            elif wire == 5:
                i += 4
            else:
                raise ValueError(f"wire type {wire}")

    out: dict[str, int] = {}
    for number, layer in fields(data):
        if number != 3:
            continue
        name, n = "?", 0
        for f, v in fields(layer):
            if f == 1:
                name = v.decode()
            elif f == 2:
                n += 1
        out[name] = out.get(name, 0) + n
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    ms = np.array(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


async def timed_run(
    base: str, headers: dict, paths: list[str], concurrency: int
) -> tuple[float, list[float], list[str]]:
    """Request ``paths`` (in order, ``concurrency`` at a time); wall time, latencies, errors."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(paths))
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as c:
        # Open the connections before the clock starts.
        await asyncio.gather(*(c.get("/healthz") for _ in range(concurrency)))

        async def worker() -> None:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                try:
                    answer = await c.get(path)
                    ok = answer.status_code == 200
                    problem = f"{answer.status_code} {path}: {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, problem = False, f"{type(exc).__name__} {path}"
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors.append(problem)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return wall, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16, help="requests per page case")
    parser.add_argument("--pages", type=int, default=8, help="distinct offsets per case")
    parser.add_argument("--tiles-per-zoom", type=int, default=12)
    parser.add_argument("--tile-repeats", type=int, default=4, help="requests per tile per case")
    parser.add_argument(
        "--no-full-read",
        dest="full_read",
        action="store_false",
        help="skip reading whole collections through next links",
    )
    args = parser.parse_args()

    url, data = prepare()
    tiles = tile_list(data["points"], args.tiles_per_zoom)
    common = {"Accept-Encoding": "identity"}
    stack = ExitStack()
    home = tempfile.mkdtemp(prefix="geo-ogc-")
    ours_base = stack.enter_context(running_server(url, env={"GEO_SERVICE_HOME": home}))
    # The same service with its tile cache off: every tile built by PostGIS, as tipg does.
    uncached_base = stack.enter_context(
        running_server(url, env={"GEO_SERVICE_HOME": home, "GEO_SERVICE_TILE_CACHE_MB": "0"})
    )
    tipg_base = stack.enter_context(running_tipg(url))
    ours = {
        "headers": {**common, "Authorization": f"Bearer {data['token']}"},
        "items": "/ogc/collections/{c}/items?limit={limit}&offset={offset}",
        "tile": "/ogc/collections/{c}/tiles/WebMercatorQuad/{z}/{x}/{y}",
    }
    servers = {
        "geo_service": {"base": ours_base, **ours},
        UNCACHED: {"base": uncached_base, **ours},
        "tipg": {
            "base": tipg_base,
            "headers": dict(common),
            "items": "/collections/public.{c}/items?limit={limit}&offset={offset}",
            "tile": "/collections/public.{c}/tiles/WebMercatorQuad/{z}/{x}/{y}",
        },
    }
    load_before = os.getloadavg()
    pages: list[dict] = []
    tile_rows: list[dict] = []
    reads: list[dict] = []
    with stack:
        for c in COLLECTIONS:
            for limit in LIMITS:
                top = max(0, data["counts"][c] - limit)
                offsets = sorted(
                    {round(top * k / max(1, args.pages - 1)) for k in range(args.pages)}
                )
                for name, s in servers.items():
                    if name == UNCACHED:  # pages are the same code with or without it
                        continue
                    paths = [s["items"].format(c=c, limit=limit, offset=o) for o in offsets]
                    # Warm-up pass (not timed): every page once, checked and counted.
                    returned, sizes = {}, {}
                    with httpx.Client(base_url=s["base"], headers=s["headers"], timeout=120) as h:
                        for p in paths:
                            answer = h.get(p, headers={"Accept": "application/geo+json"})
                            answer.raise_for_status()
                            returned[p] = len(answer.json()["features"])
                            sizes[p] = len(answer.content)
                    run = [paths[i % len(paths)] for i in range(args.requests)]
                    for conc in CONCURRENCY:
                        wall, lat, errors = asyncio.run(
                            timed_run(
                                s["base"],
                                {**s["headers"], "Accept": "application/geo+json"},
                                run,
                                conc,
                            )
                        )
                        features = sum(returned[p] for p in run)
                        row = {
                            "server": name,
                            "collection": c,
                            "limit": limit,
                            "concurrency": conc,
                            "requests": len(run),
                            "errors": len(errors),
                            "error_examples": errors[:3],
                            "features": features,
                            "features_per_page": sorted(set(returned.values())),
                            "mean_bytes": round(sum(sizes[p] for p in run) / len(run)),
                            "seconds": round(wall, 2),
                            "features_per_s": round(features / wall),
                            "requests_per_s": round(len(run) / wall, 2),
                            **percentiles(lat),
                        }
                        pages.append(row)
                        print(
                            f"{name:11} {c:10} limit={limit:<6} c={conc} "
                            f"{row['features_per_s']:>8,} f/s p50={row['p50_ms']} "
                            f"p95={row['p95_ms']} ms errors={len(errors)}",
                            flush=True,
                        )
        for c in COLLECTIONS:
            for name, s in servers.items():
                paths = {t: s["tile"].format(c=c, z=t[0], x=t[1], y=t[2]) for t in tiles}
                info = {}
                with httpx.Client(base_url=s["base"], headers=s["headers"], timeout=120) as h:
                    for t, p in paths.items():
                        answer = h.get(p)
                        ok = answer.status_code in (200, 204)
                        info[t] = {
                            "status": answer.status_code,
                            "bytes": len(answer.content) if ok else 0,
                            "features": sum(mvt_counts(answer.content).values()) if ok else 0,
                        }
                for z in ZOOMS:
                    zpaths = [p for t, p in paths.items() if t[0] == z]
                    ztiles = [t for t in paths if t[0] == z]
                    for conc in CONCURRENCY:
                        wall, lat, errors = asyncio.run(
                            timed_run(s["base"], s["headers"], zpaths * args.tile_repeats, conc)
                        )
                        errors = [e for e in errors if not e.startswith("204 ")]
                        feats = [info[t]["features"] for t in ztiles]
                        row = {
                            "server": name,
                            "collection": c,
                            "zoom": z,
                            "concurrency": conc,
                            "tiles": len(ztiles),
                            "requests": len(zpaths) * args.tile_repeats,
                            "errors": len(errors),
                            "error_examples": errors[:3],
                            "statuses": sorted({info[t]["status"] for t in ztiles}),
                            "mean_bytes": round(np.mean([info[t]["bytes"] for t in ztiles])),
                            "mean_features": round(float(np.mean(feats)), 1),
                            "max_features": max(feats),
                            "tiles_at_10000": sum(f >= 10_000 for f in feats),
                            "requests_per_s": round(len(zpaths) * args.tile_repeats / wall, 1),
                            **percentiles(lat),
                        }
                        tile_rows.append(row)
                        print(
                            f"{name:11} {c:10} z={z} c={conc} p50={row['p50_ms']} "
                            f"p95={row['p95_ms']} ms bytes={row['mean_bytes']} "
                            f"features={row['mean_features']} (max {row['max_features']}) "
                            f"errors={len(errors)}",
                            flush=True,
                        )
        if args.full_read:
            for c in COLLECTIONS:
                for name, s in servers.items():
                    if name == UNCACHED:
                        continue
                    row = read_all(name, s, c, data["counts"][c])
                    reads.append(row)
                    print(
                        f"{name:11} {c:10} whole collection: {row['features']:,} features, "
                        f"{row['pages']} pages in {row['seconds']} s, "
                        f"{row['features_per_s']:,} f/s",
                        flush=True,
                    )
    write_results(data, tiles, pages, tile_rows, reads, load_before, args)


def read_all(name: str, server: dict, collection: str, expected: int) -> dict:
    """Read a collection as GDAL does: 10,000 per page, following ``next`` until the end."""
    first = server["items"].format(c=collection, limit=10_000, offset=0)
    href: str | None = first
    features = pages = 0
    slowest = 0.0
    started = time.perf_counter()
    with httpx.Client(base_url=server["base"], headers=server["headers"], timeout=600) as h:
        while href:
            t = time.perf_counter()
            doc = h.get(href, headers={"Accept": "application/geo+json"}).raise_for_status().json()
            slowest = max(slowest, time.perf_counter() - t)
            features += len(doc["features"])
            pages += 1
            href = next((x["href"] for x in doc["links"] if x["rel"] == "next"), None)
            if not doc["features"]:
                break
    wall = time.perf_counter() - started
    return {
        "server": name,
        "collection": collection,
        "features": features,
        "expected": expected,
        "complete": features == expected,
        "pages": pages,
        "seconds": round(wall, 1),
        "features_per_s": round(features / wall),
        "slowest_page_ms": round(slowest * 1000, 1),
    }


def _tipg_version() -> str:
    try:
        out = subprocess.run(
            [TIPG / "python", "-c", "import tipg; print(tipg.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def write_results(data, tiles, pages, tile_rows, reads, load_before, args) -> None:
    def find(rows, **keys):
        return next(r for r in rows if all(r[k] == v for k, v in keys.items()))

    page_cmp = []
    for c in COLLECTIONS:
        for limit in LIMITS:
            for conc in CONCURRENCY:
                a = find(pages, server="geo_service", collection=c, limit=limit, concurrency=conc)
                b = find(pages, server="tipg", collection=c, limit=limit, concurrency=conc)
                page_cmp.append(
                    {
                        "collection": c,
                        "limit": limit,
                        "concurrency": conc,
                        "ratio": round(a["features_per_s"] / max(1, b["features_per_s"]), 2),
                    }
                )
    tile_cmp = []
    for server in ("geo_service", UNCACHED):
        for c in COLLECTIONS:
            for z in ZOOMS:
                for conc in CONCURRENCY:
                    a = find(tile_rows, server=server, collection=c, zoom=z, concurrency=conc)
                    b = find(tile_rows, server="tipg", collection=c, zoom=z, concurrency=conc)
                    tile_cmp.append(
                        {
                            "server": server,
                            "collection": c,
                            "zoom": z,
                            "concurrency": conc,
                            "p50_ratio": round(a["p50_ms"] / max(0.1, b["p50_ms"]), 2),
                        }
                    )
    targets = {
        "geojson_pages_at_least_2x_tipg_features_per_s": all(r["ratio"] >= 2 for r in page_cmp),
        "tile_p50_no_slower_than_tipg": all(
            r["p50_ratio"] <= 1 for r in tile_cmp if r["server"] == "geo_service"
        ),
        "tile_p50_no_slower_than_tipg_without_the_tile_cache": all(
            r["p50_ratio"] <= 1 for r in tile_cmp if r["server"] == UNCACHED
        ),
    }
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    payload = {
        "benchmark": "ogc",
        "when": when,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "tipg_version": _tipg_version(),
        "rows": data["counts"],
        "settings": {
            "requests_per_page_case": args.requests,
            "distinct_pages": args.pages,
            "tiles_per_zoom": args.tiles_per_zoom,
            "tile_repeats": args.tile_repeats,
            "accept_encoding": "identity",
            "workers": 1,
        },
        "tiles": tiles,
        "pages": pages,
        "tile_results": tile_rows,
        "page_ratios": page_cmp,
        "tile_p50_ratios": tile_cmp,
        "whole_collection_reads": reads,
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ogc.json").write_text(json.dumps(payload, indent=2))
    m = payload["machine"]
    lines = [
        "# OGC API: geo_service vs tipg",
        "",
        f"Same embedded PostGIS database ({data['counts']['households']:,} households, "
        f"{data['counts']['buildings']:,} buildings, loaded by the project's import), same "
        f"machine, one run, {when}, {m['cpus']} cores, load average "
        f"{m['load_average_before'][0]} before / {m['load_average_after'][0]} after; tipg "
        f"{payload['tipg_version']}. Both on uvicorn, 1 worker, 127.0.0.1; clients on the same "
        "machine (httpx, keep-alive, `Accept-Encoding: identity`: no compression for either). "
        "geo_service is asked with an admin token; tipg has no authentication.",
        "",
        "## GeoJSON item pages",
        "",
        f"{args.pages} offsets spread over the table, {args.requests} requests per case "
        "(both order by id; every page fetched and parsed once before the clock).",
        "",
        "| collection | limit | conc. | server | features/s | req/s | p50 ms | p95 ms"
        " | MiB/page | errors |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in pages:
        lines.append(
            f"| {r['collection']} | {r['limit']:,} | {r['concurrency']} | {r['server']} | "
            f"{r['features_per_s']:,} | {r['requests_per_s']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['mean_bytes'] / 2**20:.2f} | {r['errors']} |"
        )
    lines += [
        "",
        "features/s, geo_service / tipg: "
        + ", ".join(
            f"{r['collection']} {r['limit']:,} c{r['concurrency']}: **{r['ratio']}x**"
            for r in page_cmp
        ),
        "",
        "## Vector tiles (WebMercatorQuad)",
        "",
        f"Up to {args.tiles_per_zoom} tiles per zoom, the tiles of households drawn at random "
        f"(seeded), the same z/x/y for all; each tile requested {args.tile_repeats} times per "
        "case, after one untimed request (so `geo_service` answers from its tile cache; "
        f"`{UNCACHED}` builds every tile, as tipg does). Features are "
        "counted in the MVT. geo_service draws households below zoom 15 as a grid of counts "
        "(at most 64x64 cells per tile) and never truncates; tipg caps a tile at 10,000 "
        "features (`TIPG_MAX_FEATURES_PER_TILE`), so `at 10k` tiles are truncated by tipg.",
        "",
        "| collection | zoom | conc. | server | p50 ms | p95 ms | req/s | mean KiB"
        " | mean features | max features | at 10k | errors |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in tile_rows:
        lines.append(
            f"| {r['collection']} | {r['zoom']} | {r['concurrency']} | {r['server']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['requests_per_s']} | "
            f"{r['mean_bytes'] / 1024:.1f} | {r['mean_features']:,} | {r['max_features']:,} | "
            f"{r['tiles_at_10000']} | {r['errors']} |"
        )
    lines += [
        "",
        *(
            f"tile p50, {server} / tipg (<= 1 is no slower): "
            + ", ".join(
                f"{r['collection']} z{r['zoom']} c{r['concurrency']}: {r['p50_ratio']}"
                for r in tile_cmp
                if r["server"] == server
            )
            + "\n"
            for server in ("geo_service", UNCACHED)
        ),
        "",
        "## Whole collections through next links",
        "",
        "What GDAL and QGIS do: 10,000 features per page, following each `next` link until "
        "there is none. geo_service's next links carry a cursor (`after=<last id>`); tipg's "
        "an offset.",
        "",
        "| collection | server | features | complete | pages | seconds | features/s "
        "| slowest page ms |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['collection']} | {r['server']} | {r['features']:,} | {r['complete']} | "
            f"{r['pages']} | {r['seconds']} | {r['features_per_s']:,} | {r['slowest_page_ms']} |"
            for r in reads
        ),
        "",
        "Targets: GeoJSON pages >= 2x tipg's features/s: "
        f"**{targets['geojson_pages_at_least_2x_tipg_features_per_s']}**; tile p50 no slower "
        f"than tipg's: **{targets['tile_p50_no_slower_than_tipg']}** (with the tile cache "
        "off, every tile built by PostGIS as tipg does: "
        f"**{targets['tile_p50_no_slower_than_tipg_without_the_tile_cache']}**).",
    ]
    (RESULTS / "ogc.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
