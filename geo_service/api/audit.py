"""``/api/audit``: the audit log for administrators, as JSON pages or CSV.

Reading the audit log is itself audited (``read_audit``, with the filter used).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from geo_service import audit
from geo_service.api.deps import Auditor, EngineDep
from geo_service.audit import AuditAction, AuditFilter
from geo_service.formats import AUDIT_LOG, AuditLogFormat

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get(
    "",
    summary="The audit log, newest first",
    responses={
        200: {
            "description": "A page of audit rows (JSON) or the rows as CSV",
            "content": AUDIT_LOG.content(),
        }
    },
)
def read_audit(
    engine: EngineDep,
    principal: Auditor,
    actor: Annotated[str | None, Query(description="User name, or token:<prefix>")] = None,
    action: Annotated[AuditAction | None, Query()] = None,
    since: Annotated[dt.datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Annotated[AuditLogFormat, Query()] = "json",
) -> Response:
    """Rows matching every filter given; ``total`` counts them all, ``next`` pages on."""
    wanted = AuditFilter(actor=actor, action=action, since=_utc(since), until=_utc(until))
    with engine.begin() as conn:
        rows, total = audit.query(conn, wanted, limit=limit, offset=offset)
        audit.record(
            conn,
            principal,
            AuditAction.READ_AUDIT,
            target="audit_log",
            record_count=len(rows),
            detail={**wanted.as_dict(), "limit": limit, "offset": offset, "format": format},
        )
    if format == "csv":
        # With a byte-order mark, Excel and WPS open the UTF-8 (Chinese names) correctly.
        return Response(
            "\ufeff" + audit.as_csv(rows),
            media_type=AUDIT_LOG["csv"].media_type,
            headers={"Content-Disposition": 'attachment; filename="audit_log.csv"'},
        )
    more = offset + len(rows) < total
    return JSONResponse(
        jsonable_encoder(
            {
                "items": rows,
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_offset": offset + len(rows) if more else None,
            }
        )
    )


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 parsers accept."""
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # year 1 at +05:00 is before the first UTC instant
        return dt.datetime.min.replace(tzinfo=dt.UTC)
