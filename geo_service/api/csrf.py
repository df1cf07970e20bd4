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
"verifying origin with standard headers"; it needs no token in every form. Basic
credentials a browser remembers are refused the same way when the browser says the request
comes from another site (``unsaid_ok``: tools say nothing).
"""

from __future__ import annotations

from fastapi import Request

from geo_service.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def forged_by_another_site(request: Request, *, unsaid_ok: bool = False) -> str | None:
    """Why the request may not use the browser's credentials, or None when it may.

    ``unsaid_ok``: a request that says nothing of where it comes from is let through. That is
    for HTTP Basic, which QGIS and curl send without either header, but which a browser
    also remembers after the 401's challenge and sends along as it does a cookie: a browser
    always says when a request comes from another site, so that is what is refused.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site}"
    origin = request.headers.get("origin")
    if origin is not None:
        return None if origin == own_origin(request) else f"it comes from {origin}"
    if unsaid_ok:
        return None
    return "the browser did not say where it comes from (no Sec-Fetch-Site, no Origin)"


def require_same_origin(request: Request, *, unsaid_ok: bool = False) -> None:
    """Refuse a state-changing request, authenticated by what a browser sends by itself
    (the session cookie, remembered Basic credentials), that another site could forge."""
    if request.method in SAFE_METHODS:
        return
    reason = forged_by_another_site(request, unsaid_ok=unsaid_ok)
    if reason:
        raise Forbidden(
            f"refused: a signed-in browser's {request.method} must come from this service's "
            f"own pages ({reason}); scripts and tools send an API token instead"
        )
