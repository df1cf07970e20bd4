"""The liaison workspace at city scale: a working group's first screens and the SLA pass.

1. The city (1,000,000 households, 120 sites) goes into a fresh ``geo_service_bench_liaison``
   database through the project's import, with equipment planned on every site.
2. A season of liaison work on it: 500,000 visits through ``visits.log_many`` (the function
   the demo and a sheet import use: every visit checked against the site's affected
   households, audited) and 100,000 requests over the last 120 days, in every category and
   state, with their due times from the categories' SLAs, written in bulk by SQL (recorded
   one by one through ``requests.create`` they would take most of an hour of round trips;
   what is measured below is reading and working them, not recording them).
3. Through HTTP (uvicorn on 127.0.0.1, one keep-alive httpx client, an admin API token),
   p50/p95 over every site: each URL of ``SCREENS`` (the board's page and its list, a
   site's coverage and dashboard), and ``CITY_RUNS`` times each of ``CITY_SCREENS`` (the
   city's first page, Open311's ``requests.json``, the all-sites dashboard); target p50
   under 100 ms each. 5,000 micro-wishes and 12 sound-insulation programmes (every affected
   household enrolled, through the programme functions) give the dashboards all they count.
4. The SLA pass (``sla.run``) over every open request: the first pass (recording the
   warnings, breaches and escalations the bulk season left due) and a second one straight
   after (nothing left to do: its cost is that of a pass on a quiet day).

Writes ``benchmarks/results/liaison.{json,md}``.

    .venv/bin/python benchmarks/liaison.py [--households 1000000] [--requests 100000]
        [--visits 500000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from typing import Any

import httpx
import numpy as np
from impact import RESULTS, city_files, load_city, machine, plan_equipment, spread, stage
from sqlalchemy import Engine, text
from tqdm import tqdm

from geo_service.access import Principal, local_operator
from geo_service.database import fresh_database, make_engine, server_versions
from geo_service.devserver import admin_token, running_server
from geo_service.liaison import sla, states, visits
from geo_service.liaison.calendar import TZ
from geo_service.mitigation import programmes
from geo_service.settings import LiaisonSettings
from layers.requests import STATES
from layers.visits import OUTCOMES

TARGET_P50_MS = 100.0
SEASON_DAYS = 120
VISIT_BATCH = 20_000
# What a working group opens first, per site ({code}); None: once for the whole city.
SCREENS: dict[str, str] = {
    "board page (HTML, list and map)": "/liaison/board?site={code}",
    "board, first page": "/api/requests?site={code}&limit=50",
    "board, overdue": "/api/requests?site={code}&overdue=true&limit=50",
    "board, one category": "/api/requests?site={code}&category=noise&limit=50",
    "coverage": "/api/sites/{code}/coverage",
    "site dashboard": "/api/dashboards/sites/{code}",
    "site dashboard page (HTML)": "/dashboards/sites/{code}",
}
CITY_SCREENS: dict[str, str] = {
    "all sites, first page": "/api/requests?limit=50",
    "all sites, overdue": "/api/requests?overdue=true&limit=50",
    "Open311 requests.json": "/open311/v2/requests.json",
    "Open311 requests.json, open noise": "/open311/v2/requests.json?service_code=noise&status=open",
    "all-sites dashboard": "/api/dashboards",
}
CITY_RUNS = 10  # the city's screens: the same URL each time, so fewer runs than sites


def bench_database() -> str:
    explicit = os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL")
    return fresh_database("geo_service_bench_liaison", explicit)


def _affected(engine: Engine) -> dict[int, np.ndarray]:
    """Every site's affected households (the impact view, all sites at once)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT site_id, household_id FROM household_impacts")).all()
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return {
        int(site): pairs[pairs[:, 0] == site, 1]
        for site in np.unique(pairs[:, 0])
        if (pairs[:, 0] == site).any()
    }


def season_of_visits(engine: Engine, affected: dict[int, np.ndarray], total: int) -> float:
    """``total`` visits spread over the sites in proportion to their households."""
    rng = np.random.default_rng(14)
    with engine.connect() as conn:
        codes = dict(conn.execute(text("SELECT id, code FROM sites")).all())
    weights = np.array([len(h) for h in affected.values()], dtype=float)
    per_site = np.floor(weights / weights.sum() * total).astype(int)
    now = dt.datetime.now(dt.UTC)
    outcomes = list(OUTCOMES)
    batch: list[visits.NewVisit] = []
    operator = Principal(role="admin", username="bench", via="token")
    started = time.perf_counter()
    with tqdm(total=int(per_site.sum()), desc="visits (log_many)", unit="visit") as bar:
        for (site, homes), count in zip(affected.items(), per_site, strict=True):
            chosen = rng.choice(homes, size=count, replace=count > len(homes))
            ages = rng.uniform(0, SEASON_DAYS * 86400, size=count)
            picks = rng.integers(0, len(outcomes), size=count)
            for household, age, pick in zip(chosen, ages, picks, strict=True):
                batch.append(
                    visits.NewVisit(
                        site=codes[site],
                        household=int(household),
                        outcome=outcomes[pick],
                        visited_at=now - dt.timedelta(seconds=float(age)),
                        notes="示例：住户反映夜间施工噪声" if pick == 0 else None,
                    )
                )
                if len(batch) == VISIT_BATCH:
                    with engine.begin() as conn:
                        visits.log_many(conn, operator, batch)
                    bar.update(len(batch))
                    batch = []
        if batch:
            with engine.begin() as conn:
                visits.log_many(conn, operator, batch)
            bar.update(len(batch))
    return time.perf_counter() - started


_AFFECTED = """
CREATE TEMP TABLE affected ON COMMIT DROP AS
SELECT site_id, household_id,
       row_number() OVER (PARTITION BY site_id ORDER BY household_id) AS rn,
       count(*) OVER (PARTITION BY site_id) AS households
FROM household_impacts;
CREATE INDEX ON affected (site_id, rn);
ANALYZE affected
"""
_REQUESTS = """
WITH picked AS (
    SELECT n, (ARRAY(SELECT id FROM sites ORDER BY id))[1 + (n * 7919) % :sites] AS site_id,
           now() - make_interval(secs => random() * :season * 86400) AS created_at,
           random() AS r, random() AS s, floor(random() * 15)::int AS k
    FROM generate_series(1, :total) AS n
), placed AS (
    SELECT p.*, c.code AS category, c.acknowledge_hours, c.resolve_working_days,
           -- seven in ten tied to a household the site affects, the others to a point
           CASE WHEN p.s < 0.7 THEN
               (SELECT household_id FROM affected a
                WHERE a.site_id = p.site_id
                  AND a.rn = 1 + floor(p.s / 0.7 * a.households)::int)
           END AS household_id
    FROM picked p
    JOIN (SELECT code, acknowledge_hours, resolve_working_days,
                 row_number() OVER (ORDER BY code) - 1 AS k
          FROM request_categories) c ON c.k = p.k
)
INSERT INTO requests (public_id, site_id, category, channel, state, description,
    household_id, reporter_name, reporter_phone, assignee, acknowledge_due, resolve_due,
    acknowledged_at, resolved_at, closed_at, geom, created_at, updated_at)
SELECT 'B' || lpad(n::text, 9, '0'), site_id, category,
       (ARRAY['visit','hotline_12345','walk_in','web','open311'])[1 + n % 5],
       (ARRAY[:states])[1 + floor(r * :n_states)::int],
       '示例诉求 ' || n, household_id, '示例-居民', '199-0000-' || lpad((n % 10000)::text, 4, '0'),
       CASE WHEN r > 0.2 THEN 'liaison-bench' END,
       created_at + make_interval(hours => acknowledge_hours),
       created_at + make_interval(days => resolve_working_days * 7 / 5),
       CASE WHEN r > 0.15 THEN created_at + make_interval(hours => 1 + (n % 30)) END,
       CASE WHEN r > 0.6 THEN created_at + make_interval(days => 1 + n % 15) END,
       CASE WHEN r > 0.8 THEN created_at + make_interval(days => 2 + n % 15) END,
       COALESCE((SELECT geom FROM households WHERE id = household_id),
                (SELECT ST_PointOnSurface(geom) FROM sites WHERE id = site_id)),
       created_at, created_at
FROM placed
"""


def season_of_requests(engine: Engine, total: int) -> float:
    """``total`` requests in SQL, their created events with them."""
    started = time.perf_counter()
    with engine.begin() as conn:
        sites = conn.execute(text("SELECT count(*) FROM sites")).scalar_one()
        spread_states = ", ".join(f"'{s}'" for s in STATES)
        conn.execute(text(_AFFECTED))
        conn.execute(
            text(_REQUESTS.replace(":states", spread_states)),
            {"sites": sites, "season": SEASON_DAYS, "total": total, "n_states": len(STATES)},
        )
        conn.execute(
            text("""
INSERT INTO request_events (request_id, at, actor, role, kind, to_state, detail)
SELECT id, created_at, 'bench', 'admin', 'created', 'new', '{}'::jsonb FROM requests"""),
        )
        conn.execute(text("ANALYZE requests; ANALYZE request_events; ANALYZE visits"))
    return time.perf_counter() - started


def wishes_and_programmes(engine: Engine, programmes_on: int = 12) -> float:
    """5,000 micro-wishes in every state, and a sound-insulation programme with every
    affected household enrolled on ``programmes_on`` sites (through the programme
    functions), so the dashboards have a funnel to count."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO micro_wishes (site_code, title, posted_by, state) "
                "SELECT s.code, '示例微心愿', 'bench', (ARRAY['posted', 'claimed', 'fulfilled', "
                "'cancelled'])[1 + g % 4] FROM sites s CROSS JOIN generate_series(1, :k) g"
            ),
            {"k": 5000 // 120},
        )
        site_ids = list(conn.execute(text("SELECT id FROM sites ORDER BY id")).scalars())
        for site_id in site_ids[:: max(1, len(site_ids) // programmes_on)][:programmes_on]:
            values = {"kind": "sound_insulation_windows", "title": "隔声窗", "min_leq_day": 0}
            created = programmes.create(conn, site_id, values, local_operator())
            programmes.enrol(conn, created["id"], local_operator())
        conn.execute(text("ANALYZE micro_wishes; ANALYZE mitigation_cases"))
    return time.perf_counter() - started


def http_screens(database_url: str, token: str, codes: list[str]) -> dict[str, Any]:
    """Every screen for every site (city screens once per site too, for a spread)."""
    results: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_server(database_url) as base,
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
    ):
        for url in (*SCREENS.values(), *CITY_SCREENS.values()):
            client.get(url.format(code=codes[0])).raise_for_status()  # warm up
        for name, url in {**SCREENS, **CITY_SCREENS}.items():
            samples, sizes = [], []
            runs = codes if name in SCREENS else codes[:CITY_RUNS]
            for code in tqdm(runs, desc=name, unit="run"):
                started = time.perf_counter()
                answer = client.get(url.format(code=code))
                body = answer.content
                samples.append(time.perf_counter() - started)
                answer.raise_for_status()
                sizes.append(len(body))
            results[name] = {
                **spread(samples),
                "url": url,
                "bytes_p50": int(np.median(sizes)),
                "meets_target": spread(samples)["p50_ms"] < TARGET_P50_MS,
            }
    return results


def sla_passes(engine: Engine) -> dict[str, Any]:
    settings = LiaisonSettings(manager="bench-manager")
    out: dict[str, Any] = {}
    for name in ("first pass", "second pass"):
        started = time.perf_counter()
        with engine.begin() as conn:
            report = sla.run(conn, settings)
        out[name] = {
            "seconds": round(time.perf_counter() - started, 2),
            "open_requests": report.checked,
            "warnings": report.warnings,
            "breaches": report.breaches,
            "escalations": report.escalations,
        }
    return out


def markdown(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = [
        "# Liaison workspace at city scale",
        "",
        f"Written by `benchmarks/liaison.py` on {payload['date']}: {m['cpus']} cores "
        f"({m['cpu']}), {m['memory_gb']} GB, load average {m['load_average_at_start']} at "
        f"the start; PostgreSQL {payload['versions'].get('postgresql', '?')}, PostGIS "
        f"{payload['versions'].get('postgis', '?')}.",
        "",
        f"Data: {payload['counts']['households']:,} households, {payload['counts']['sites']} "
        f"sites, {payload['counts']['requests']:,} requests "
        f"({payload['counts']['open_requests']:,} open), {payload['counts']['visits']:,} visits.",
        f"Loading: city {payload['load_s']['city']:.0f} s; visits through `visits.log_many` "
        f"{payload['load_s']['visits']:.0f} s "
        f"({payload['counts']['visits'] / payload['load_s']['visits']:,.0f} visits/s, audited); "
        f"requests in bulk SQL {payload['load_s']['requests']:.0f} s.",
        "",
        f"## Screens through HTTP (p50 target {TARGET_P50_MS:.0f} ms)",
        "",
        "| screen | URL | p50 ms | p95 ms | bytes (p50) | runs | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in payload["screens"].items():
        lines.append(
            f"| {name} | `{r['url']}` | {r['p50_ms']} | {r['p95_ms']} | {r['bytes_p50']:,} "
            f"| {r['runs']} | {'met' if r['meets_target'] else '**missed**'} |"
        )
    lines += [
        "",
        "## The SLA pass over every open request",
        "",
        "| pass | seconds | open requests | warnings | breaches | escalations |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in payload["sla"].items():
        lines.append(
            f"| {name} | {r['seconds']} | {r['open_requests']:,} | {r['warnings']:,} "
            f"| {r['breaches']:,} | {r['escalations']:,} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=500_000)
    args = parser.parse_args()
    about = machine()
    url = bench_database()
    engine = make_engine(url)
    load: dict[str, float] = {}
    stage(f"the city: {args.households:,} households through the project's import")
    started = time.perf_counter()
    load_city(engine, city_files(args.households))
    plan_equipment(engine)
    load["city"] = time.perf_counter() - started
    stage("the season")
    affected = _affected(engine)
    load["visits"] = season_of_visits(engine, affected, args.visits)
    load["requests"] = season_of_requests(engine, args.requests)
    load["wishes and programmes"] = wishes_and_programmes(engine)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("households", "sites", "requests", "visits")
        }
        counts["open_requests"] = conn.execute(
            text("SELECT count(*) FROM requests WHERE state = ANY(:open)"),
            {"open": list(states.OPEN_STATES)},
        ).scalar_one()
        codes = list(conn.execute(text("SELECT code FROM sites ORDER BY id")).scalars())
    stage("screens through HTTP")
    screens = http_screens(url, admin_token(engine, "bench-liaison"), codes)
    stage("the SLA pass")
    passes = sla_passes(engine)
    payload = {
        "date": dt.datetime.now(TZ).isoformat(timespec="seconds"),
        "machine": about,
        "versions": server_versions(engine),
        "counts": counts,
        "load_s": {k: round(v, 1) for k, v in load.items()},
        "screens": screens,
        "sla": passes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "liaison.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    (RESULTS / "liaison.md").write_text(markdown(payload))
    print(markdown(payload))


if __name__ == "__main__":
    main()
