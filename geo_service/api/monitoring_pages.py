"""``/monitoring/monitors/{mn}``: a monitor's page (its charts over 24 h, 7 or 30 days, its
alarms) and ``/monitoring/alarms``: the alarms with filters. Read like the readings and the
alarms (``read_public_layers``: a site's noise and dust are not personal); the residents'
requests an alarm is linked to are named only to readers of that site's requests
(``alarm_records``). The charts are drawn by ``maps/static/monitor.js`` with the vendored
ECharts from the JSON the page carries; no inline script runs.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from geo_service.api.dashboards import ECHARTS
from geo_service.api.deps import EngineDep, Lang, PublicLayerReader
from geo_service.api.monitors import device_zone
from geo_service.api.pages import templates
from geo_service.errors import InvalidQuery
from geo_service.monitoring import alarm_records, charts, comparison, lifecycle
from geo_service.monitoring.states import LABELS as MONITOR_STATE_LABELS
from geo_service.monitoring.states import monitor_state
from layers import COLLECTIONS
from maps.assets import STATIC_URL

router = APIRouter(tags=["monitoring"])

SiteCode = Annotated[str, Path(max_length=64, description="The site code, e.g. AZF-2024-01")]
MonitorMN = Annotated[str, Path(max_length=24, description="The monitor's MN")]
PAGE = 50


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    """A filter that must be one of ``choices`` (400 naming them), or none."""
    if value in (None, ""):
        return None
    if value not in choices:
        raise InvalidQuery(f"{name}={value!r} is not one of: {', '.join(choices)}")
    return value


def _context(request: Request, lang: str) -> dict[str, Any]:
    monitors = COLLECTIONS["monitors"]
    return {
        "lang": lang,
        "zone": ZoneInfo(device_zone(request)),
        "kind_labels": lifecycle.KIND_LABELS,
        "state_labels": lifecycle.STATE_LABELS,
        "monitor_state_labels": MONITOR_STATE_LABELS,
        "placements": {c: c.label(lang) for c in monitors.field("placement").choices},
        "monitor_kinds": {c: c.label(lang) for c in monitors.field("kind").choices},
    }


@router.get("/monitoring/monitors/{mn}", response_class=HTMLResponse, include_in_schema=False)
def monitor_page(
    request: Request,
    engine: EngineDep,
    principal: PublicLayerReader,
    lang: Lang,
    mn: MonitorMN,
    span: Annotated[str, Query(max_length=8, description="24h, 7d or 30d")] = "24h",
) -> HTMLResponse:
    """The monitor's state, its charts over ``span`` and its latest alarms."""
    charts.span(span)  # 400 before any work
    settings = request.app.state.alarm_settings
    with engine.begin() as conn:
        figures = charts.monitor_charts(conn, settings, mn, span, device_zone(request))
        state = monitor_state(conn, settings, mn)
        rows, total = alarm_records.list_alarms(
            conn, principal, alarm_records.AlarmFilter(monitor=mn), limit=PAGE, offset=0
        )
    return templates.TemplateResponse(
        request,
        "monitor.html",
        {
            **_context(request, lang),
            "figures": figures,
            "state": state,
            "alarms": rows,
            "total": total,
            "spans": list(charts.SPANS),
            "scripts": [ECHARTS, f"{STATIC_URL}/monitor.js"],
        },
    )


@router.get("/monitoring/alarms", response_class=HTMLResponse, include_in_schema=False)
def alarms_page(
    request: Request,
    engine: EngineDep,
    principal: PublicLayerReader,
    lang: Lang,
    site: Annotated[str | None, Query(max_length=64, description="A site code")] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """The alarms, newest first, filtered by site, state and kind, a page at a time."""
    wanted = alarm_records.AlarmFilter(
        site or None,
        None,
        _choice("state", state, lifecycle.STATES),
        _choice("kind", kind, lifecycle.KINDS),
    )
    with engine.begin() as conn:
        rows, total = alarm_records.list_alarms(conn, principal, wanted, limit=PAGE, offset=offset)
    return templates.TemplateResponse(
        request,
        "alarms.html",
        {
            **_context(request, lang),
            "alarms": rows,
            "total": total,
            "offset": offset,
            "page": PAGE,
            "wanted": wanted,
            "states": lifecycle.STATES,
            "kinds": lifecycle.KINDS,
        },
    )


def _comparison(request: Request, engine: EngineDep, site: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return comparison.site_comparison(
            conn, request.app.state.alarm_settings, site, device_zone(request)
        )


@router.get(
    "/api/sites/{site}/monitoring/comparison",
    summary="Predicted day Leq at each monitor against the measured day LAeq of 14 days",
)
def get_comparison(
    request: Request, engine: EngineDep, _: PublicLayerReader, site: SiteCode
) -> dict[str, Any]:
    """Per noise monitor: the impact model's day Leq at its position, and per day the
    measured day LAeq (energy mean of the valid minutes in the day hours), the minutes it
    rests on, and measured less predicted."""
    return _comparison(request, engine, site)


@router.get("/monitoring/sites/{site}", response_class=HTMLResponse, include_in_schema=False)
def site_page(
    request: Request, engine: EngineDep, _: PublicLayerReader, lang: Lang, site: SiteCode
) -> HTMLResponse:
    """The comparison as a table and a small chart per monitor."""
    return templates.TemplateResponse(
        request,
        "monitoring_site.html",
        {
            **_context(request, lang),
            "figures": _comparison(request, engine, site),
            "scripts": [ECHARTS, f"{STATIC_URL}/monitor.js"],
        },
    )
