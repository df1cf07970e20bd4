"""``POST /api/imports/{layer}``: the CLI import, over HTTP, with the same checks.

Admins only. Every import is audited in its own transaction (``geo_service.ingest``);
a refused one is audited here, since its transaction rolled back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from geo_service import audit
from geo_service.access import Permission, Principal
from geo_service.api.deps import EngineDep, require_permission
from geo_service.audit import AuditAction
from geo_service.errors import ImportRejected, UnsupportedFile, UploadTooLarge
from geo_service.ingest import SUFFIXES, import_file
from geo_service.settings import ImportSettings
from layers import get_layer

router = APIRouter(prefix="/api/imports", tags=["imports"])
_CHUNK = 1 << 20


@router.post("/{layer}", status_code=201)
def import_layer(
    request: Request,
    engine: EngineDep,
    principal: Annotated[Principal, Depends(require_permission(Permission.IMPORT_DATA))],
    layer: str,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile or CSV")],
    mode: Annotated[Literal["append", "replace", "upsert"], Query()] = "append",
    crs: Annotated[str | None, Query(description="CRS of a file that has none")] = None,
    on_invalid: Annotated[Literal["repair", "reject"], Query()] = "repair",
) -> dict:
    """Import a file into a layer, all or nothing; the answer lists repaired rows."""
    get_layer(layer)
    settings = ImportSettings()
    # The client's file name is only a label and a suffix, never a path on this machine.
    name = PurePath((file.filename or "upload").replace("\\", "/")).name or "upload"
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; use GeoJSON, GeoPackage, "
            "a zipped Shapefile or CSV with lon/lat or WKT columns"
        )
    limit = settings.max_upload_mb * 2**20
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + _CHUNK:
        raise UploadTooLarge(
            f"upload is {declared / 2**20:.0f} MiB; the limit is {settings.max_upload_mb} MiB"
        )
    with tempfile.TemporaryDirectory(prefix="geo-import-") as folder:
        target = Path(folder) / f"upload{suffix}"
        size = 0
        with target.open("wb") as out:
            while chunk := file.file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(
                        f"{name} is over the upload limit of {settings.max_upload_mb} MiB"
                    )
                out.write(chunk)
        try:
            report = import_file(
                engine,
                layer,
                target,
                mode=mode,
                crs=crs,
                on_invalid=on_invalid,
                settings=settings,
                source=name,
                principal=principal,
            )
        except ImportRejected as exc:
            with engine.begin() as conn:
                audit.record(
                    conn,
                    principal,
                    AuditAction.IMPORT_REJECTED,
                    target=layer,
                    record_count=len(exc.problems),
                    # Counts only: problem messages quote cell values, maybe personal.
                    detail={"source": name, "mode": mode, "summary": exc.summary[:200]},
                )
            raise
    return report.as_dict()
