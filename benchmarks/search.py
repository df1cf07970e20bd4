"""The maps' search (``/api/search``) on the city: ~25,000 buildings, ~6,000 parcels.

Loads ``benchmarks/work/city_1000000/city_{parcels,sites,communities,buildings}.gpkg``
(generated on first use; households are not searched, so not loaded) into a fresh
``geo_service_bench_search`` database through the project's import, which spells every
searchable key in pinyin (``geo_service.pinyin``). Then runs the search's SQL (the API's
own ``_search_sql``, ``limit=8`` as the maps' box asks) for a set of queries, ``--runs``
times each after one warm-up, twice: as the migrations build the tables (a pg_trgm GIN
index on every search key and on ``search_pinyin``), and with those indexes dropped.
Also: the time to spell every building's address in Python, cold (``search_text``).

Writes ``benchmarks/results/search.{json,md}``.

    .venv/bin/python benchmarks/search.py [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path

from sqlalchemy import Engine, text

from geo_service.api.search import _params, _search_sql
from geo_service.database import fresh_database, make_engine
from geo_service.demo import write_city
from geo_service.ingest import import_file
from geo_service.pinyin import _han_run, search_text
from geo_service.schema import search_indexes
from geo_service.settings import ImportSettings
from layers import LAYERS
from layers.base import SEARCH_COLUMN

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / "work"
HOUSEHOLDS = 1_000_000
SEARCHED = ("parcels", "sites", "communities", "buildings")
# What a planner types: a community by name, by its initials and full pinyin, an address
# prefix, an exact parcel code, two letters that match nearly everything, and a miss.
QUERIES = (
    "示例0012社区",
    "sl0012sq",
    "shili0012",
    "杭州市拱墅区示例",
    "拱墅",
    "HZ0482-S1-01",
    "sl",
    "zzzz",
)


def city_files() -> dict[str, Path]:
    folder = WORK / f"city_{HOUSEHOLDS}"
    wanted = {layer: folder / f"city_{layer}.gpkg" for layer in SEARCHED}
    if not all(p.exists() for p in wanted.values()):
        print(f"generating the city in {folder}", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_city(folder, households=HOUSEHOLDS)
    return wanted


def load(engine: Engine) -> dict[str, float]:
    settings = ImportSettings(max_upload_mb=4096)
    seconds = {}
    for layer, path in city_files().items():
        started = time.perf_counter()
        import_file(engine, layer, path, settings=settings)
        seconds[layer] = round(time.perf_counter() - started, 2)
        print(f"  imported {layer} in {seconds[layer]} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return seconds


def spelling_seconds(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        addresses = conn.execute(text("SELECT address FROM buildings")).scalars().all()
    _han_run.cache_clear()
    started = time.perf_counter()
    for address in addresses:
        search_text([address])
    return {"buildings": len(addresses), "seconds": round(time.perf_counter() - started, 3)}


def trigram_indexes() -> list[str]:
    """The names of the trigram indexes the schema declares (``search_indexes``)."""
    return [ix.name for t in SEARCHED for ix in search_indexes(LAYERS[t]) if ix.name]


def time_queries(engine: Engine, runs: int) -> dict[str, dict]:
    sql = text(_search_sql())
    found = {}
    with engine.connect() as conn:
        for q in QUERIES:
            params = _params(q, 8)
            body = json.loads(conn.execute(sql, params).scalar_one())  # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                conn.execute(sql, params).scalar_one()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            found[q] = {
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 2),
                "first": [f"{r['layer']}:{r['label']}" for r in body["results"][:3]],
                "results": len(body["results"]),
            }
            print(f"  {q}: p50 {found[q]['p50_ms']} ms, first {found[q]['first'][:1]}", flush=True)
    return found


def plan(engine: Engine, q: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + _search_sql()), _params(q, 8)
        ).scalars()
        return list(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    explicit = os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL")
    url = fresh_database("geo_service_bench_search", explicit)
    engine = make_engine(url, pool_size=1)
    result: dict = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    result["import_seconds"] = load(engine)
    with engine.connect() as conn:
        result["counts"] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in SEARCHED
        }
        result["spelt"] = {
            t: conn.execute(text(f"SELECT count({SEARCH_COLUMN}) FROM {t}")).scalar_one()
            for t in SEARCHED
        }
    result["spelling"] = spelling_seconds(engine)
    print("as migrated (pg_trgm GIN on the keys and the pinyin)", flush=True)
    result["trigram"] = time_queries(engine, args.runs)
    result["plan_trigram"] = plan(engine, "sl0012sq")
    with engine.begin() as conn:
        for name in trigram_indexes():
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("ANALYZE"))
    print("without those indexes", flush=True)
    result["no_index"] = time_queries(engine, args.runs)
    engine.dispose()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "search.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    c, m = r["counts"], r["machine"]
    lines = [
        "# The maps' search on the city",
        "",
        f"{r['when']}; {m['cpus']} CPUs, load average (1/5/15 min) {m['load_average_before']} "
        f"before, {m['load_average_after']} after (PostgreSQL and Python on the same machine).",
        "",
        f"{c['buildings']:,} buildings, {c['parcels']:,} parcels, {c['communities']:,} "
        f"communities, {c['sites']} sites; spelt in pinyin: {r['spelt']}. Import seconds "
        f"(with the spelling): {r['import_seconds']}. Spelling every building's address in "
        f"Python, cold: {r['spelling']['seconds']} s.",
        "",
        "The API's SQL, `limit=8`, p50 / p95 ms over the runs:",
        "",
        "| query | pg_trgm GIN (as migrated) | no index | first result |",
        "| --- | ---: | ---: | --- |",
    ]
    for q, t in r["trigram"].items():
        n = r["no_index"][q]
        first = t["first"][0] if t["first"] else "(none)"
        lines.append(
            f"| `{q}` | {t['p50_ms']} / {t['p95_ms']} | {n['p50_ms']} / {n['p95_ms']} | {first} |"
        )
    lines += ["", "Plan of `sl0012sq` as migrated:", "", "```", *r["plan_trigram"], "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
