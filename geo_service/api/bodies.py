"""A bound on request bodies, before any route reads them.

Every body but an import's is a small JSON document or form (settings, equipment, site
lists, sign-in): a 24 MB one grew the server by 500 MiB and went into the append-only
audit log. Bodies over ``ServerSettings.max_body_kb`` get 413 and reach no route. Uploads
(``/api/imports/...``) have their own, larger limit (``ImportSettings.max_upload_mb``),
checked while they stream.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOADS = "/api/imports/"
OPEN311 = "/open311/"
# Visit photos stream under their own limit too (``LiaisonSettings.photo_max_mb``).
PHOTO_UPLOADS = re.compile(r"/api/visits/[^/]+/photos")


def _own_limit(path: str) -> bool:
    return path.startswith(UPLOADS) or PHOTO_UPLOADS.fullmatch(path) is not None


class BodyLimit:
    """Pure ASGI middleware: reads a bounded body whole, then hands it on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _own_limit(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared), scope["path"])
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:  # chunked, without a length: stop reading here
                await self._refuse(send, size, scope["path"])
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, size: int, path: str) -> None:
        limit_kb = self.max_bytes // 1024
        detail = {
            "error": "BodyTooLarge",
            "detail": f"the request body is over {size // 1024} KiB; JSON and form bodies "
            f"may be at most {limit_kb} KiB (files go to /api/imports/...)",
        }
        if path.startswith(OPEN311):  # its clients parse Open311's error list
            detail = [{"code": 413, "description": detail["detail"]}]
        payload = json.dumps(detail).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
