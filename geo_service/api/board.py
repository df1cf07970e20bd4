"""``/liaison/board``: the requests board of a site's working group (工作组诉求看板).

A page, in Chinese with English (or the other way round), usable on a phone: the site's
requests filtered by state, category, overdue, assignee and community, fifty to a page, on
a small map (vendored Leaflet on a blank background, ``maps/static/ogc_map.js``: no inline
script, nothing from outside), with links to the same list as CSV and XLSX. Those who work
the site also see reporter contacts (the read audited, as the list API does) and a form that
gives the ticked requests to one of the site's officers, all or none. The form is an
ordinary POST from this page: the session cookie's CSRF defence (``api.csrf``) applies.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, Lang, LiaisonSettingsDep, RequestReader, RequestWorker
from geo_service.api.pages import Language, templates
from geo_service.errors import InvalidCase
from geo_service.liaison import board, categories, states
from geo_service.liaison import requests as cases
from geo_service.liaison.calendar import TZ
from layers.requests import PRIORITIES, STATES
from maps.assets import local_url

router = APIRouter(tags=["requests"])

PAGE_SIZE = 50
Blank = Annotated[str | None, Query(max_length=100)]


def _given(value: str | None) -> str | None:
    """A form's empty choice (``state=``) means no filter."""
    return value.strip() or None if value is not None else None


def board_filter(
    site: Annotated[str, Query(min_length=1, max_length=64, description="A site code")],
    state: Blank = None,
    category: Blank = None,
    assignee: Blank = None,
    overdue: Annotated[str | None, Query(pattern="^(|true|false)$")] = None,
    community: Blank = None,
) -> cases.RequestFilter:
    """The board's filter as its form sends it: empty fields are no filter (an unknown
    state or community is refused by ``requests.matching``, naming it)."""
    late = _given(overdue)
    return cases.RequestFilter(
        site.strip(),
        _given(state),
        _given(category),
        _given(assignee),
        None if late is None else late == "true",
        _given(community),
    )


BoardFilter = Annotated[cases.RequestFilter, Depends(board_filter)]
Page = Annotated[int, Query(ge=1, le=100_000)]


def _query(wanted: cases.RequestFilter, **more: object) -> str:
    """The board's filter as a query string (the links, the export, the redirect)."""
    values = {k: v for k, v in wanted.__dict__.items() if v is not None}
    if wanted.overdue is not None:
        values["overdue"] = "true" if wanted.overdue else "false"
    return urlencode({**values, **{k: v for k, v in more.items() if v is not None}})


def _moment(value: Any) -> str:
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def render_board(
    request: Request,
    engine: Engine,
    principal: Principal,
    wanted: cases.RequestFilter,
    page: int,
    lang: Language,
    *,
    status: int = 200,
    assigned: int | None = None,
    refused: InvalidCase | None = None,
) -> HTMLResponse:
    other = "en" if lang == "zh" else "zh"
    with engine.begin() as conn:
        site = board.readable_site(conn, principal, wanted.site or "")
        rows, total = cases.list_requests(
            conn, principal, wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        context = {
            "site": site,
            "rows": rows,
            "total": total,
            "categories": categories.all_categories(conn),
            "communities": board.communities(conn, site),
            "workers": board.workers(conn, site) if principal.can_work_requests(site.id) else [],
            "features": board.points(conn, principal, wanted),
        }
    return templates.TemplateResponse(
        request,
        "board.html",
        {
            **context,
            "lang": lang,
            "wanted": wanted,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "states": STATES,
            "open_states": states.OPEN_STATES,  # only these may be ticked to assign
            "priorities": {str(p): p.label(lang) for p in PRIORITIES},
            "state_words": {str(s): s.label(lang) for s in STATES},
            "category_words": {
                c.code: c.name_zh if lang == "zh" else c.name_en for c in context["categories"]
            },
            "can_assign": principal.can_work_requests(site.id),
            "contacts": principal.can_read_case_personal(site.id),
            "query": _query(wanted),
            "page_url": lambda n: f"/liaison/board?{_query(wanted, page=n)}",
            "export_url": lambda fmt: (
                f"/api/requests/export?{_query(wanted, format=fmt, lang=lang)}"
            ),
            "switch_url": f"/liaison/board?{_query(wanted, page=page, lang=other)}",
            "moment": _moment,
            "assigned": assigned,
            "refused": refused,
            "stylesheets": [local_url("leaflet_css")],
            "scripts": [local_url("leaflet"), local_url("geo_service_ogc_js")],
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/liaison/board", response_class=HTMLResponse, summary="A site's requests board")
def board_page(
    request: Request,
    engine: EngineDep,
    principal: RequestReader,
    lang: Lang,
    wanted: BoardFilter,
    page: Page = 1,
    assigned: Annotated[int | None, Query(ge=0, le=500)] = None,
) -> HTMLResponse:
    """The site's requests as its working group reads them, filtered and paged."""
    return render_board(request, engine, principal, wanted, page, lang, assigned=assigned)


@router.post(
    "/liaison/board/assign",
    response_class=HTMLResponse,
    summary="Give the ticked requests of the board to one officer, all or none",
    responses={303: {"description": "Done: back to the board, which says how many"}},
)
def board_assign(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    lang: Lang,
    wanted: BoardFilter,
    assign_to: Annotated[str, Form(min_length=1, max_length=64)],
    ids: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006 - FastAPI copies it
    page: Page = 1,
) -> Response:
    """The filter rides in the query string, so the board comes back as it was; a refusal
    comes back on the board (422), naming each id and why, with nothing changed."""
    try:
        with engine.begin() as conn:
            done = board.assign_many(conn, principal, ids, assign_to, settings)
    except InvalidCase as error:  # BatchRefused among them
        return render_board(
            request, engine, principal, wanted, page, lang, status=422, refused=error
        )
    target = f"/liaison/board?{_query(wanted, page=page, assigned=len(done))}"
    return RedirectResponse(target, status_code=303)
