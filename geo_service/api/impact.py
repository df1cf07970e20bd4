"""Impact endpoints: a site's summary, its affected households (lists and exports), a
community's exposure, and the settings and equipment that drive the prediction."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from geo_service import audit, impact, noise, versions
from geo_service.access import Principal, personal_fields_for, require_households
from geo_service.api.deps import (
    AllLayersReader,
    BandRulesDep,
    EngineDep,
    HouseholdReader,
    IfMatch,
    ImpactEditor,
    Lang,
    SignedIn,
)
from geo_service.audit import AuditAction
from geo_service.formats import HOUSEHOLD_LIST, HouseholdListFormat
from geo_service.impact_export import content_disposition, export_file, json_page, metadata
from layers import get_layer

router = APIRouter(tags=["impact"])
SiteRefPath = Annotated[str, Path(description="The site code (e.g. HF-2024-01) or numeric id")]
MAX_PAGE = 10_000


@router.get("/api/sites/{ref}/impact", summary="Who a site affects, how badly: the summary")
def site_impact(engine: EngineDep, principal: HouseholdReader, ref: SiteRefPath) -> dict[str, Any]:
    """Totals, by band, by community and by building, with the prediction's inputs.

    Counts of sensitive fields are exact (and their read audited) only for a reader who may
    see those fields; anyone else gets them protected (README: counts of sensitive
    attributes)."""
    with engine.begin() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        exact = principal.can_read_personal(site.id)
        summary = impact.site_impact(conn, site, exact=exact)
        summary["multi_site_households"] = len(impact.multi_site_households(conn, site.id))
        if exact:
            _audit_sensitive_counts(conn, principal, [site.code])
    return summary


@router.get(
    "/api/sites/{ref}/households",
    summary="The households a site affects: a paged list or a file",
    responses={200: {"content": HOUSEHOLD_LIST.content()}},
)
def site_households(
    engine: EngineDep,
    principal: HouseholdReader,
    ref: SiteRefPath,
    lang: Lang,
    format: Annotated[
        HouseholdListFormat,
        Query(description="json: a page; the others: a file of the whole list (or the page asked)"),
    ] = "json",
    sort: Annotated[
        Literal["distance", "address"],
        Query(description="distance: nearest first; address: by community, building, unit"),
    ] = "distance",
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Distance, band, predicted levels, limits and exceedances of every household within
    the outer band; personal fields only for a reader entitled to this site's, audited."""
    with engine.begin() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        personal = personal_fields_for(principal, site.id)
        if format != "json":
            body, name = export_file(
                conn,
                site,
                principal,
                personal=personal,
                fmt=format,
                sort=sort,
                lang=lang,
                limit=limit,
                offset=offset,
            )
            return Response(
                body,
                media_type=HOUSEHOLD_LIST[format].media_type,
                headers={"Content-Disposition": content_disposition(name)},
            )
        # The hot path: PostgreSQL writes the rows' JSON, and counts them in the same pass.
        limit = limit or 100
        page = impact.affected_households_json(
            conn, site.id, personal=personal, sort=sort, limit=limit, offset=offset
        )
        meta = metadata(
            site,
            impact.site_parameters(conn, site.id),
            sort=sort,
            lang=lang,
            personal=personal,
            count=page.total,
        )
        if personal:
            audit.record(
                conn,
                principal,
                AuditAction.READ_PERSONAL,
                target=f"site:{site.code}",
                record_count=page.returned,
                detail={"format": format, "fields": list(personal), "offset": offset},
            )
    meta.update(limit=limit, offset=offset, returned=page.returned)
    return Response(json_page(meta, page.households), media_type=HOUSEHOLD_LIST["json"].media_type)


@router.get(
    "/api/communities/{community_id}/exposure",
    summary="Which sites affect a community, and how many of its households",
)
def community_exposure(
    engine: EngineDep, principal: AllLayersReader, community_id: Annotated[int, Path(ge=1)]
) -> dict[str, Any]:
    """Per site and band: households, residents, vulnerable households, levels; overlaps.

    Counts of sensitive fields are exact only for the sites whose personal fields the reader
    may see (audited); elsewhere they are protected."""
    with engine.begin() as conn:
        exposure = impact.community_exposure(conn, community_id, exact=principal.can_read_personal)
        exact = {
            r["site_code"] for r in exposure["by_site"] if principal.can_read_personal(r["site_id"])
        }
        if exact:
            _audit_sensitive_counts(conn, principal, sorted(exact))
        return exposure


def _audit_sensitive_counts(conn: Connection, principal: Principal, codes: list[str]) -> None:
    """Exact counts of sensitive fields are a read of those fields, audited as one."""
    fields = [f.name for f in get_layer("households").sensitive_fields]
    for code in codes:
        audit.record(
            conn,
            principal,
            AuditAction.READ_PERSONAL,
            target=f"site:{code}",
            detail={"aggregate": "counts", "fields": fields},
        )


@router.get("/api/equipment-types", summary="Construction equipment the noise model knows")
def equipment_types(_: SignedIn) -> list[dict[str, Any]]:
    """FHWA RCNM reference levels and usage factors, FTA vibration references."""
    return [vars(kind) for kind in noise.equipment_types().values()]


class ImpactSettings(BaseModel):
    """A site's distance bands, impact kinds and the phase whose equipment is predicted."""

    bands_m: list[float] | None = Field(None, max_length=10, examples=[[50, 200, 500]])
    kinds: list[str] | None = Field(None, max_length=10, examples=[["noise", "dust", "vibration"]])
    active_phase: str | None = Field(None, max_length=100, examples=["foundation"])


class EquipmentLine(BaseModel):
    """Equipment planned in a phase of a site."""

    equipment: str = Field(max_length=40, examples=["excavator"])
    phase: str = Field("main", max_length=100)
    count: int = Field(1, ge=1, le=1000)
    night_work: bool = False
    attenuation_db: float = Field(0.0, ge=0, le=40, description="hoarding or barriers")


@router.put("/api/sites/{ref}/impact-settings", summary="Set a site's bands, kinds and phase")
def put_settings(
    engine: EngineDep,
    principal: ImpactEditor,
    rules: BandRulesDep,
    ref: SiteRefPath,
    settings: Annotated[ImpactSettings, Body()],
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Results follow at once: the impact is computed from these on every request.

    Bands are checked against the band rules (``impact.check_band_edit``); moving the outer
    band out is an administrator's act, audited with the households it adds."""
    with engine.begin() as conn:
        site = impact.resolve_site(conn, ref)
        versions.require_current(conn, site.id, if_match)
        widens = settings.bands_m is not None and impact.check_band_edit(
            principal, site.id, impact.current_bands(conn, site.id), settings.bands_m, rules
        )
        before = impact.count_affected(conn, site.id) if widens else 0
        impact.set_settings(
            conn,
            site.id,
            bands_m=settings.bands_m,
            kinds=settings.kinds,
            active_phase=settings.active_phase,
        )
        audit.record(
            conn,
            principal,
            AuditAction.CHANGE,
            target=f"site:{site.code}",
            record_count=1,
            detail={"impact_settings": settings.model_dump()},
        )
        if widens:
            audit.record(
                conn,
                principal,
                AuditAction.WIDEN_PERSONAL_SCOPE,
                target=f"site:{site.code}",
                record_count=impact.count_affected(conn, site.id) - before,
                detail={"households_before": before, "bands_m": settings.bands_m},
            )
        response.headers["ETag"] = versions.site_etag(conn, site.id)
        return impact.site_parameters(conn, site.id)


@router.put("/api/sites/{ref}/equipment", summary="Replace a site's planned equipment")
def put_equipment(
    engine: EngineDep,
    principal: ImpactEditor,
    ref: SiteRefPath,
    lines: Annotated[list[EquipmentLine], Body(max_length=500)],
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Every phase's equipment at once; unknown equipment is refused by name."""
    with engine.begin() as conn:
        site = impact.resolve_site(conn, ref)
        versions.require_current(conn, site.id, if_match)
        impact.set_equipment(conn, site.id, [line.model_dump() for line in lines])
        audit.record(
            conn,
            principal,
            AuditAction.CHANGE,
            target=f"site:{site.code}",
            record_count=len(lines),
            detail={"equipment": len(lines)},
        )
        response.headers["ETag"] = versions.site_etag(conn, site.id)
        return impact.site_parameters(conn, site.id)
