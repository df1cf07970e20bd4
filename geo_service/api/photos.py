"""``/api/visits/{id}/photos``: photos of a visit (``geo_service.liaison.photos``), uploaded
by the site's officers as multipart/form-data (field ``file``), shown to those who read the
visit's notes, each read audited.

The body is read by the endpoint itself, after the visit and the caller's right to its
site are checked, and streamed against ``GEO_SERVICE_LIAISON_PHOTO_MAX_MB`` (the general
body limit does not apply to this path): a caller who may not add a photo never has one
read. Nothing is stored unless the image decodes and is re-encoded.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, LiaisonSettingsDep, RequestWorker, Requirement
from geo_service.api.imports import read_form, upload_body
from geo_service.errors import MalformedUpload, UploadTooLarge
from geo_service.liaison import photos
from geo_service.liaison.requests import site_for_work

router = APIRouter(tags=["visits"])

PhotoReader = Annotated[
    Principal, Depends(Requirement(then="per site: Principal.can_read_case_personal"))
]
"""Signed in; the visit's site's officers (and administrators) see its photos, as its notes."""

VisitId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The visit's id")]
PhotoId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The photo's id")]


async def _photo_bytes(request: Request, limit_mb: float) -> bytes:
    limit = int(limit_mb * 2**20)
    declared = request.headers.get("content-length") or "0"
    if declared.isdigit() and int(declared) > limit + (1 << 20):
        raise UploadTooLarge(f"the photo is over the limit of {limit_mb:g} MiB")
    form = await read_form(request, limit, limit_mb)  # type: ignore[arg-type]
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise MalformedUpload(
                "no photo in the upload: send it as multipart/form-data in the field 'file'"
            )
        data = await file.read(limit + 1)
    finally:
        await form.close()
    if len(data) > limit:
        raise UploadTooLarge(f"the photo is over the limit of {limit_mb:g} MiB")
    return data


@router.post(
    "/api/visits/{visit_id}/photos",
    status_code=201,
    summary="Add a photo to a visit (its metadata removed)",
    openapi_extra=upload_body("A JPEG, PNG or WebP photo"),
)
async def post_photo(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    visit_id: VisitId,
) -> dict[str, Any]:
    def check() -> None:
        with engine.connect() as conn:
            site_for_work(conn, principal, photos.visit_site(conn, visit_id))

    await run_in_threadpool(check)
    data = await _photo_bytes(request, settings.photo_max_mb)
    clean = await run_in_threadpool(photos.clean, data, settings)

    def store() -> dict[str, Any]:
        with engine.begin() as conn:
            return photos.attach(conn, principal, visit_id, clean)

    return await run_in_threadpool(store)


@router.get("/api/visits/{visit_id}/photos", summary="A visit's photos (not their bytes)")
def list_photos(engine: EngineDep, principal: PhotoReader, visit_id: VisitId) -> dict[str, Any]:
    with engine.connect() as conn:
        return {"photos": photos.photos(conn, principal, visit_id)}


@router.get(
    "/api/visits/{visit_id}/photos/{photo_id}",
    summary="One photo (audited)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in ("image/jpeg", "image/png", "image/webp")}}},
)
def get_photo(
    engine: EngineDep, principal: PhotoReader, visit_id: VisitId, photo_id: PhotoId
) -> Response:
    with engine.begin() as conn:
        content_type, data = photos.photo(conn, principal, visit_id, photo_id)
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
