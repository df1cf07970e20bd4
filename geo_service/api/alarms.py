"""``/api/alarms``: the monitors' exceedance alarms, one with its history, its transitions,
and the list as CSV or XLSX (``geo_service.monitoring.alarm_records`` does the work).

Read like the monitors' readings (``read_public_layers``: a site's noise and dust are not
personal); answered (acknowledged, replied with the actions taken, closed) by the site's
liaison officers and administrators, as its residents' requests are.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.deps import EngineDep, Lang, PublicLayerReader, RequestWorker
from geo_service.errors import InvalidQuery
from geo_service.formats import ALARM_LIST, AlarmListFormat
from geo_service.impact_export import content_disposition
from geo_service.monitoring import alarm_records, lifecycle
from geo_service.monitoring.alarms import actions

router = APIRouter(tags=["monitoring"])

AlarmId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The alarm's id")]


class AlarmTransitionIn(BaseModel):
    """Move an alarm to ``to``; ``replied`` needs the ``reply`` and the ``actions`` taken
    (codes of ``GET /api/alarm-states``)."""

    model_config = ConfigDict(extra="forbid")

    to: Literal[lifecycle.STATES] = Field(description="The target state")  # type: ignore[valid-type]
    note: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    reply: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    actions: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=20)


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidQuery(f"{name}={value.isoformat()} has no time zone (add +08:00 or Z)")
    return value


@router.get("/api/alarm-states", summary="Alarm kinds, states, transitions and reply actions")
def alarm_states(_: PublicLayerReader) -> dict[str, Any]:
    return {
        "kinds": list(lifecycle.KINDS),
        "states": list(lifecycle.STATES),
        "transitions": [
            {"from": t.source, "to": t.target, "by": t.by, "needs": t.needs}
            for t in lifecycle.TRANSITIONS
        ],
        "actions": actions(),
    }


@router.get(
    "/api/alarms",
    summary="Alarms, newest first (JSON, CSV or XLSX)",
    responses={200: {"content": ALARM_LIST.content()}},
)
def list_alarms(
    engine: EngineDep,
    principal: PublicLayerReader,
    lang: Lang,
    site: Annotated[str | None, Query(max_length=64, description="A site code")] = None,
    monitor: Annotated[str | None, Query(max_length=24, description="A monitor's MN")] = None,
    state: Annotated[Literal[lifecycle.STATES] | None, Query()] = None,  # type: ignore[valid-type]
    kind: Annotated[Literal[lifecycle.KINDS] | None, Query()] = None,  # type: ignore[valid-type]
    from_: Annotated[
        dt.datetime | None, Query(alias="from", description="Alarms reaching past this time")
    ] = None,
    to: Annotated[dt.datetime | None, Query(description="Alarms started before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    format: Annotated[AlarmListFormat, Query()] = "json",
) -> Response:
    wanted = alarm_records.AlarmFilter(
        site, monitor, state, kind, _aware(from_, "from"), _aware(to, "to")
    )
    with engine.begin() as conn:
        rows, total = alarm_records.list_alarms(conn, principal, wanted, limit=limit, offset=offset)
    if format != "json":
        name = f"alarms{ALARM_LIST[format].extension}"
        return Response(
            alarm_records.export(rows, format, lang),
            media_type=ALARM_LIST[format].media_type,
            headers={"Content-Disposition": content_disposition(name)},
        )
    return JSONResponse(
        jsonable_encoder({"alarms": rows, "total": total, "limit": limit, "offset": offset})
    )


@router.get("/api/alarms/{alarm_id}", summary="One alarm with its history and windows")
def get_alarm(engine: EngineDep, principal: PublicLayerReader, alarm_id: AlarmId) -> Any:
    with engine.connect() as conn:
        return jsonable_encoder(alarm_records.read(conn, principal, alarm_id))


@router.post(
    "/api/alarms/{alarm_id}/transitions",
    summary="Acknowledge, reply to or close an alarm",
    responses={409: {"description": "That state may not follow; the answer names those that may"}},
)
def post_alarm_transition(
    engine: EngineDep, principal: RequestWorker, alarm_id: AlarmId, body: AlarmTransitionIn
) -> Any:
    with engine.begin() as conn:
        return jsonable_encoder(
            alarm_records.move(
                conn,
                principal,
                alarm_id,
                body.to,
                note=body.note,
                reply=body.reply,
                actions_taken=body.actions,
            )
        )
