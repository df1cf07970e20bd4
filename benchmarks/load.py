"""A bounded load test on loopback: 50 clients for 60 s against the demo district.

Starts ``uvicorn`` (``--workers 2`` by default) on 127.0.0.1 against a fresh database holding
the demo district (``geo_service.demo.load_demo``), then runs ``--clients`` asyncio clients
(httpx, one connection each, admin token) for ``--seconds`` or ``--max-requests`` in all,
whichever comes first. Each client picks requests from a weighted mix of what the users do:
site lists, parcel lookups, household pages, impact summaries, the landing page, and the
OGC API (item pages, vector tiles). Any answer that is not 200 counts as an error.

Writes ``benchmarks/results/load.{json,md}``: throughput, and p50/p95/p99 latency per kind
of request and overall.

    .venv/bin/python benchmarks/load.py [--clients 50] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import morecantile
import numpy as np
from sqlalchemy import text

from geo_service.database import fresh_database, make_engine
from geo_service.demo import load_demo
from geo_service.devserver import admin_token, running_server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def prepare() -> tuple[str, dict[str, list]]:
    """A fresh database with the demo district; the ids the requests pick from."""
    url = fresh_database("geo_service_load", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL"))
    engine = make_engine(url, pool_size=1)
    print("loading the demo district", flush=True)
    load_demo(engine)
    with engine.connect() as conn:
        sites = conn.execute(text("SELECT code FROM sites ORDER BY code")).scalars().all()
        parcels = conn.execute(text("SELECT code FROM parcels ORDER BY code")).scalars().all()
        households = (
            conn.execute(text("SELECT id FROM households ORDER BY id LIMIT 2000")).scalars().all()
        )
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM sites) x"
            )
        ).one()
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [
        (t.z, t.x, t.y)
        for z in (14, 15, 16)
        for t in tms.tiles(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01, [z])
    ]
    token = admin_token(engine, "benchmarks/load.py")
    engine.dispose()
    return url, {
        "sites": sites,
        "parcels": parcels,
        "households": households,
        "tiles": tiles,
        "token": [token],
    }


# (kind, weight, path builder)
MIX = [
    ("landing", 5, lambda d, r: "/"),
    ("sites", 10, lambda d, r: "/api/sites"),
    ("parcel", 15, lambda d, r: f"/api/parcels/{r.choice(d['parcels'])}"),
    (
        "households",
        20,
        lambda d, r: (
            f"/api/sites/{r.choice(d['sites'])}/households?limit=100"
            f"&offset={r.choice([0, 0, 100, 200])}"
        ),
    ),
    ("impact", 15, lambda d, r: f"/api/sites/{r.choice(d['sites'])}/impact"),
    (
        "ogc_items",
        15,
        lambda d, r: (
            f"/ogc/collections/{r.choice(['parcels', 'sites', 'buildings'])}"
            f"/items?limit=50&offset={r.choice([0, 50])}"
        ),
    ),
    ("ogc_feature", 5, lambda d, r: f"/ogc/collections/parcels/items/{r.choice(d['parcels'])}"),
    (
        "ogc_tile",
        15,
        lambda d, r: "/ogc/tiles/WebMercatorQuad/{}/{}/{}".format(*r.choice(d["tiles"])),
    ),
]


async def client_loop(
    base: str,
    data: dict,
    seed: int,
    stop_at: float,
    budget: list[int],
    timings: dict[str, list[float]],
    errors: dict[str, list[str]],
) -> None:
    rng = random.Random(seed)
    kinds = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    builders = {m[0]: m[2] for m in MIX}
    headers = {"Authorization": f"Bearer {data['token'][0]}", "Accept": "application/json"}
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            kind = rng.choices(kinds, weights)[0]
            path = builders[kind](data, rng)
            started = time.perf_counter()
            try:
                answer = await c.get(path)
                await answer.aread()
                ok = answer.status_code == 200
                problem = f"{answer.status_code} {path}: {answer.text[:200]}"
            except httpx.HTTPError as exc:
                ok, problem = False, f"{type(exc).__name__} {path}"
            timings[kind].append(time.perf_counter() - started)
            if not ok:
                errors[kind].append(problem)


def percentiles(values: list[float]) -> dict[str, float]:
    ms = np.array(values) * 1000
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    url, data = prepare()
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    home = tempfile.mkdtemp(prefix="geo-load-")
    with running_server(url, workers=args.workers, env={"GEO_SERVICE_HOME": home}) as base:
        # Warm-up: one of each kind, not counted (first-use imports, plan caches).
        warm = {m[0]: m[2](data, random.Random(0)) for m in MIX}
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {data['token'][0]}"}
        ) as c:
            for path in warm.values():
                c.get(path, timeout=60)
        print(f"{args.clients} clients for {args.seconds:.0f} s on {base}", flush=True)
        started = time.monotonic()
        budget = [args.max_requests]

        async def run() -> None:
            stop_at = time.monotonic() + args.seconds
            await asyncio.gather(
                *(
                    client_loop(base, data, seed, stop_at, budget, timings, errors)
                    for seed in range(args.clients)
                )
            )

        asyncio.run(run())
        elapsed = time.monotonic() - started

    every = [t for values in timings.values() for t in values]
    total_errors = sum(len(e) for e in errors.values())
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # 1-minute load average at the end: other work on the machine skews the figures.
            "load_average_1min": round(os.getloadavg()[0], 1),
        },
        "server": f"uvicorn --workers {args.workers}, 127.0.0.1",
        "data": {
            "sites": len(data["sites"]),
            "parcels": len(data["parcels"]),
            "households_sampled": len(data["households"]),
        },
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "errors": total_errors,
        "throughput_rps": round(len(every) / elapsed, 1),
        "overall": percentiles(every),
        "by_kind": {
            kind: {**percentiles(timings[kind]), "errors": len(errors[kind])}
            for kind in [m[0] for m in MIX]
            if timings[kind]
        },
        "error_samples": {k: v[:5] for k, v in errors.items() if v},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "load.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    lines = [
        f"# Load: {r['clients']} concurrent clients on the demo district",
        "",
        f"{r['when']}; {r['server']}; {r['machine']['cpus']} CPUs (clients on the same machine, "
        f"load average {r['machine']['load_average_1min']} at the end); "
        f"{r['clients']} clients for {r['seconds']} s; demo district ({r['data']['sites']} sites, "
        f"{r['data']['parcels']} parcels).",
        "",
        f"**{r['requests']:,} requests, {r['errors']} errors, {r['throughput_rps']} requests/s.**",
        "",
        "| request | count | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, s in r["by_kind"].items():
        lines.append(
            f"| {kind} | {s['requests']:,} | {s['errors']} | {s['p50_ms']} | {s['p95_ms']} | "
            f"{s['p99_ms']} | {s['max_ms']} |"
        )
    o = r["overall"]
    lines.append(
        f"| **all** | {o['requests']:,} | {r['errors']} | {o['p50_ms']} | {o['p95_ms']} | "
        f"{o['p99_ms']} | {o['max_ms']} |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
