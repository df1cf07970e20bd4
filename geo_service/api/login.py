"""``/login`` and ``/logout``: signing in with a browser, in Chinese with English beneath.

A successful sign-in opens a session on the server and sets its cookie: HttpOnly (scripts
on a page cannot read it), SameSite=Lax, and Secure outside development (HTTPS only).
Signing out is a POST from the service's own page (``GET /logout`` asks first), and ends
the session on the server, so a copied cookie stops working too.
Tools do not sign in here: they send an API token with every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo_service import audit, auth
from geo_service.api.csrf import require_same_origin
from geo_service.api.deps import SESSION_COOKIE, EngineDep, Lang, Language, Public, SessionUser
from geo_service.api.pages import templates
from geo_service.audit import AuditAction
from geo_service.auth import PrincipalCache
from geo_service.errors import NotAuthenticated, TooManyAttempts

router = APIRouter(tags=["sign-in"])


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this service only, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    # Browsers drop tabs and line breaks from a URL ("/<tab>/evil.example" is
    # "//evil.example"): no control character at all, nor a backslash (read as "/").
    if any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    return target


def _form(
    request: Request,
    lang: Language,
    next_: str,
    *,
    error: tuple[str, str] | None = None,
    username: str = "",
    signed_in: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": lang,
            "next": next_,
            "error": error,
            "username": username,
            "signed_in": signed_in,
        },
        status_code=status_code,
        headers=headers,
    )


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(
    request: Request, _: Public, principal: SessionUser, lang: Lang, next: str = "/"
) -> HTMLResponse:
    """The sign-in form; it says who is signed in already, if anyone is."""
    return _form(request, lang, safe_next(next), signed_in=principal and principal.username)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    engine: EngineDep,
    _: Public,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/",
    lang: Annotated[Language, Form()] = "zh",
) -> Response:
    """Check the password (throttled, audited); on success set the cookie and go on.

    Only from this service's own form: another site may not sign a person in (as the
    attacker's account, whose work the person would then do)."""
    require_same_origin(request)
    state = request.app.state
    target = safe_next(next)
    username = username.strip()
    client = request.client.host if request.client else None
    try:
        principal = auth.sign_in(
            engine, username, password, client=client, settings=state.auth_settings
        )
    except TooManyAttempts as exc:
        message = (
            f"登录失败次数过多，请 {exc.retry_after} 秒后再试。",
            f"Too many failed attempts; try again in {exc.retry_after} seconds.",
        )
        return _form(
            request,
            lang,
            target,
            error=message,
            username=username,
            status_code=429,
            headers=exc.headers(),
        )
    except NotAuthenticated:
        message = ("用户名或密码错误。", "Wrong user name or password.")
        return _form(request, lang, target, error=message, username=username, status_code=401)
    assert principal.username is not None
    response = RedirectResponse(target, status_code=303)
    hours = state.auth_settings.session_hours
    cookie = auth.start_session(
        engine, principal.username, secret=state.session_secret, hours=hours, client=client
    )
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=state.server_settings.environment != "development",
    )
    return response


@router.get("/logout", response_class=HTMLResponse, include_in_schema=False)
def logout_page(request: Request, _: Public, principal: SessionUser, lang: Lang) -> Response:
    """Asks before signing out: a link on another site cannot sign a person out."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return _form(request, lang, "/", signed_in=principal.username)


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, engine: EngineDep, _: Public, principal: SessionUser
) -> RedirectResponse:
    """End the browser session on the server (every copy of the cookie stops working), drop
    the cookie and show the sign-in form."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal is not None and cookie:
        with engine.begin() as conn:
            auth.end_session(conn, cookie, secret=request.app.state.session_secret)
            audit.record(conn, principal, AuditAction.LOGOUT)
        request.app.state.principal_cache.forget(PrincipalCache.key("session", cookie))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
