"""The composition root: lifespan, error handlers and routers, nothing else.

Run with ``uvicorn geo_service.main:create_app --factory``. Every route declares who may
call it (``geo_service.api.deps``), the documentation (``geo_service.api.docs``) and the
static assets included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware

import geo_service
from geo_service.api import (
    alarms as monitor_alarms,
)
from geo_service.api import (
    audit,
    dashboards,
    docs,
    groups,
    health,
    impact,
    imports,
    landing,
    liaison_pages,
    login,
    maps,
    mitigation,
    monitoring_pages,
    monitors,
    open311,
    parcels,
    requests,
    search,
    sensorthings,
    site_settings,
    sites,
    users,
    visits,
    workflow_imports,
)
from geo_service.api import board as requests_board
from geo_service.api import night_work as night_permits
from geo_service.api import photos as visit_photos
from geo_service.api import wishes as micro_wishes
from geo_service.api.bodies import BodyLimit
from geo_service.api.deps import PublicFiles
from geo_service.api.headers import SecurityHeaders
from geo_service.api.hosts import PublicURL, allowed_hosts
from geo_service.api.pages import LanguageCookie
from geo_service.auth import PrincipalCache
from geo_service.basemap import served_package
from geo_service.database import database_url, make_engine
from geo_service.errors import add_exception_handlers
from geo_service.liaison import schedule
from geo_service.monitoring import forward
from geo_service.monitoring.receiver import Receiver, start
from geo_service.monitoring.store import DatabaseSink
from geo_service.ogc.routes import router as ogc_router
from geo_service.ogc.tile_routes import router as ogc_tile_router
from geo_service.settings import (
    AlarmSettings,
    AuthSettings,
    BandRules,
    DatabaseSettings,
    ImportSettings,
    LiaisonSettings,
    MapSettings,
    MonitoringSettings,
    ServerSettings,
    database_settings,
    session_secret,
)
from geo_service.tilecache import ChangeListener, TileCache
from maps.assets import STATIC_DIR as MAPS_STATIC_DIR
from maps.assets import STATIC_URL as MAPS_ASSETS_URL
from maps.builders.basemaps import check_default


def _lifespan(
    settings: DatabaseSettings,
    server: ServerSettings,
    monitoring: MonitoringSettings,
    liaison: LiaisonSettings,
    alarm_settings: AlarmSettings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """One engine (and pool) per application, the tile cache's listener, the HJ 212
    receiver when its port is set, the forwarding of its packets when upstreams are set
    (``geo_service.monitoring.forward``), and the SLA and alarm passes when their interval is set
    (``geo_service.liaison.schedule``); all stopped when the server stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url(settings)
        app.state.engine = make_engine(url, pool_size=settings.pool_size)
        app.state.tile_cache = TileCache(server.tile_cache_mb * 2**20)
        app.state.receiver = Receiver(
            DatabaseSink(app.state.engine, monitoring.timezone, monitoring.upstreams)
        )
        listener = ChangeListener(url, app.state.tile_cache)
        if server.tile_cache_mb > 0:
            listener.start()
        hj212 = None
        if monitoring.port is not None:  # listening before the first request is served
            hj212 = await start(app.state.receiver, monitoring.host, monitoring.port)
        sla = schedule.start(app.state.engine, liaison, alarm_settings, monitoring.timezone)
        forwarding = forward.start(forward.Forwarder.configured(app.state.engine, monitoring))
        try:
            yield
        finally:
            await forward.stop(forwarding)
            await schedule.stop(sla)
            if hj212 is not None:
                hj212.close()
            listener.stop()
            app.state.engine.dispose()
            if app.state.basemap_package is not None:
                app.state.basemap_package.close()

    return lifespan


def create_app(
    settings: DatabaseSettings | None = None,
    *,
    auth: AuthSettings | None = None,
    server: ServerSettings | None = None,
    import_settings: ImportSettings | None = None,
    map_settings: MapSettings | None = None,
    band_rules: BandRules | None = None,
    monitoring: MonitoringSettings | None = None,
    liaison: LiaisonSettings | None = None,
    alarms: AlarmSettings | None = None,
) -> FastAPI:
    """The web application; settings from the environment unless given (tests give theirs).

    They are read here, once, and reach the routers through ``app.state`` and the
    dependencies of ``geo_service.api.deps``; no router reads the environment.

    Outside development it refuses to start (``InsecureConfiguration``) without a real
    ``GEO_SERVICE_SECRET_KEY``, and anywhere with a basemap file it cannot serve or a
    default basemap it cannot draw (``InvalidBasemap``).
    """
    settings = settings or database_settings()
    auth, server = auth or AuthSettings(), server or ServerSettings()
    liaison = liaison or LiaisonSettings()
    alarms = alarms or AlarmSettings()
    secret = session_secret(auth, server, settings.home)
    app = FastAPI(
        title="Site-impact service 工地周边影响服务",
        description=geo_service.__doc__,
        version=geo_service.__version__,
        lifespan=_lifespan(settings, server, monitoring or MonitoringSettings(), liaison, alarms),
        # Served by ``docs``, which declares them public like every other route.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.auth_settings, app.state.server_settings = auth, server
    app.state.import_settings = import_settings or ImportSettings()
    map_conf = app.state.map_settings = map_settings or MapSettings()
    package = served_package(map_conf.basemap_file, map_conf.basemap_cache_mb)
    check_default(map_conf, package.info if package else None)
    app.state.basemap_package = package
    app.state.band_rules = band_rules or BandRules()
    app.state.liaison_settings = liaison
    app.state.alarm_settings = alarms
    app.state.session_secret = secret
    app.state.principal_cache = PrincipalCache(auth.credential_cache_seconds)
    add_exception_handlers(app)
    # Swagger UI and ReDoc's scripts and styles, from the fastapi-offline package.
    app.mount(docs.ASSETS_URL, PublicFiles(directory=docs.ASSETS_DIR), name="docs-static")
    for module in (
        docs,
        landing,
        login,
        health,
        sites,
        parcels,
        imports,
        users,
        audit,
        impact,
        site_settings,
        mitigation,
        search,
        maps,
        monitors,
        monitor_alarms,
        night_permits,
        monitoring_pages,
        requests,
        visits,
        groups,
        liaison_pages,
    ):
        app.include_router(module.router)
    app.include_router(workflow_imports.router)  # sheets of visits and requests (issue 14.12)
    app.include_router(visit_photos.router)
    app.include_router(micro_wishes.router)
    app.include_router(requests_board.router)  # the working group's board (issue 14.8)
    app.include_router(open311.router)  # Open311 GeoReport v2 (issue 14.10)
    app.include_router(dashboards.router)
    # The maps' vendored Leaflet, plugins, fonts and images: no map page loads from a CDN.
    app.mount(MAPS_ASSETS_URL, PublicFiles(directory=MAPS_STATIC_DIR), name="maps-static")
    app.include_router(ogc_router)
    app.include_router(ogc_tile_router)
    app.include_router(sensorthings.router)  # /sta/v1.1, read only (issue 15.9)
    # GIS clients and web maps elsewhere read the feeds: any origin, credentials by header.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "X-API-Key",
            "If-None-Match",
            "Accept",
            "Range",
            "If-Range",
        ],
        expose_headers=["ETag", "Content-Crs", "Link", "Content-Range", "Accept-Ranges"],
    )
    app.add_middleware(LanguageCookie)
    app.add_middleware(BodyLimit, max_bytes=server.max_body_kb * 1024)
    app.add_middleware(SecurityHeaders, server=server, maps=app.state.map_settings)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(server))
    if server.public_url:  # outermost: the hosts check and every link see the public URL
        app.add_middleware(PublicURL, public_url=server.public_url)
    # Level 1: a 1.3 MiB household list compresses 11x in 4.5 ms; level 9 (the default)
    # gains 40 % more ratio for 27 ms on every large answer.
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=1)
    return app
