"""What every OGC route shares: how it is routed, the collections a reader may read, and the
answer itself.

Every route answers GET and HEAD (``route``). An answer carries an ETag (a hash of its
bytes) and private cache headers, and is a 304 when the client has it already; the
features, tiles and documents are all answered so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from geo_service import formats
from geo_service.access import Principal
from geo_service.errors import NotFound
from geo_service.ogc import params
from geo_service.ogc.collections import Collection
from geo_service.query import work_sites
from layers import COLLECTIONS

JSON = formats.JSON.media_type
# Answers depend on who asks, so caches keep them per user and revalidate with the ETag.
CACHE_CONTROL = "private, max-age=60"


def route(
    router: APIRouter, path: str, operation: str, summary: str | None = None, **options: Any
) -> Callable:
    """A GET route of the OGC API's ``operation`` (an operationId of ``/ogc/api``).

    It answers HEAD too: HTTP requires HEAD wherever GET is, and clients ask it first
    (GDAL's ``/vsicurl/`` takes a file's size from it). A query parameter the operation
    does not declare (``params.declared``) is a 400 that names it.
    """

    def known_parameters(request: Request) -> None:
        params.refuse_unknown(operation, request.query_params)

    checks = [Depends(known_parameters)]

    def register(endpoint: Callable) -> Callable:
        router.api_route(path, methods=["GET"], summary=summary, dependencies=checks, **options)(
            endpoint
        )
        # HEAD as a route of its own, left out of /openapi.json: one operation per path there.
        head = {**options, "include_in_schema": False}
        router.api_route(path, methods=["HEAD"], dependencies=checks, **head)(endpoint)
        return endpoint

    return register


def base_url(request: Request) -> str:
    """The OGC API's root as the client addressed it, for the links of an answer."""
    return str(request.base_url).rstrip("/") + "/ogc"


def readable(principal: Principal) -> list[Collection]:
    return [_collection(principal, lid) for lid in COLLECTIONS if principal.can_read_layer(lid)]


def _collection(principal: Principal, collection_id: str) -> Collection:
    """The collection as this reader sees it: with the work counts of the liaison work
    they may read (a household's ``visited``, ``open_requests``), else without them."""
    layer = COLLECTIONS[collection_id]
    return Collection(layer, work_sites=work_sites(principal) if layer.work_counts else None)


def readable_collection(principal: Principal, collection_id: str) -> Collection:
    """The collection if this principal may read it: 401 to ask for sign-in, else 404.

    A collection the reader may not read is not there for them, as in ``/collections``
    and ``/ogc/api``: a 403 made QGIS show households as a valid, empty layer to a gis
    token.
    """
    if collection_id in COLLECTIONS and principal.can_read_layer(collection_id):
        return _collection(principal, collection_id)
    if collection_id in COLLECTIONS:
        principal.require_signed_in()
    names = ", ".join(c.id for c in readable(principal)) or "none for this reader"
    raise NotFound(f"no collection {collection_id!r}; collections are: {names}")


def answer(
    request: Request,
    body: bytes | str,
    media_type: str,
    headers: dict[str, str] | None = None,
    *,
    volatile: str = "",
    links: list[dict[str, Any]] | None = None,
) -> Response:
    """Bytes with an ETag (a hash of them), Cache-Control, and 304 when the client has them;
    a byte range of them (206) when the client asks for one; the document's ``links`` also
    as a ``Link`` header.

    ``volatile`` is a part of the body that changes without the data changing (a page's
    timeStamp); it is left out of the hash so that the ETag names the data.
    """
    if links:
        headers = {**(headers or {}), "Link": link_header(links)}
    data = body.encode() if isinstance(body, str) else body
    stable = data.replace(volatile.encode(), b"") if volatile else data
    etag = '"' + hashlib.blake2b(stable, digest_size=16).hexdigest() + '"'
    common = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Authorization, Cookie",
        "Accept-Ranges": "bytes",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=common)
    span = _asked_range(request, etag, len(data))
    if span == UNSATISFIABLE:
        unsatisfiable = {**common, "Content-Range": f"bytes */{len(data)}"}
        return Response(status_code=416, headers=unsatisfiable)
    if span is not None:
        start, end = span
        headers = {**(headers or {}), "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        return Response(data[start : end + 1], 206, {**common, **headers}, media_type)
    return Response(data, media_type=media_type, headers={**common, **(headers or {})})


UNSATISFIABLE = (-1, -1)


def _asked_range(request: Request, etag: str, size: int) -> tuple[int, int] | None:
    """The first and last byte of the one range a GET asks for (``Range: bytes=a-b``, ``a-``
    or ``-n``, RFC 9110 section 14), or None to answer whole: no range, several ranges, a
    range it cannot read, or an ``If-Range`` naming other bytes.

    GDAL's ``/vsicurl/`` (pyogrio reading an items URL) reads a large answer so, a range
    at a time; without ranges it refuses ("Range downloading not supported").
    """
    raw = request.headers.get("range", "")
    if request.method != "GET" or not raw.startswith("bytes=") or "," in raw:
        return None
    if request.headers.get("if-range", etag) != etag:
        return None
    first, _, last = raw[len("bytes=") :].strip().partition("-")
    if not (first + last).isdigit():
        return None
    if not first:  # the last n bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n and size else UNSATISFIABLE
    start = int(first)
    if start >= size:
        return UNSATISFIABLE
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


def json_answer(request: Request, doc: Any, media_type: str = JSON) -> Response:
    links = doc.get("links") if isinstance(doc, dict) else None
    return answer(request, json.dumps(doc, ensure_ascii=False), media_type, links=links)


# Characters left as they are in a Link header's URI: a comma is escaped too, since many
# readers split the header at commas (ogctests among them).
_URI_SAFE = "/:?&=%#+@!$'()*;~[]"


def link_header(links: list[dict[str, Any]]) -> str:
    """RFC 8288 ``Link``: each link's href, rel and type (OGC 17-069r4 recommends the links
    as headers too; HEAD then tells a client where things are). Titles, which may be text
    a header cannot carry, and URI templates stay in the document."""
    return ", ".join(
        f'<{quote(link["href"], safe=_URI_SAFE)}>; rel="{link["rel"]}"'
        + (f'; type="{link["type"]}"' if link.get("type") else "")
        for link in links
        if not link.get("templated")
    )
