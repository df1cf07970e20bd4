"""The dashboards at city scale: 1,000,000 households, 120 sites, 100,000 requests.

1. The city of ``impact.py`` goes into a fresh ``geo_service_bench_dashboards`` database
   through the project's import, equipment planned on every site; then, by SQL (the figures
   need rows, not the liaison functions' checks): 100,000 requests on households the sites
   affect, in every state, acknowledged and resolved at spread times; 200,000 visits;
   5,000 micro-wishes; a programme with every affected household enrolled on 12 sites.
2. ``dashboards.site_dashboard`` for every site (p50/p95), and
   ``dashboards.all_sites_dashboard`` for an administrator (every site at once), with the
   indexes that exist; then again after adding the two this benchmark suggests
   (``requests (site_id)``, ``visits (site_id, household_id)``).

Writes ``benchmarks/results/dashboards.{json,md}``.

    .venv/bin/python benchmarks/dashboards.py [--households 1000000] [--requests 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

from impact import RESULTS, city_files, load_city, plan_equipment, spread, stage
from sqlalchemy import Engine, text

from geo_service import dashboards
from geo_service.access import local_operator
from geo_service.database import fresh_database, make_engine
from geo_service.liaison import states
from geo_service.mitigation import programmes

SUGGESTED = (
    "CREATE INDEX ix_requests_site ON requests (site_id)",
    "CREATE INDEX ix_visits_site_household ON visits (site_id, household_id)",
)

_REQUESTS = """
INSERT INTO requests (public_id, site_id, category, channel, state, description, household_id,
    geom, created_at, acknowledge_due, resolve_due, acknowledged_at, resolved_at)
SELECT 'B' || lpad(n::text, 9, '0'), p.site_id, c.code, 'hotline_12345', s.state, '基准',
       p.household_id, h.geom, t.created, t.created + interval '24 hours',
       t.created + interval '14 days',
       CASE WHEN s.state <> 'new' THEN t.created + (n % 48) * interval '1 hour' END,
       CASE WHEN s.state IN ('resolved', 'closed')
            THEN t.created + (n % 25) * interval '1 day' END
FROM (SELECT row_number() OVER () AS n, site_id, household_id
      FROM (SELECT site_id, household_id FROM household_impacts
            ORDER BY md5(site_id::text || household_id::text) LIMIT :n) x) p
JOIN households h ON h.id = p.household_id
CROSS JOIN LATERAL (SELECT now() - (p.n % 200) * interval '1 day' AS created) t
CROSS JOIN LATERAL (SELECT code FROM request_categories
                    ORDER BY position OFFSET p.n % 15 LIMIT 1) c
CROSS JOIN LATERAL (SELECT (:states)[1 + p.n % cardinality(:states)] AS state) s
"""
_VISITS = """
INSERT INTO visits (site_id, household_id, officer, visited_at, outcome, geom)
SELECT hi.site_id, hi.household_id, 'bench', now() - interval '3 days',
       (ARRAY['met', 'not_at_home', 'revisit_needed', 'refused'])[1 + hi.household_id % 4],
       hi.geom
FROM (SELECT hi.site_id, hi.household_id, h.geom FROM household_impacts hi
      JOIN households h ON h.id = hi.household_id
      ORDER BY md5(hi.household_id::text) LIMIT :n) hi
"""


def season(engine: Engine, requests: int) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    every = [*states.OPEN_STATES, "resolved", "closed", "duplicate", "cancelled"]
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(text(_REQUESTS), {"n": requests, "states": every})
        conn.execute(text(_VISITS), {"n": 2 * requests})
        conn.execute(
            text(
                "INSERT INTO micro_wishes (site_code, title, posted_by, state) "
                "SELECT s.code, '微心愿', 'bench', (ARRAY['posted', 'claimed', 'fulfilled'])"
                "[1 + g % 3] FROM sites s CROSS JOIN generate_series(1, :k) g"
            ),
            {"k": 5000 // 120},
        )
        seconds["requests_visits_wishes"] = time.perf_counter() - started
        started = time.perf_counter()
        site_ids = conn.execute(text("SELECT id FROM sites ORDER BY code LIMIT 12")).scalars()
        for site_id in list(site_ids):
            values = {"kind": "sound_insulation_windows", "title": "隔声窗", "min_leq_day": 0}
            created = programmes.create(conn, site_id, values, local_operator())
            programmes.enrol(conn, created["id"], local_operator())
        seconds["programmes"] = time.perf_counter() - started
        for table in ("requests", "visits", "micro_wishes", "mitigation_cases"):
            conn.execute(text(f"ANALYZE {table}"))
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("requests", "visits", "micro_wishes", "mitigation_cases")
        }
    return {"seconds": {k: round(v, 1) for k, v in seconds.items()}, "rows": counts}


def timed(engine: Engine, all_runs: int) -> dict[str, Any]:
    admin = local_operator()
    with engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM sites ORDER BY code")).scalars().all()
        per_site = []
        for code in codes:
            started = time.perf_counter()
            dashboards.site_dashboard(conn, admin, code)
            per_site.append(time.perf_counter() - started)
        every = []
        for _ in range(all_runs):
            started = time.perf_counter()
            board = dashboards.all_sites_dashboard(conn, admin)
            every.append(time.perf_counter() - started)
    return {
        "site_dashboard": spread(per_site),
        "all_sites_dashboard": spread(every),
        "all_sites_households": board["all"]["households"]["households"],
        "all_sites_requests": board["all"]["requests"]["requests"],
    }


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for label in ("existing_indexes", "with_suggested_indexes"):
        r = result[label]
        for kind in ("site_dashboard", "all_sites_dashboard"):
            s = r[kind]
            rows.append(f"| {label} | {kind} | {s['p50_ms']} | {s['p95_ms']} | {s['runs']} |")
    return "\n".join(
        [
            "# Dashboards at city scale",
            "",
            f"{result['households']:,} households, 120 sites; rows: {result['season']['rows']}; "
            f"load average at the start {result['load_average']} on {result['cpus']} cores "
            "(shared: the figures are a ceiling).",
            "",
            "| indexes | query | p50 ms | p95 ms | runs |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            "Suggested indexes: " + "; ".join(f"`{s}`" for s in SUGGESTED),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--all-runs", type=int, default=3)
    args = parser.parse_args()
    url = fresh_database(
        "geo_service_bench_dashboards", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL")
    )
    engine = make_engine(url)
    stage("the city")
    load_city(engine, city_files(args.households))
    plan_equipment(engine)
    stage("a season of requests, visits, wishes and programmes")
    result: dict[str, Any] = {
        "households": args.households,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "season": season(engine, args.requests),
    }
    stage("dashboards, existing indexes")
    result["existing_indexes"] = timed(engine, args.all_runs)
    with engine.begin() as conn:
        for statement in SUGGESTED:
            conn.execute(text(statement))
        conn.execute(text("ANALYZE requests"))
        conn.execute(text("ANALYZE visits"))
    stage("dashboards, suggested indexes")
    result["with_suggested_indexes"] = timed(engine, args.all_runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboards.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "dashboards.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
