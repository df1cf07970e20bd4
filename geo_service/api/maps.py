"""``/maps/...``: the interactive maps (folium pages, assets served under ``/static/maps``).

Signed-in users only: the overview for roles that read the layers, a site's map for
those who may list its households (planners, admins, the site's liaison), a community's
map for roles that read every layer. No personal field is ever on a map.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.access import Permission, Principal, require_households
from geo_service.api import headers
from geo_service.api.deps import (
    AllLayersReader,
    EngineDep,
    HouseholdReader,
    Lang,
    MapSettingsDep,
    PublicLayerReader,
)
from geo_service.errors import InvalidQuery
from geo_service.settings import MapSettings
from maps import assets, builders, data, pages

router = APIRouter(prefix="/maps", tags=["maps"])

Basemap = Annotated[
    str | None, Query(description="none, osm, tianditu or amap (default from the settings)")
]


def _basemap(settings: MapSettings, name: str | None) -> builders.Basemap | None:
    try:
        return builders.basemap(name, settings)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from None


def _page(html: str, settings: MapSettings) -> HTMLResponse:
    """The map page, with a policy that lets exactly its own inline scripts run."""
    return HTMLResponse(html, headers=headers.page_policy(settings, html, map_page=True))


@router.get("/overview", response_class=HTMLResponse, summary="Every site over the city")
def overview(
    engine: EngineDep,
    settings: MapSettingsDep,
    principal: PublicLayerReader,
    lang: Lang,
    basemap: Basemap = None,
) -> HTMLResponse:
    """Sites embedded; everything else from the vector tiles, so it stays small at any size."""
    base = _basemap(settings, basemap)
    with engine.connect() as conn:
        sites, bbox = data.sites(conn), data.extent(conn)
        site_maps = _openable_sites(conn, principal)
    figure = builders.overview_map(
        sites,
        bbox,
        lang,
        base,
        households=principal.can_read_layer("households"),
        site_maps=site_maps,
        community_maps=principal.has(Permission.READ_ALL_LAYERS),
    )
    return _page(assets.render_page(figure), settings)


def _openable_sites(conn: Connection, principal: Principal) -> list[str]:
    """The codes of the sites whose map the reader may open (a city has hundreds)."""
    rows = conn.execute(text("SELECT id, code FROM sites ORDER BY code")).all()
    return [code for site_id, code in rows if principal.can_list_households(site_id)]


def _site_page(
    engine: EngineDep, principal: Principal, ref: str, lang: str, base: builders.Basemap | None
) -> str:
    """The site map's HTML, for a reader who may see the site's households."""
    with engine.connect() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        return pages.site_page(conn, site.id, lang, base)


@router.get("/sites/{ref}", response_class=HTMLResponse, summary="One site and whom it affects")
def site(
    engine: EngineDep,
    settings: MapSettingsDep,
    principal: HouseholdReader,
    lang: Lang,
    ref: Annotated[str, Path(max_length=100)],
    basemap: Basemap = None,
) -> HTMLResponse:
    return _page(_site_page(engine, principal, ref, lang, _basemap(settings, basemap)), settings)


@router.get(
    "/communities/{community_id}",
    response_class=HTMLResponse,
    summary="One community and the sites affecting it",
)
def community(
    engine: EngineDep,
    settings: MapSettingsDep,
    _: AllLayersReader,
    lang: Lang,
    community_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    basemap: Basemap = None,
) -> HTMLResponse:
    base = _basemap(settings, basemap)
    with engine.connect() as conn:
        bundle = data.community_bundle(conn, community_id)
    return _page(assets.render_page(builders.community_map(bundle, lang, base)), settings)
