"""``/api/dashboards`` and ``/api/dashboards/sites/{site}``: the dashboards' figures as JSON
(``geo_service.dashboards``), and ``/dashboards`` and ``/dashboards/sites/{site}``: the same
figures as a page with charts (the vendored Apache ECharts, drawn by
``maps/static/dashboard.js`` from the figures the page carries; no inline script runs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from geo_service import dashboards
from geo_service.api.deps import EngineDep, Lang, RequestReader
from geo_service.api.pages import templates
from geo_service.liaison import wishes
from geo_service.mitigation import states as mitigation_states
from maps.assets import STATIC_URL

router = APIRouter(tags=["dashboards"])

SiteCode = Annotated[str, Path(description="The site code, e.g. AZF-2024-01", max_length=64)]
ECHARTS = f"{STATIC_URL}/vendor/echarts@6.1.0/dist/echarts.min.js"
SCRIPTS = [ECHARTS, f"{STATIC_URL}/dashboard.js"]


@router.get("/api/dashboards", summary="The dashboard of all the sites one may see")
def get_all(engine: EngineDep, principal: RequestReader) -> dict[str, Any]:
    with engine.connect() as conn:
        return dashboards.all_sites_dashboard(conn, principal)


@router.get("/api/dashboards/sites/{site}", summary="A site's dashboard")
def get_site(engine: EngineDep, principal: RequestReader, site: SiteCode) -> dict[str, Any]:
    with engine.connect() as conn:
        return dashboards.site_dashboard(conn, principal, site)


def _page(request: Request, lang: str, figures: dict[str, Any], site: bool) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "lang": lang,
            "figures": figures,
            "one_site": site,
            "scripts": SCRIPTS,
            # The funnel's steps in the path's order, and the names of steps and states.
            "steps": dashboards.FUNNEL_STEPS,
            "step_labels": mitigation_states.LABELS,
            "wish_labels": wishes.LABELS,
        },
    )


@router.get("/dashboards", response_class=HTMLResponse, include_in_schema=False)
def all_page(
    request: Request, engine: EngineDep, lang: Lang, principal: RequestReader
) -> HTMLResponse:
    with engine.connect() as conn:
        figures = dashboards.all_sites_dashboard(conn, principal)
    return _page(request, lang, figures, site=False)


@router.get("/dashboards/sites/{site}", response_class=HTMLResponse, include_in_schema=False)
def site_page(
    request: Request, engine: EngineDep, lang: Lang, principal: RequestReader, site: SiteCode
) -> HTMLResponse:
    with engine.connect() as conn:
        figures = dashboards.site_dashboard(conn, principal, site)
    return _page(request, lang, figures, site=True)
