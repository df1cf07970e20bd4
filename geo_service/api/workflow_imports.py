"""``POST /api/sites/{site}/imports/visits`` and ``.../imports/requests``: a team's sheet
(XLSX or CSV) of visits or requests for one site, recorded as the API records them, all or
nothing (``geo_service.liaison.imports``).

For the site's liaison officers (and administrators), unlike the layer imports: the rows
are the officers' own work. The permission is checked before a byte of the upload is kept;
the upload is read with the layer imports' size limits.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, ImportSettingsDep, Lang, RequestWorker
from geo_service.api.imports import _upload_form, upload_body
from geo_service.errors import MalformedUpload, UnsupportedFile
from geo_service.ingest import record_rejection
from geo_service.liaison import imports as workflow
from geo_service.liaison.requests import site_for_work

router = APIRouter(tags=["imports"])

SiteCode = Annotated[str, PathParam(description="The site code, e.g. AZF-2024-01", max_length=64)]


@router.post(
    "/api/sites/{site}/imports/{kind}",
    status_code=201,
    summary="Import a sheet of visits or requests for a site (XLSX, CSV; all or nothing)",
    openapi_extra=upload_body("XLSX or CSV"),
    responses={422: {"description": "Row problems (row, column, what is wrong); nothing imported"}},
)
async def import_sheet(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    settings: ImportSettingsDep,
    lang: Lang,
    site: SiteCode,
    kind: workflow.Kind,
) -> dict[str, Any]:
    """Every row recorded, or none: the answer to a refused sheet lists each problem."""
    await run_in_threadpool(_check_site, engine, principal, site)
    form = await _upload_form(request, settings)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            error = MalformedUpload(
                "no file in the upload: send it as multipart/form-data in the field 'file'"
            )
            await run_in_threadpool(
                record_rejection, engine, principal, kind, "upload", "append", error
            )
            raise error
        name = PurePath((file.filename or "upload").replace("\\", "/")).name or "upload"
        suffix = PurePath(name).suffix.lower()
        if suffix not in workflow.SUFFIXES:
            error = UnsupportedFile(
                f"{name}: unsupported file type {suffix or '(none)'}; visits and requests are "
                "imported from XLSX or CSV"
            )
            await run_in_threadpool(
                record_rejection, engine, principal, kind, name, "append", error
            )
            raise error
        data = await file.read()
    finally:
        await form.close()
    return await run_in_threadpool(_import, engine, principal, kind, site, name, suffix, data, lang)


def _check_site(engine: Engine, principal: Principal, site: str) -> None:
    with engine.connect() as conn:
        site_for_work(conn, principal, site)


def _import(
    engine: Engine,
    principal: Principal,
    kind: workflow.Kind,
    site: str,
    name: str,
    suffix: str,
    data: bytes,
    lang: str,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="geo-sheet-") as folder:
        target = Path(folder) / f"upload{suffix}"
        target.write_bytes(data)
        done = workflow.import_file(
            engine,
            principal,
            kind,
            site,
            target,
            name=name,
            lang=lang,  # type: ignore[arg-type]
        )
    return done.as_dict()
