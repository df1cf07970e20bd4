"""Mitigation programmes and their cases (``geo_service.mitigation``), as JSON.

Who: programmes are created, their rules edited and households enrolled by
``manage_mitigation`` (administrators, planners); cases are read by whoever may list the
site's households (planners without personal fields) and worked by the site's case workers
(its liaison officers and administrators: ``Principal.can_read_personal``), who also read
the personal fields (the case's note, the household's contacts), audited. The funnel's
counts are of cases, not of personal attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection

from geo_service import audit, impact
from geo_service.access import Principal, personal_fields_for, require_households
from geo_service.api.deps import (
    CaseWorker,
    EngineDep,
    HouseholdReader,
    MitigationManager,
    SignedIn,
)
from geo_service.audit import AuditAction
from geo_service.errors import Forbidden
from geo_service.mitigation import cases, funnel, programmes, states

router = APIRouter(tags=["mitigation"])
SiteRefPath = Annotated[str, Path(description="The site code (e.g. QT-01) or numeric id")]
ProgrammePath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The programme's id")]
CasePath = Annotated[int, Path(ge=1, le=2**63 - 1, description="The case's id")]
State = Literal[states.STATES]  # type: ignore[valid-type]
Decibels = Annotated[float | None, Field(None, ge=0, le=200)]
Exceedance = Annotated[float | None, Field(None, gt=0, le=200)]
MAX_PAGE = 10_000
MAX_BULK = 5_000


class _Body(BaseModel):
    """Bodies name only known fields (an unknown one is a 422 naming it), in finite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Rule(_Body):
    """Who is eligible: thresholds in dB, each inclusive (exactly X counts), on the values
    the site's household list shows; ``any`` threshold met, or ``all`` given; bands 1 to
    ``max_band`` (1 is the innermost), or the whole outer band."""

    min_leq_day: Decibels = Field(None, examples=[65])
    min_leq_night: Decibels = None
    min_exceed_day: Exceedance = None
    min_exceed_night: Exceedance = Field(None, examples=[5])
    match: Literal["any", "all"] = "any"
    max_band: int | None = Field(None, ge=1, le=10)

    @model_validator(mode="after")
    def _one_threshold(self) -> Self:
        if all(getattr(self, name) is None for name in programmes.THRESHOLDS):
            raise ValueError(
                "a rule needs at least one threshold: " + ", ".join(programmes.THRESHOLDS)
            )
        return self


Money = Annotated[float | None, Field(None, ge=0, le=1e10)]


class ProgrammeBody(_Body):
    kind: str = Field(max_length=40, examples=["sound_insulation_windows"])
    title: str = Field(min_length=1, max_length=200, examples=["秋涛路沿线隔声窗"])
    rule: Rule
    budget: Money = None
    unit_cost_per_m2: Money = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in programmes.kinds():
            raise ValueError(f"unknown kind {kind!r}; kinds are: {', '.join(programmes.kinds())}")
        return kind


class ProgrammeEdit(_Body):
    """What changes; a rule is replaced whole. ``budget`` and ``unit_cost_per_m2`` may be
    cleared with null."""

    title: str | None = Field(None, min_length=1, max_length=200)
    rule: Rule | None = None
    budget: Money = None
    unit_cost_per_m2: Money = None

    @model_validator(mode="after")
    def _no_null_title_or_rule(self) -> Self:
        for name in ("title", "rule"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def columns(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        return {**values.pop("rule", {}), **values}


class Step(_Body):
    """The state to go to and the step's fields (``GET`` a case: ``next`` lists where it
    may go; each step's required fields are in the README)."""

    to: State
    surveyed_at: dt.date | None = None
    offered_at: dt.date | None = None
    agreed_at: dt.date | None = None
    declined_at: dt.date | None = None
    scheduled_for: dt.date | None = None
    installed_at: dt.date | None = None
    verified_at: dt.date | None = None
    closed_at: dt.date | None = None
    window_area_m2: float | None = Field(None, gt=0, le=states.MAX_WINDOW_AREA_M2)
    contractor: str | None = Field(None, min_length=1, max_length=states.MAX_CONTRACTOR)
    cost: float | None = Field(None, ge=0, le=states.MAX_COST)
    note: str | None = Field(None, max_length=states.MAX_NOTE)

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"to", "case_ids"}, exclude_none=True)


class BulkStep(Step):
    case_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=MAX_BULK
    )


def require_case_worker(principal: Principal, site_id: int, code: str) -> None:
    """Cases are worked by the site's liaison officers and administrators."""
    if not principal.can_read_personal(site_id):
        raise Forbidden(
            f"the {principal.role} role may not work mitigation cases of site {code}"
            + (" (it is not assigned to you)" if principal.role == "liaison" else ""),
            site=code,
        )


def _programme(conn: Connection, principal: Principal, programme_id: int) -> programmes.Programme:
    found = programmes.resolve(conn, programme_id)
    require_households(principal, found.site_id, found.site_code)
    return found


def _change(conn: Connection, principal: Principal, code: str, count: int, **detail: Any) -> None:
    """A programme's or case's change, in the audit log beside the case's own events."""
    audit.record(
        conn,
        principal,
        AuditAction.CHANGE,
        target=f"site:{code}",
        record_count=count,
        detail={"mitigation": detail},
    )


def _audit_read(
    conn: Connection,
    principal: Principal,
    code: str,
    count: int,
    personal: tuple[str, ...],
    **detail: Any,
) -> None:
    """Notes and contacts shown are a read of personal data, audited as the lists are."""
    audit.record(
        conn,
        principal,
        AuditAction.READ_PERSONAL,
        target=f"site:{code}",
        record_count=count,
        detail={**detail, "fields": [*cases.personal_columns(), *personal]},
    )


@router.get("/api/mitigation/kinds", summary="The kinds of mitigation measure")
def kinds(_: SignedIn) -> list[dict[str, str]]:
    return [vars(kind) for kind in programmes.kinds().values()]


@router.get("/api/sites/{ref}/mitigation/programmes", summary="A site's mitigation programmes")
def site_programmes(
    engine: EngineDep, principal: HouseholdReader, ref: SiteRefPath
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        return programmes.of_site(conn, site.id)


@router.post(
    "/api/sites/{ref}/mitigation/programmes",
    summary="Create a mitigation programme for a site",
    status_code=status.HTTP_201_CREATED,
)
def create_programme(
    engine: EngineDep,
    principal: MitigationManager,
    ref: SiteRefPath,
    body: Annotated[ProgrammeBody, Body()],
) -> dict[str, Any]:
    """Then ``POST .../enrol`` creates the cases of the households the rule selects."""
    with engine.begin() as conn:
        site = impact.resolve_site(conn, ref)
        values = {**body.model_dump(exclude={"rule"}), **body.rule.model_dump()}
        created = programmes.create(conn, site.id, values, principal)
        _change(conn, principal, site.code, 1, programme=created["id"], created=values)
        return created


@router.get("/api/mitigation/programmes/{programme_id}", summary="A programme and its funnel")
def get_programme(
    engine: EngineDep, principal: HouseholdReader, programme_id: ProgrammePath
) -> dict[str, Any]:
    with engine.connect() as conn:
        found = _programme(conn, principal, programme_id)
        (counts,) = funnel.funnel(conn, found.site_id, found.id)
        return {**programmes.get(conn, found.id), "funnel": counts}


@router.patch(
    "/api/mitigation/programmes/{programme_id}",
    summary="Change a programme's title, rule or costs",
)
def edit_programme(
    engine: EngineDep,
    principal: MitigationManager,
    programme_id: ProgrammePath,
    body: Annotated[ProgrammeEdit, Body()],
) -> dict[str, Any]:
    """Enrolled households keep their cases; those the new rule no longer selects show
    ``eligible_now: false``. Enrol again for the ones it adds."""
    with engine.begin() as conn:
        found = programmes.resolve(conn, programme_id)
        changed = programmes.edit(conn, found.id, body.columns())
        _change(conn, principal, found.site_code, 1, programme=found.id, edited=body.columns())
        return changed


@router.post(
    "/api/mitigation/programmes/{programme_id}/enrol",
    summary="Create a case for every household the rule selects and that has none",
)
def enrol(
    engine: EngineDep, principal: MitigationManager, programme_id: ProgrammePath
) -> dict[str, int]:
    """Idempotent: a second run creates nothing new; no case is ever deleted."""
    with engine.begin() as conn:
        found = programmes.resolve(conn, programme_id)
        result = programmes.enrol(conn, found.id, principal)
        _change(
            conn, principal, found.site_code, result["created"], programme=found.id, enrol=result
        )
        return result


@router.get("/api/mitigation/programmes/{programme_id}/funnel", summary="A programme's funnel")
def programme_funnel(
    engine: EngineDep, principal: HouseholdReader, programme_id: ProgrammePath
) -> dict[str, Any]:
    with engine.connect() as conn:
        found = _programme(conn, principal, programme_id)
        (counts,) = funnel.funnel(conn, found.site_id, found.id)
        return counts


@router.get("/api/sites/{ref}/mitigation/funnel", summary="The funnel of every programme of a site")
def site_funnel(
    engine: EngineDep, principal: HouseholdReader, ref: SiteRefPath
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        site = impact.resolve_site(conn, ref)
        require_households(principal, site.id, site.code)
        return funnel.funnel(conn, site.id)


@router.get(
    "/api/mitigation/programmes/{programme_id}/cases",
    summary="A programme's cases in door-knocking order",
)
def programme_cases(
    engine: EngineDep,
    principal: HouseholdReader,
    programme_id: ProgrammePath,
    state: Annotated[State | None, Query(description="Only cases in this state")] = None,
    community: Annotated[
        str | None, Query(max_length=200, description="A community's name")
    ] = None,
    building: Annotated[
        str | None, Query(max_length=200, description="A building's address")
    ] = None,
    eligible_now: Annotated[
        bool | None, Query(description="false: households the rule no longer selects")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Community, building, unit, each in natural order (2幢 before 10幢), as the household
    lists sort for door-knocking. Personal fields only for the site's case workers, audited."""
    wanted = cases.CaseFilter(state, community, building, eligible_now)
    with engine.begin() as conn:
        found = _programme(conn, principal, programme_id)
        personal = personal_fields_for(principal, found.site_id)
        rows, total = cases.list_cases(
            conn,
            found.id,
            found.site_id,
            wanted=wanted,
            personal=personal,
            limit=limit,
            offset=offset,
        )
        if personal and rows:
            _audit_read(conn, principal, found.site_code, len(rows), personal, programme=found.id)
    return {
        "programme_id": found.id,
        "total": total,
        "limit": limit,
        "offset": offset,
        "cases": rows,
    }


@router.get("/api/mitigation/cases/{case_id}", summary="One case with its events")
def get_case(engine: EngineDep, principal: HouseholdReader, case_id: CasePath) -> dict[str, Any]:
    with engine.begin() as conn:
        ref = cases.resolve(conn, case_id)
        require_households(principal, ref.site_id, ref.site_code)
        personal = personal_fields_for(principal, ref.site_id)
        case = cases.get_case(conn, ref, personal=personal)
        if personal:
            _audit_read(conn, principal, ref.site_code, 1, personal, case=ref.id)
        return case


@router.post("/api/mitigation/cases/{case_id}/transitions", summary="Move a case to its next state")
def transition(
    engine: EngineDep, principal: CaseWorker, case_id: CasePath, body: Annotated[Step, Body()]
) -> dict[str, Any]:
    """409 names the states the case may go to; 422 names the fields the step needs."""
    with engine.begin() as conn:
        ref = cases.resolve(conn, case_id)
        require_case_worker(principal, ref.site_id, ref.site_code)
        (done,) = cases.transition(
            conn, ref.programme_id, [ref.id], body.to, body.fields(), principal
        )
        _change(conn, principal, ref.site_code, 1, case=ref.id, to=body.to)
        return done


@router.post(
    "/api/mitigation/programmes/{programme_id}/transitions",
    summary="Move several cases of a programme to the same state, all or none",
)
def bulk_transition(
    engine: EngineDep,
    principal: CaseWorker,
    programme_id: ProgrammePath,
    body: Annotated[BulkStep, Body()],
) -> dict[str, Any]:
    """One refused case refuses them all (409 naming it), and nothing changes."""
    with engine.begin() as conn:
        found = programmes.resolve(conn, programme_id)
        require_case_worker(principal, found.site_id, found.site_code)
        done = cases.transition(conn, found.id, body.case_ids, body.to, body.fields(), principal)
        _change(conn, principal, found.site_code, len(done), programme=found.id, to=body.to)
        return {"cases": done}
