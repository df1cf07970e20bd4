"""Requests forged by other sites: what a session cookie may not do for them.

A browser sends the session cookie with any request to this host, also one that a page of
another origin makes (another port of 127.0.0.1 is the same *site* to SameSite=Lax, so the
cookie's own flag does not stop it). A state-changing request that is authenticated by the
cookie is therefore accepted only when the browser says it comes from this origin:
``Sec-Fetch-Site: same-origin`` (or ``none``, a person's own navigation), or, from a browser
without Fetch Metadata, an ``Origin`` equal to the service's. A request with neither is
refused: every browser of the last years sends one, and tools use tokens, which a
forged page cannot send. The sign-in form is guarded the same way (login CSRF: another
site signing a person in as the attacker's account). OWASP's CSRF cheat sheet calls this
"verifying origin with standard headers"; it needs no token in every form.
"""

from __future__ import annotations

from fastapi import Request

from geo_service.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def forged_by_another_site(request: Request) -> str | None:
    """Why the request may not use the session cookie, or None when it may."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site}"
    origin = request.headers.get("origin")
    if origin is not None:
        return None if origin == own_origin(request) else f"it comes from {origin}"
    return "the browser did not say where it comes from (no Sec-Fetch-Site, no Origin)"


def require_same_origin(request: Request) -> None:
    """Refuse a state-changing, cookie-authenticated request that another site could forge."""
    if request.method in SAFE_METHODS:
        return
    reason = forged_by_another_site(request)
    if reason:
        raise Forbidden(
            f"refused: a signed-in browser's {request.method} must come from this service's "
            f"own pages ({reason}); scripts and tools send an API token instead"
        )
