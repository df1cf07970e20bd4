"""What every OGC route shares: the collections a reader may read, and the answer itself.

An answer carries an ETag (a hash of its bytes) and private cache headers, and is a 304
when the client has it already; the features, tiles and documents are all answered so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from geo_service import formats
from geo_service.access import Principal
from geo_service.errors import Forbidden, NotFound
from geo_service.ogc.collections import Collection
from layers import COLLECTIONS

JSON = formats.JSON.media_type
# Answers depend on who asks, so caches keep them per user and revalidate with the ETag.
CACHE_CONTROL = "private, max-age=60"


def base_url(request: Request) -> str:
    """The OGC API's root as the client addressed it, for the links of an answer."""
    return str(request.base_url).rstrip("/") + "/ogc"


def readable(principal: Principal) -> list[Collection]:
    return [
        Collection(layer) for lid, layer in COLLECTIONS.items() if principal.can_read_layer(lid)
    ]


def readable_collection(principal: Principal, collection_id: str) -> Collection:
    """The collection if this principal may read it: 401 to ask for sign-in, 403, 404."""
    if collection_id not in COLLECTIONS:
        raise NotFound(
            f"no collection {collection_id!r}; collections are: {', '.join(COLLECTIONS)}"
        )
    if not principal.can_read_layer(collection_id):
        principal.require_signed_in()
        raise Forbidden(f"the {principal.role} role may not read {collection_id}")
    return Collection(COLLECTIONS[collection_id])


def answer(
    request: Request,
    body: bytes | str,
    media_type: str,
    headers: dict[str, str] | None = None,
    *,
    volatile: str = "",
) -> Response:
    """Bytes with an ETag (a hash of them), Cache-Control, and 304 when the client has them.

    ``volatile`` is a part of the body that changes without the data changing (a page's
    timeStamp); it is left out of the hash so that the ETag names the data.
    """
    data = body.encode() if isinstance(body, str) else body
    stable = data.replace(volatile.encode(), b"") if volatile else data
    etag = '"' + hashlib.blake2b(stable, digest_size=16).hexdigest() + '"'
    common = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization, Cookie"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=common)
    return Response(data, media_type=media_type, headers={**common, **(headers or {})})


def json_answer(request: Request, doc: Any, media_type: str = JSON) -> Response:
    return answer(request, json.dumps(doc, ensure_ascii=False), media_type)
