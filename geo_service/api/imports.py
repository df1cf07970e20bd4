"""``POST /api/imports/{layer}``: the CLI import, over HTTP, with the same checks.

Admins only. Every import is audited in its own transaction (``geo_service.ingest``), and
so is every refusal, in a transaction of its own since the import's rolled back: the
upload's (size, form, file name) here, the file's in ``import_file``.

The upload is read by the endpoint itself, after the permission check and the checks of
layer, file name and declared size: a caller who may not import never gets a byte of the
body stored (FastAPI would parse a declared ``File`` parameter before any dependency).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, Importer, ImportSettingsDep
from geo_service.errors import GeoServiceError, MalformedUpload, UnsupportedFile, UploadTooLarge
from geo_service.ingest import SUFFIXES, area, import_file, record_rejection
from geo_service.settings import ImportSettings
from layers import get_layer

router = APIRouter(prefix="/api/imports", tags=["imports"])
_CHUNK = 1 << 20


def upload_body(description: str) -> dict[str, Any]:
    """What FastAPI would document for ``file: UploadFile = File(...)``, written out because
    the upload endpoints read the body themselves (``read_form``)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": description,
                            }
                        },
                    }
                }
            },
        }
    }


@router.post(
    "/{layer}",
    status_code=201,
    openapi_extra=upload_body("GeoJSON, GeoPackage, zipped Shapefile or CSV"),
)
async def import_layer(
    request: Request,
    engine: EngineDep,
    principal: Importer,
    settings: ImportSettingsDep,
    layer: str,
    mode: Annotated[Literal["append", "replace", "upsert"], Query()] = "append",
    crs: Annotated[str | None, Query(description="CRS of a file that has none")] = None,
    on_invalid: Annotated[
        Literal["repair", "reject", "skip"],
        Query(
            description="repair invalid geometries, reject the file, or skip every row with a "
            "problem (the answer lists each, with its reasons)"
        ),
    ] = "repair",
    file_layer: Annotated[
        str | None,
        Query(alias="layer", description="The layer to read, in a file with several (GeoPackage)"),
    ] = None,
    merge_parts: Annotated[
        bool,
        Query(
            description="Rows sharing a natural key (parts of one address) become one feature, "
            "their polygons unioned into one multipolygon"
        ),
    ] = False,
) -> dict:
    """Import a file into a layer, all or nothing; the answer lists repaired rows, and with
    ``on_invalid=skip`` every row left out (``skipped``, with each problem).

    Every refusal is audited, the upload's own (size, form, file name) here and the file's
    in ``import_file``.
    """
    get_layer(layer)
    options = _Options(mode, crs, on_invalid, file_layer, merge_parts)
    form: FormData | None = None
    try:
        form = await _upload_form(request, settings)
        file, name, suffix = _uploaded_file(form)
    except GeoServiceError as exc:
        if form is not None:
            await form.close()
        await run_in_threadpool(record_rejection, engine, principal, layer, "upload", mode, exc)
        raise
    try:
        report = await run_in_threadpool(
            _import, engine, principal, layer, file, name, suffix, options, settings
        )
        if layer == "sites":  # assignments resolve to the new rows' ids
            request.app.state.principal_cache.clear()
        return report
    finally:
        await form.close()


class ServiceAreaBox(BaseModel):
    """The lon/lat box imported data must lie in, in degrees (CRS84)."""

    west: float = PydanticField(examples=[24.9])
    south: float = PydanticField(examples=[60.1])
    east: float = PydanticField(examples=[25.0])
    north: float = PydanticField(examples=[60.2])


@router.get("/service-area", summary="Where imported data may lie, and who set it")
def get_service_area(engine: EngineDep, _: Importer, settings: ImportSettingsDep) -> dict:
    with engine.connect() as conn:
        return area.current_area(conn, settings).as_dict()


@router.put(
    "/service-area",
    summary="Move or widen the service area (audited); imports use it at once",
    responses={400: {"description": "Not a box on the globe (west < east, south < north)"}},
)
def put_service_area(
    engine: EngineDep, principal: Importer, settings: ImportSettingsDep, body: ServiceAreaBox
) -> dict:
    """Stored in the database: every server process uses it from its next import, no restart."""
    with engine.begin() as conn:
        box = (body.west, body.south, body.east, body.north)
        return area.set_service_area(conn, box, settings=settings, by=principal).as_dict()


@router.delete(
    "/service-area", summary="Back to the default area, GEO_SERVICE_IMPORT_SERVICE_AREA (audited)"
)
def delete_service_area(
    engine: EngineDep, principal: Importer, settings: ImportSettingsDep
) -> dict:
    with engine.begin() as conn:
        return area.reset_service_area(conn, settings=settings, by=principal).as_dict()


async def _upload_form(request: Request, settings: ImportSettings) -> FormData:
    """The form, refused when its declared or streamed size is over the limit."""
    limit = settings.max_upload_mb * 2**20
    declared = request.headers.get("content-length") or "0"
    if not declared.isdigit():
        raise MalformedUpload(f"Content-Length {declared!r} is not a number of bytes")
    if int(declared) > limit + _CHUNK:
        raise UploadTooLarge(
            f"upload is {int(declared) / 2**20:.0f} MiB; the limit is {settings.max_upload_mb} MiB"
        )
    return await read_form(request, limit, settings.max_upload_mb)


def _uploaded_file(form: FormData) -> tuple[UploadFile, str, str]:
    """The file, its name (a label, never a path on this machine) and its suffix."""
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise MalformedUpload(
            "no file in the upload: send it as multipart/form-data in the field 'file'"
        )
    name = PurePath((file.filename or "upload").replace("\\", "/")).name or "upload"
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; use GeoJSON, GeoPackage, "
            "a zipped Shapefile or CSV with lon/lat or WKT columns"
        )
    return file, name, suffix


async def read_form(request: Request, limit: int, limit_mb: int) -> FormData:
    """The multipart body, streamed and cut off at the size limit (chunked uploads too)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise MalformedUpload(
            f"the upload must be multipart/form-data with the file in the field 'file' "
            f"(got {content_type or 'no Content-Type'})"
        )

    async def bounded() -> AsyncIterator[bytes]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit + _CHUNK:  # the multipart framing is not the file
                raise UploadTooLarge(f"the upload is over the limit of {limit_mb} MiB")
            yield chunk

    parser = MultiPartParser(request.headers, bounded(), max_files=1, max_fields=10)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise MalformedUpload(f"the multipart body could not be read: {exc.message}") from None


@dataclass(frozen=True)
class _Options:
    """How the upload is read and written: the query parameters, passed on together."""

    mode: str
    crs: str | None
    on_invalid: str
    file_layer: str | None
    merge_parts: bool


def _import(
    engine: Engine,
    principal: Principal,
    layer: str,
    file: UploadFile,
    name: str,
    suffix: str,
    options: _Options,
    settings: ImportSettings,
) -> dict:
    limit = settings.max_upload_mb * 2**20
    with tempfile.TemporaryDirectory(prefix="geo-import-") as folder:
        target = Path(folder) / f"upload{suffix}"
        size = 0
        with target.open("wb") as out:
            file.file.seek(0)
            while chunk := file.file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    error = UploadTooLarge(
                        f"{name} is over the upload limit of {settings.max_upload_mb} MiB"
                    )
                    record_rejection(engine, principal, layer, name, options.mode, error)
                    raise error
                out.write(chunk)
        report = import_file(
            engine,
            layer,
            target,
            mode=options.mode,
            crs=options.crs,
            on_invalid=options.on_invalid,
            settings=settings,
            source=name,
            principal=principal,
            file_layer=options.file_layer,
            merge_parts=options.merge_parts,
        )
    return report.as_dict()
