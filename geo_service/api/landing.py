"""``/``: the landing page, in Chinese with English beneath, linking to everything else.

Signed in, it says who you are and in which role, offers sign-out, and lists your sites: a
liaison officer's own, with the households each affects; everyone else who reads the layers
sees every site with its status and progress. It links only to what the reader may open (a
link that answers 403 is a dead end). Everything the page needs is inline, so it works on a
network with no internet access.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine, text

from geo_service.access import ROLES, Permission, Principal
from geo_service.api.deps import EngineDep, Lang, Visitor
from geo_service.api.pages import templates
from layers import LAYERS, Layer
from maps import labels

router = APIRouter(tags=["landing"])


@dataclass(frozen=True)
class LayerSummary:
    """A layer as the landing page lists it; ``rows`` is None while its table is missing
    or when the reader may not read the layer."""

    layer: Layer
    rows: int | None


def _count_rows(conn: Connection, table: str) -> int | None:
    """Exact rows of a registered layer's table, or None if no migration created it yet."""
    exists = conn.execute(text("SELECT to_regclass(:table) IS NOT NULL"), {"table": table})
    if not exists.scalar_one():
        return None
    quoted = conn.dialect.identifier_preparer.quote_identifier(table)
    return int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())


def layer_summaries(engine: Engine, principal: Principal) -> list[LayerSummary]:
    """Every registered layer, in registry order, with its row count for those who may
    read it (how many households a district has is not for every passer-by)."""
    with engine.connect() as conn:
        return [
            LayerSummary(
                layer,
                _count_rows(conn, layer.table) if principal.can_read_layer(layer.id) else None,
            )
            for layer in LAYERS.values()
        ]


@dataclass(frozen=True)
class SiteRow:
    """A site as the landing page lists it; ``affected`` only for a liaison officer's own
    sites (counting every site's households on each visit would cost seconds at city
    scale), ``map`` when the reader may open the site's map."""

    code: str
    name: str
    kind: str
    status: str
    progress_pct: int | None
    affected: int | None
    map: bool


def own_sites_only(principal: Principal) -> bool:
    """A liaison officer: the page lists their assigned sites, not all of them."""
    return principal.has(Permission.READ_PERSONAL_ASSIGNED) and not principal.has(
        Permission.READ_ALL_LAYERS
    )


def your_sites(conn: Connection, principal: Principal) -> list[SiteRow]:
    """The sites the landing page lists for this reader, by code."""
    if principal.is_anonymous or not principal.has(Permission.READ_PUBLIC_LAYERS):
        return []
    own = own_sites_only(principal)
    rows = conn.execute(
        text("""
SELECT s.id, s.code, s.name, s.kind, s.status, s.progress_pct,
       CASE WHEN :own THEN (SELECT count(*) FROM household_impacts hi WHERE hi.site_id = s.id)
       END AS affected
FROM sites s
WHERE NOT :own OR s.id = ANY(:ids)
ORDER BY s.code"""),
        {"own": own, "ids": sorted(principal.site_ids)},
    ).all()
    return [
        SiteRow(
            r.code,
            r.name,
            r.kind,
            r.status,
            r.progress_pct,
            r.affected,
            principal.can_list_households(r.id),
        )
        for r in rows
    ]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request, engine: EngineDep, lang: Lang, principal: Visitor) -> HTMLResponse:
    """Where everyone starts: who you are, your sites, the maps, API docs and OGC feeds."""
    with engine.connect() as conn:
        sites = your_sites(conn, principal)
    return templates.TemplateResponse(
        request,
        "landing.html",
        {
            "lang": lang,
            "layers": layer_summaries(engine, principal),
            "signed_in": not principal.is_anonymous,
            "principal": principal,
            "role": ROLES.get(principal.role),  # None: anonymous, or a role no longer defined
            "sites": sites,
            "own_sites": own_sites_only(principal),
            "overview": principal.has(Permission.READ_PUBLIC_LAYERS),
            "choices": labels.choices(lang),
            "session": principal.via == "session",
            "liaison": principal.has(Permission.WORK_REQUESTS),
        },
    )
