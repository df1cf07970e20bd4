"""The overview map's first render in headless Chromium, 1,000,000 households loaded.

Loads ``benchmarks/work/city_1000000/city_{parcels,sites,communities,buildings,households}.gpkg``
(generated on first use) into a fresh ``geo_service_bench_maps`` database through the
project's import, starts ``uvicorn`` (one worker) on 127.0.0.1 and launches Debian Chromium
once (``/usr/bin/chromium``, headless, as ``tests/maps`` does). Each of ``--runs`` visits opens
a new browser context (empty cache, admin token header), aborts and counts every request that
is not for 127.0.0.1, and opens ``/maps/overview``.

First render is measured in the page: ``performance.now()`` (milliseconds since navigation
start) at the first animation frame at which ``GeoService.map`` exists and every vector-tile
layer on it (``L.GridLayer``) that is active at the map's zoom has ``_loading === false``
(Leaflet's ``load`` event has fired) and holds at least one tile, all of them loaded;
VectorGrid marks a tile loaded one animation frame after drawing it on its canvas, so this is
"every tile of the first view drawn". Also recorded: the time of each layer's Leaflet ``load``
event, DOMContentLoaded and load (PerformanceNavigationTiming), the browser-tests' signal
(``goto(wait_until="networkidle")`` returns, wall clock, including its 500 ms of quiet), the
page's HTML size, the tile requests finished by first render (count, bytes), and console
errors. One uncounted visit first (the server's first use of each query).

Then the same with the server's tile cache off (every tile of every visit built by PostGIS,
as for the first visitor after a change), and on the demo district
(``geo_service_bench_maps_demo``), for contrast.

Writes ``benchmarks/results/maps.{json,md}``.

    .venv/bin/python benchmarks/maps.py [--runs 10] [--households 1000000] [--no-demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

from geo_service.database import fresh_database, make_engine
from geo_service.demo import load_demo, write_city
from geo_service.devserver import admin_token, running_server
from geo_service.ingest import import_file
from geo_service.settings import ImportSettings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / "work"
LAYERS = ("parcels", "sites", "communities", "buildings", "households")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TARGET_MS = 3000
TILE_PATH = "/tiles/WebMercatorQuad/"

# Runs in every page before its own scripts: finds the moment the first view's tiles are drawn.
PROBE = """
(() => {
  const b = { ready: null, loadEvents: {}, frames: 0 };
  window.__bench = b;
  const grids = map => { const out = []; map.eachLayer(l => {
    if (window.L && l instanceof L.GridLayer) out.push(l); }); return out; };
  const hook = () => {
    const gs = window.GeoService;
    if (!(gs && gs.map)) return;
    grids(gs.map).forEach((l, i) => l.on("load", () => {
      (b.loadEvents[l.options.pane + ":" + (l._url || i)] ||= []).push(performance.now()); }));
  };
  document.addEventListener("DOMContentLoaded", hook);
  const check = () => {
    b.frames++;
    const gs = window.GeoService;
    if (gs && gs.map && gs.map._loaded) {
      const z = gs.map.getZoom();
      const layers = grids(gs.map);
      const active = layers.filter(l =>
        z >= (l.options.minZoom || 0) && z <= (l.options.maxZoom ?? Infinity));
      const done = active.length > 0 && active.every(l => l._loading === false
        && Object.keys(l._tiles).length > 0 && Object.values(l._tiles).every(t => t.loaded));
      if (done) {
        b.ready = performance.now();
        b.zoom = z;
        b.layers = layers.length;
        b.activeLayers = active.length;
        b.tilesShown = active.reduce((n, l) => n + Object.keys(l._tiles).length, 0);
        b.tileEntries = performance.getEntriesByType("resource")
          .filter(e => e.name.includes("TILE_PATH"))
          .map(e => [e.encodedBodySize, e.decodedBodySize, e.transferSize, e.responseEnd]);
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
""".replace("TILE_PATH", TILE_PATH)


def city_files(households: int) -> dict[str, Path]:
    folder = WORK / f"city_{households}"
    wanted = {layer: folder / f"city_{layer}.gpkg" for layer in LAYERS}
    if not all(p.exists() for p in wanted.values()):
        print(f"generating a city of {households:,} households in {folder}", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_city(folder, households=households)
    return wanted


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("parcels", "sites", "communities", "buildings", "households")
        }


def prepare_city(households: int) -> tuple[str, str, dict]:
    files = city_files(households)
    url = fresh_database("geo_service_bench_maps", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL"))
    engine = make_engine(url, pool_size=1)
    settings = ImportSettings(max_upload_mb=4096)
    started = time.perf_counter()
    for layer in LAYERS:
        t0 = time.perf_counter()
        import_file(engine, layer, files[layer], settings=settings)
        print(f"  imported {layer} in {time.perf_counter() - t0:.1f} s", flush=True)
    seconds = round(time.perf_counter() - started, 1)
    info = {"counts": counts(engine), "import_seconds": seconds}
    token = admin_token(engine, "benchmarks/maps.py")
    engine.dispose()
    return url, token, info


def prepare_demo() -> tuple[str, str, dict]:
    url = fresh_database(
        "geo_service_bench_maps_demo", os.environ.get("GEO_SERVICE_BENCH_DATABASE_URL")
    )
    engine = make_engine(url, pool_size=1)
    load_demo(engine)
    info = {"counts": counts(engine)}
    token = admin_token(engine, "benchmarks/maps.py")
    engine.dispose()
    return url, token, info


def visit(browser, base: str, token: str, path: str) -> dict:
    """One cold visit in a new context; what the page measured."""
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {token}"},
        viewport={"width": 1280, "height": 860},
    )
    outside: list[str] = []
    errors: list[str] = []
    failed: list[str] = []
    statuses: dict[int, int] = {}

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:", "file://")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    def on_response(resp) -> None:
        if TILE_PATH in resp.url:
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

    context.route("**/*", route)
    context.add_init_script(PROBE)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", on_response)
    try:
        t0 = time.perf_counter()
        answer = page.goto(base + path, wait_until="networkidle", timeout=120_000)
        networkidle_ms = (time.perf_counter() - t0) * 1000
        status = answer.status if answer else None
        page.wait_for_function("window.__bench && window.__bench.ready !== null", timeout=120_000)
        probe = page.evaluate("window.__bench")
        nav = page.evaluate(
            """(() => { const n = performance.getEntriesByType('navigation')[0];
                 return { domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                          responseEnd: n.responseEnd, htmlEncoded: n.encodedBodySize,
                          htmlDecoded: n.decodedBodySize, htmlTransfer: n.transferSize }; })()"""
        )
        all_tiles = page.evaluate(
            "p => performance.getEntriesByType('resource').filter(e => e.name.includes(p)).length",
            TILE_PATH,
        )
        canvases = page.evaluate("document.querySelectorAll('.leaflet-pane canvas').length")
    finally:
        context.close()
    entries = probe.get("tileEntries") or []
    return {
        "status": status,
        "first_render_ms": round(probe["ready"], 1),
        "layer_load_events_ms": {
            k: [round(x, 1) for x in v] for k, v in (probe.get("loadEvents") or {}).items()
        },
        "dom_content_loaded_ms": round(nav["domContentLoaded"], 1),
        "load_ms": round(nav["load"], 1),
        "html_response_end_ms": round(nav["responseEnd"], 1),
        "networkidle_wall_ms": round(networkidle_ms, 1),
        "html_bytes": nav["htmlDecoded"],
        "html_bytes_on_wire": nav["htmlEncoded"],
        "zoom": probe.get("zoom"),
        "grid_layers": probe.get("layers"),
        "active_grid_layers": probe.get("activeLayers"),
        "tiles_shown": probe.get("tilesShown"),
        "tile_requests_by_first_render": len(entries),
        "tile_bytes_by_first_render": int(sum(e[1] for e in entries)),
        "tile_bytes_on_wire_by_first_render": int(sum(e[0] for e in entries)),
        "last_tile_response_end_ms": round(max((e[3] for e in entries), default=0), 1),
        "tile_requests_total": all_tiles,
        "tile_statuses": statuses,
        "canvases": canvases,
        "outside_requests": len(outside),
        "outside_samples": outside[:5],
        "failed_requests": failed[:5],
        "console_errors": errors[:10],
    }


def stats(values: list[float]) -> dict[str, float]:
    a = np.array(values)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "max": round(float(a.max()), 1),
        "min": round(float(a.min()), 1),
    }


def measure(
    browser, url: str, token: str, runs: int, label: str, env: dict[str, str] | None = None
) -> dict:
    home = tempfile.mkdtemp(prefix="geo-maps-")
    with running_server(url, env={"GEO_SERVICE_HOME": home, **(env or {})}) as base:
        warm = visit(browser, base, token, "/maps/overview")
        print(f"[{label}] warm-up (uncounted): {warm['first_render_ms']} ms", flush=True)
        results = []
        for i in range(runs):
            r = visit(browser, base, token, "/maps/overview")
            print(
                f"[{label}] run {i + 1}: first render {r['first_render_ms']} ms, "
                f"DCL {r['dom_content_loaded_ms']} ms, load {r['load_ms']} ms, "
                f"{r['tile_requests_by_first_render']} tiles "
                f"{r['tile_bytes_by_first_render']:,} B, outside {r['outside_requests']}, "
                f"errors {len(r['console_errors'])}",
                flush=True,
            )
            results.append(r)
    key = [
        "first_render_ms",
        "dom_content_loaded_ms",
        "load_ms",
        "networkidle_wall_ms",
        "html_response_end_ms",
    ]
    return {
        "runs": runs,
        "summary": {k: stats([r[k] for r in results]) for k in key},
        "html_bytes": results[-1]["html_bytes"],
        "html_bytes_on_wire": results[-1]["html_bytes_on_wire"],
        "tile_requests_by_first_render": stats(
            [r["tile_requests_by_first_render"] for r in results]
        ),
        "tile_bytes_by_first_render": stats([r["tile_bytes_by_first_render"] for r in results]),
        "outside_requests": sum(r["outside_requests"] for r in results) + warm["outside_requests"],
        "console_errors": sum(len(r["console_errors"]) for r in results)
        + len(warm["console_errors"]),
        "warm_up": warm,
        "visits": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    load_before = [round(x, 2) for x in os.getloadavg()]
    print("importing the city", flush=True)
    city_url, city_token, city_info = prepare_city(args.households)
    print(f"  {city_info}", flush=True)
    result: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target_first_render_ms": TARGET_MS,
        "measure": (
            "first render = performance.now() (ms since navigation start) at the first animation "
            "frame where GeoService.map exists and every L.GridLayer active at the map's zoom has "
            "_loading === false (its Leaflet 'load' fired) and >= 1 tile, all loaded (VectorGrid: "
            "drawn on its canvas). New browser context per visit (empty cache), viewport 1280x860, "
            "requests not for 127.0.0.1 aborted. networkidle_wall = Python wall clock of "
            "page.goto(wait_until='networkidle'), includes Playwright's 500 ms of quiet."
        ),
        "server": "uvicorn --workers 1, 127.0.0.1",
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result["browser"] = f"Debian chromium {browser.version}, headless"
        try:
            city = measure(browser, city_url, city_token, args.runs, "city")
            result["city"] = {**city_info, **city}
            write(result, load_before)
            # The same with the tile cache off: every tile of every visit built by PostGIS,
            # as for the first visitor after a change to the data.
            uncached = measure(
                browser,
                city_url,
                city_token,
                args.runs,
                "city, tile cache off",
                env={"GEO_SERVICE_TILE_CACHE_MB": "0"},
            )
            result["city_uncached"] = {**city_info, **uncached}
            write(result, load_before)
            if not args.no_demo:
                print("loading the demo district", flush=True)
                demo_url, demo_token, demo_info = prepare_demo()
                demo = measure(browser, demo_url, demo_token, args.runs, "demo")
                result["demo"] = {**demo_info, **demo}
                write(result, load_before)
        finally:
            browser.close()
    print(markdown(result))


def write(result: dict, load_before: list[float]) -> None:
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "maps.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "maps.md").write_text(markdown(result))


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# The overview map's first render in headless Chromium",
        "",
        f"{r['when']}; {r['server']}; {r['browser']}; {m['cpus']} CPUs, load average "
        f"(1/5/15 min) {m['load_average_before']} before, {m['load_average_after']} after "
        "(browser, server and PostgreSQL on the same machine).",
        "",
        f"Measured: {r['measure']}",
        "",
    ]
    titles = {
        "city": "City",
        "city_uncached": "City, tile cache off (every tile built by PostGIS)",
        "demo": "Demo district",
    }
    for name, title in titles.items():
        if name not in r:
            continue
        d = r[name]
        c = d["counts"]
        fr = d["summary"]["first_render_ms"]
        verdict = "under" if fr["max"] < r["target_first_render_ms"] else "NOT under"
        lines += [
            f"## {title}: "
            f"{c['households']:,} households, {c['buildings']:,} buildings, "
            f"{c['communities']:,} communities, {c['parcels']:,} parcels, {c['sites']} sites",
            "",
        ]
        if "import_seconds" in d:
            lines += [
                f"Import (the project's `import_file`, 5 layers): {d['import_seconds']} s.",
                "",
            ]
        lines += [
            f"**First render p50 {fr['p50']} ms, p95 {fr['p95']} ms, max {fr['max']} ms over "
            f"{d['runs']} cold visits: {verdict} the {r['target_first_render_ms']} ms target.** "
            f"Warm-up visit (server's first, uncounted): {d['warm_up']['first_render_ms']} ms.",
            "",
            "| ms since navigation start | p50 | p95 | max | min |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for k, s in d["summary"].items():
            lines.append(f"| {k} | {s['p50']} | {s['p95']} | {s['max']} | {s['min']} |")
        w = d["visits"][-1]
        tr, tb = d["tile_requests_by_first_render"], d["tile_bytes_by_first_render"]
        lines += [
            "",
            f"HTML {d['html_bytes']:,} bytes ({d['html_bytes_on_wire']:,} on the wire); "
            f"zoom {w['zoom']}, {w['active_grid_layers']} of {w['grid_layers']} tile layers "
            f"active, {w['tiles_shown']} tiles shown; tile requests by first render p50 "
            f"{tr['p50']:.0f} (max {tr['max']:.0f}), {tb['p50']:,.0f} bytes decoded p50 "
            f"(max {tb['max']:,.0f}); tile statuses (last visit) {w['tile_statuses']}; "
            f"outside requests {d['outside_requests']}; console errors {d['console_errors']}.",
            "",
            "| visit | first render | DCL | load | networkidle (wall) | tiles | tile bytes |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for i, v in enumerate(d["visits"], 1):
            lines.append(
                f"| {i} | {v['first_render_ms']} | {v['dom_content_loaded_ms']} | {v['load_ms']} "
                f"| {v['networkidle_wall_ms']} | {v['tile_requests_by_first_render']} "
                f"| {v['tile_bytes_by_first_render']:,} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
