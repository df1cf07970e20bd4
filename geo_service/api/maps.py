"""``/maps/...``: the interactive maps (folium pages, assets served under ``/static/maps``)
and the tiles of the service's own basemap.

Signed-in users only: the overview for roles that read the layers, a site's map for
those who may list its households (planners, admins, the site's liaison), a community's
map for roles that read every layer. No personal field is ever on a map. The basemap holds
none either; whoever may open a map (the overview's requirement, the least of the three)
may read its tiles.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.access import Permission, Principal, require_households
from geo_service.api import headers
from geo_service.api.deps import (
    AllLayersReader,
    BasemapPackageDep,
    EngineDep,
    HouseholdReader,
    Lang,
    MapSettingsDep,
    PublicLayerReader,
)
from geo_service.basemap import MAX_ZOOM, TilePackage
from geo_service.errors import InvalidQuery, NotFound
from geo_service.monitoring.states import monitor_states
from geo_service.settings import MapSettings
from maps import assets, builders, data, pages

router = APIRouter(prefix="/maps", tags=["maps"])

Basemap = Annotated[
    str | None,
    Query(description="local, none, osm, tianditu or amap (default from the settings)"),
]


def _basemap(
    settings: MapSettings, package: TilePackage | None, name: str | None
) -> builders.Basemap | None:
    try:
        return builders.basemap(name, settings, package.info if package else None)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from None


def _page(html: str, settings: MapSettings) -> HTMLResponse:
    """The map page, with a policy that lets exactly its own inline scripts run."""
    return HTMLResponse(html, headers=headers.page_policy(settings, html, map_page=True))


@router.get("/overview", response_class=HTMLResponse, summary="Every site over the city")
def overview(
    request: Request,
    engine: EngineDep,
    settings: MapSettingsDep,
    principal: PublicLayerReader,
    lang: Lang,
    package: BasemapPackageDep,
    basemap: Basemap = None,
) -> HTMLResponse:
    """Sites embedded; everything else from the vector tiles, so it stays small at any size."""
    base = _basemap(settings, package, basemap)
    with engine.connect() as conn:
        sites, bbox = data.sites(conn), data.extent(conn)
        site_maps = _openable_sites(conn, principal)
        monitors = _monitors(conn, request, principal)
    figure = builders.overview_map(
        sites,
        bbox,
        lang,
        base,
        households=principal.can_read_layer("households"),
        site_maps=site_maps,
        community_maps=principal.has(Permission.READ_ALL_LAYERS),
        monitors=monitors,
    )
    return _page(assets.render_page(figure), settings)


def _monitors(conn: Connection, request: Request, principal: Principal) -> str | None:
    """Every monitor in its state, for a reader of the monitors layer (else None)."""
    if not principal.can_read_layer("monitors"):
        return None
    return data.monitors(conn, monitor_states(conn, request.app.state.alarm_settings))


def _openable_sites(conn: Connection, principal: Principal) -> list[str]:
    """The codes of the sites whose map the reader may open (a city has hundreds)."""
    rows = conn.execute(text("SELECT id, code FROM sites ORDER BY code")).all()
    return [code for site_id, code in rows if principal.can_list_households(site_id)]


def _site_page(
    request: Request,
    engine: EngineDep,
    principal: Principal,
    ref: str,
    lang: str,
    base: builders.Basemap | None,
) -> str:
    """The site map's HTML, for a reader who may see the site's households."""
    with engine.connect() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        return pages.site_page(conn, site.id, lang, base, request.app.state.alarm_settings)


@router.get("/sites/{ref}", response_class=HTMLResponse, summary="One site and whom it affects")
def site(
    request: Request,
    engine: EngineDep,
    settings: MapSettingsDep,
    principal: HouseholdReader,
    lang: Lang,
    ref: Annotated[str, Path(max_length=100)],
    package: BasemapPackageDep,
    basemap: Basemap = None,
) -> HTMLResponse:
    base = _basemap(settings, package, basemap)
    return _page(_site_page(request, engine, principal, ref, lang, base), settings)


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
    package: BasemapPackageDep,
    basemap: Basemap = None,
) -> HTMLResponse:
    base = _basemap(settings, package, basemap)
    with engine.connect() as conn:
        bundle = data.community_bundle(conn, community_id)
    return _page(assets.render_page(builders.community_map(bundle, lang, base)), settings)


# The maps' tile URLs name the file's version (``?v=``): those tiles never change, so a
# browser keeps them a year without asking. Without it (a GIS tool's template), or with an
# older one, it asks again each time and gets 304 while the file is the same.
_KEPT = "private, max-age=31536000, immutable"
_REVALIDATED = "private, no-cache"


@router.get(
    "/basemap/{z}/{x}/{y}.{ext}",
    summary="A tile of the service's own basemap (GEO_SERVICE_MAP_BASEMAP_FILE)",
    responses={204: {"description": "The package has no tile here (Leaflet draws nothing)"}},
)
def basemap_tile(
    request: Request,
    package: BasemapPackageDep,
    _: PublicLayerReader,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    ext: Annotated[str, Path(description="png, jpg, webp or pbf: the package's format")],
    v: Annotated[str | None, Query(max_length=64, description="the file's version")] = None,
) -> Response:
    """The stored tile, as stored: 204 where the package has none.

    204, not 404: the package covers only its district and zooms, so most of the world is
    simply empty, as it is for Martin and TileServer GL; browsers log no error for it,
    Leaflet leaves the tile blank, and GDAL and QGIS read it as an empty tile.
    """
    if package is None:
        raise NotFound("no basemap is served here: GEO_SERVICE_MAP_BASEMAP_FILE is not set")
    info = package.info
    if ext != info.format:
        right = f"/maps/basemap/{z}/{x}/{y}.{info.format}"
        raise NotFound(f"the basemap's tiles are .{info.format}: {right}")
    if x >= 2**z or y >= 2**z:
        raise InvalidQuery(f"tile {z}/{x}/{y}: at zoom {z} x and y are 0..{2**z - 1}")
    etag = f'"{info.version}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": _KEPT if v == info.version else _REVALIDATED}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    data = package.tile(z, x, y)
    if data is None:
        return Response(status_code=204, headers=headers)
    if info.vector and data[:2] == b"\x1f\x8b":
        headers["Vary"] = "Accept-Encoding"  # the same tile, packed or not
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            data = gzip.decompress(data)
    return Response(data, media_type=info.media_type, headers=headers)
