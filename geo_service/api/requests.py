"""``/api/requests``: residents' requests (居民诉求), their history, transitions, notes and
assignment, and ``/api/request-categories`` with their SLAs.

The work is done by ``geo_service.liaison.requests``; this module reads bodies and query
parameters and answers JSON. Reporter contacts and internal notes appear only for the
site's officers and administrators (audited); planners read every request's public fields;
working-group members their sites' requests without contacts.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.deps import (
    EngineDep,
    Lang,
    LiaisonSettingsDep,
    RequestReader,
    RequestWorker,
    SignedIn,
)
from geo_service.formats import REQUEST_EXPORT, RequestExportFormat
from geo_service.impact_export import content_disposition
from geo_service.liaison import board, categories, states
from geo_service.liaison import requests as cases
from layers.requests import CHANNELS, PRIORITIES, STATES

router = APIRouter(tags=["requests"])

PublicId = Annotated[
    str, Path(description="The request's public id, e.g. R2026000042", max_length=24)
]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class RequestIn(BaseModel):
    """A new request. Where: ``household`` (its point), else ``lon``/``lat`` (CRS84), else
    ``address`` alone (the site's point)."""

    model_config = ConfigDict(extra="forbid")

    site: Short = Field(description="The site code, e.g. AZF-2024-01")
    category: Short = Field(description="A code of /api/request-categories, e.g. noise")
    channel: Literal[CHANNELS] = Field(description="How the request came in")  # type: ignore[valid-type]
    description: Text
    household: int | None = Field(None, ge=1)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: Short | None = None
    reporter_name: Annotated[str, Field(max_length=64)] | None = None
    reporter_phone: Annotated[str, Field(max_length=32)] | None = None
    priority: Literal[PRIORITIES] = "normal"  # type: ignore[valid-type]
    agency: Short | None = None


class TransitionIn(BaseModel):
    """Move a request to ``to``; ``note`` is public (the resident may read it)."""

    model_config = ConfigDict(extra="forbid")

    to: Literal[STATES] = Field(description="The target state")  # type: ignore[valid-type]
    note: Text | None = None
    assignee: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="For assigned: the user who takes it"
    )
    duplicate_of: Annotated[str, Field(max_length=24)] | None = Field(
        None, description="For duplicate: the request it repeats"
    )
    satisfaction: int | None = Field(None, ge=1, le=5, description="For closed: 1-5")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Text
    internal: bool = Field(False, description="Internal notes are personal: officers only")


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: Annotated[str, Field(min_length=1, max_length=64)]
    agency: Short | None = None


class BulkAssigneeIn(AssigneeIn):
    """Many requests to one user, all or none: when any id is unknown, unreadable, no
    longer open, or the user does not work its site, nothing changes."""

    ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=24)]],
        Field(min_length=1, max_length=500, description="Public ids, e.g. R2026000042"),
    ]


def request_filter(
    site: Annotated[str | None, Query(max_length=64, description="A site code")] = None,
    state: Annotated[Literal[STATES] | None, Query()] = None,  # type: ignore[valid-type]
    category: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    overdue: Annotated[bool | None, Query(description="Only overdue (or only on time)")] = None,
    community: Annotated[
        str | None,
        Query(max_length=100, description="A community's name: requests within its outline"),
    ] = None,
) -> cases.RequestFilter:
    """The filter of the list, its export and the board, declared once."""
    return cases.RequestFilter(site, state, category, assignee, overdue, community)


Filter = Annotated[cases.RequestFilter, Depends(request_filter)]


@router.get("/api/request-categories", summary="Request categories and their SLAs")
def list_categories(engine: EngineDep, _: SignedIn) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dataclasses.asdict(c) for c in categories.all_categories(conn)]


@router.get("/api/request-states", summary="The request states and which may follow which")
def list_states(_: SignedIn) -> dict[str, Any]:
    return {
        "states": list(STATES),
        "open": list(states.OPEN_STATES),
        "transitions": [
            {"from": t.source, "to": t.target, "permission": t.permission.value, "needs": t.needs}
            for t in states.TRANSITIONS
        ],
    }


@router.get("/api/requests", summary="Requests, newest first")
def list_requests(
    engine: EngineDep,
    principal: RequestReader,
    wanted: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    with engine.begin() as conn:
        rows, total = cases.list_requests(conn, principal, wanted, limit=limit, offset=offset)
    return {"requests": rows, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/api/requests/export",
    summary="The filtered requests as a CSV or XLSX file",
    response_class=Response,
    responses={200: {"content": REQUEST_EXPORT.content()}},
)
def export_requests(
    engine: EngineDep,
    principal: RequestReader,
    settings: LiaisonSettingsDep,
    lang: Lang,
    wanted: Filter,
    format: Annotated[RequestExportFormat, Query(description="csv or xlsx")] = "csv",
) -> Response:
    """Headers in the chosen language with the other beside them; reporter contacts only
    for the sites the caller works (the export audited); formulas stay text."""
    with engine.begin() as conn:
        body, name, media_type = board.export_file(conn, principal, wanted, format, lang, settings)
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": content_disposition(name)}
    )


@router.post(
    "/api/requests/assign",
    summary="Give many requests to one user, all or none",
    responses={422: {"description": "Nothing changed; the answer names each refused id and why"}},
)
def post_bulk_assign(
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    body: BulkAssigneeIn,
) -> dict[str, Any]:
    with engine.begin() as conn:
        done = board.assign_many(
            conn, principal, body.ids, body.assignee, settings, agency=body.agency
        )
    return {"assigned": done, "assignee": body.assignee}


@router.post("/api/requests", status_code=201, summary="Record a request")
def create_request(engine: EngineDep, principal: RequestWorker, body: RequestIn) -> dict[str, Any]:
    new = cases.NewRequest(**body.model_dump())
    with engine.begin() as conn:
        public_id = cases.create(conn, principal, new)
        return cases.read(conn, principal, public_id)


@router.get("/api/requests/{public_id}", summary="One request with its history")
def get_request(engine: EngineDep, principal: RequestReader, public_id: PublicId) -> dict[str, Any]:
    with engine.begin() as conn:
        return cases.read(conn, principal, public_id)


@router.post(
    "/api/requests/{public_id}/transitions",
    summary="Move a request to another state",
    responses={409: {"description": "That state may not follow; the answer names those that may"}},
)
def post_transition(
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    public_id: PublicId,
    body: TransitionIn,
) -> dict[str, Any]:
    with engine.begin() as conn:
        cases.move(
            conn,
            principal,
            public_id,
            body.to,
            settings,
            note=body.note,
            assignee=body.assignee,
            duplicate_of=body.duplicate_of,
            satisfaction=body.satisfaction,
        )
        return cases.read(conn, principal, public_id)


@router.post("/api/requests/{public_id}/notes", status_code=201, summary="Add a note")
def post_note(
    engine: EngineDep, principal: RequestWorker, public_id: PublicId, body: NoteIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        cases.add_note(conn, principal, public_id, body.text, internal=body.internal)
        return cases.read(conn, principal, public_id)


@router.put("/api/requests/{public_id}/assignee", summary="Give a request to someone")
def put_assignee(
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    public_id: PublicId,
    body: AssigneeIn,
) -> dict[str, Any]:
    with engine.begin() as conn:
        cases.assign(conn, principal, public_id, body.assignee, settings, agency=body.agency)
        return cases.read(conn, principal, public_id)
