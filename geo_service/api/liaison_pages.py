"""``/liaison/...``: the liaison officer's pages, for a phone first (390x844) and a desk.

My sites; a site's doors in door-knocking order with filters; a household (impact figures,
visits, requests, mitigation cases) with the forms to log a visit and record a request; a
request with the forms to move, assign and note it. Chinese first with English beneath.

The pages read and write through the liaison functions (``visits.log``,
``requests.create``, ``requests.move``, ``requests.assign``, ``requests.add_note``), which
hold every rule; this module only parses the forms, says in the page's language what a
form lacks, and shows a refusal beside the form that caused it. Every form is a POST from
these pages only (``csrf.require_same_origin``, as the sign-in form), and after it the
browser is sent to the page it came from (303), so a reload does not post twice.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.access import Principal
from geo_service.api.csrf import require_same_origin
from geo_service.api.deps import EngineDep, Lang, LiaisonSettingsDep, RequestWorker
from geo_service.api.pages import Language, templates
from geo_service.errors import InvalidCase, RefusedTransition
from geo_service.impact import SiteRef
from geo_service.liaison import categories, doors, states
from geo_service.liaison import requests as cases
from geo_service.liaison import visits as visit_log
from geo_service.liaison.calendar import TZ
from geo_service.mitigation.states import LABELS as CASE_STATE_LABELS
from geo_service.own_tables import OFFICER_DUTIES
from layers import get_layer
from layers.requests import CHANNELS, PRIORITIES, STATES
from layers.visits import OUTCOMES
from maps.assets import local_url

router = APIRouter(tags=["liaison pages"])

SiteCode = Annotated[str, Path(description="The site code, e.g. AZF-2024-01", max_length=64)]
HouseholdId = Annotated[int, Path(ge=1, description="The household's id")]
PublicId = Annotated[str, Path(description="The request's id, e.g. R2026000042", max_length=24)]
PAGE = 50
DUTIES = {"lead": ("组长", "Lead"), "deputy": ("副组长", "Deputy")}
assert set(DUTIES) == set(OFFICER_DUTIES)

Message = tuple[str, str]  # (Chinese, English)


class FormProblem(Exception):
    """A form that cannot be sent on as it is: what to fix, in both languages."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.message: Message = (zh, en)


# -- what every page needs ---------------------------------------------------------------------
def _choices(values: tuple[Any, ...], lang: Language) -> dict[str, str]:
    return {str(c): c.label(lang) for c in values}


def _tel(phone: str | None) -> str | None:
    """A ``tel:`` target: the digits (and a leading +) of a phone as people write it."""
    digits = re.sub(r"[^0-9+]", "", phone or "")
    return f"tel:{digits}" if digits else None


def _local(moment: dt.datetime | dt.date | None, *, time: bool = True) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(TZ)
        return f"{moment:%Y-%m-%d %H:%M}" if time else f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d}"


def _page(
    request: Request,
    name: str,
    lang: Language,
    principal: Principal,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch = urlencode({**query, "lang": "zh" if lang == "en" else "en"})
    households = get_layer("households")
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "principal": principal,
            "switch_url": f"{request.url.path}?{switch}",
            "stylesheets": [local_url("geo_service_liaison_css")],
            "scripts": [local_url("geo_service_liaison_js")],
            "outcomes": _choices(OUTCOMES, lang),
            "request_states": _choices(STATES, lang),
            "channels": _choices(CHANNELS, lang),
            "priorities": _choices(PRIORITIES, lang),
            "case_states": {k: v[0 if lang == "zh" else 1] for k, v in CASE_STATE_LABELS.items()},
            "field": lambda name: households.field(name).label(lang),
            "local": _local,
            "tel": _tel,
            "quote": lambda value: quote(str(value), safe=""),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"  # personal data: never kept by the browser
    return response


def _site(conn: Connection, principal: Principal, code: str) -> SiteRef:
    """The site, when the principal works it (403 naming it otherwise)."""
    return cases.site_for_work(conn, principal, code)


def _refusal(exc: FormProblem | InvalidCase | RefusedTransition) -> Message:
    """A refusal as the page says it: a form's problem in its own words, a transition in
    the states' own words, anything else of the liaison functions with their reason."""
    if isinstance(exc, FormProblem):
        return exc.message
    if not isinstance(exc, RefusedTransition) or not exc.state:
        return (f"未保存：{exc.zh or '请检查所填内容'}", f"Not saved: {exc.message}")
    names = {str(c): c for c in STATES}
    state = names[exc.state]
    allowed = [names[s] for s in exc.allowed]
    return (
        f"该诉求现为“{state.label_zh}”，不能改为所选状态；可改为："
        + ("、".join(c.label_zh for c in allowed) or "无（已结束）")
        + "。",
        f"This request is {state.label_en} and cannot move to that state; it may become: "
        + (", ".join(c.label_en for c in allowed) or "nothing (it is final)")
        + ".",
    )


# -- my sites ----------------------------------------------------------------------------------
@router.get("/liaison/", response_class=HTMLResponse, include_in_schema=False)
def sites_page(
    request: Request, engine: EngineDep, principal: RequestWorker, lang: Lang
) -> HTMLResponse:
    """The sites the signed-in officer works on: households, visited, open requests."""
    with engine.connect() as conn:
        sites = doors.my_sites(conn, principal)
    return _page(request, "liaison_sites.html", lang, principal, sites=sites, duties=DUTIES)


# -- a site's doors ----------------------------------------------------------------------------
@router.get("/liaison/sites/{site}", response_class=HTMLResponse, include_in_schema=False)
def site_page(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    lang: Lang,
    site: SiteCode,
    unvisited: Annotated[bool, Query(description="only households not yet met")] = False,
    vulnerable: Annotated[bool, Query(description="only vulnerable households")] = False,
    open: Annotated[bool, Query(description="only households with open requests")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The site's households in door-knocking order, each with its visit state."""
    wanted = doors.DoorFilter(unvisited=unvisited, vulnerable=vulnerable, open_requests=open)
    with engine.begin() as conn:
        ref = _site(conn, principal, site)
        site_name = conn.execute(
            text("SELECT name FROM sites WHERE id = :id"), {"id": ref.id}
        ).scalar_one()
        rows, total = doors.doors(
            conn, principal, ref, wanted, limit=PAGE, offset=(page - 1) * PAGE
        )
    filters = {"unvisited": unvisited, "vulnerable": vulnerable, "open": open}
    return _page(
        request,
        "liaison_site.html",
        lang,
        principal,
        site=ref,
        site_name=site_name,
        doors=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        filters=filters,
        filter_query=lambda **change: urlencode(
            {k: "true" for k, v in {**filters, **change}.items() if v}
        ),
        privacy=doors.Privacy.of(principal, ref.id),
    )


# -- a household -------------------------------------------------------------------------------
def _household_page(
    request: Request,
    conn: Connection,
    principal: Principal,
    lang: Language,
    ref: SiteRef,
    household_id: int,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    found = doors.household(conn, principal, ref, household_id)
    now = dt.datetime.now(TZ)
    return _page(
        request,
        "liaison_household.html",
        lang,
        principal,
        status_code=status_code,
        site=ref,
        home=found,
        privacy=doors.Privacy.of(principal, ref.id),
        columns=[c for c in impact.LIST_COLUMNS if c[0] not in ("household_id", "site_code")],
        categories=categories.all_categories(conn),
        flags=[f.name for f in get_layer("households").sensitive_fields if f.kind == "bool"],
        now=f"{now:%Y-%m-%dT%H:%M}",
        saved=request.query_params.get("saved"),
        **{"visit_form": {}, "request_form": {}, **context},
    )


@router.get(
    "/liaison/sites/{site}/households/{household}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def household_page(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    lang: Lang,
    site: SiteCode,
    household: HouseholdId,
) -> HTMLResponse:
    """A household: impact figures, visits, requests, mitigation cases, and the forms."""
    with engine.begin() as conn:
        ref = _site(conn, principal, site)
        return _household_page(request, conn, principal, lang, ref, household)


def _parse_visit(form: dict[str, str], site: str, household: int) -> visit_log.NewVisit:
    if form["outcome"] not in OUTCOMES:
        raise FormProblem("请选择走访结果。", "Choose the outcome of the visit.")
    try:
        at = dt.datetime.fromisoformat(form["visited_at"])
    except ValueError:
        raise FormProblem(
            "走访时间格式不对，应为 2026-12-02 10:30。",
            "Visited at is not a date and time such as 2026-12-02 10:30.",
        ) from None
    try:
        due = dt.date.fromisoformat(form["next_visit_due"]) if form["next_visit_due"] else None
    except ValueError:
        raise FormProblem(
            "下次走访日期格式不对，应为 2026-12-09。",
            "Next visit due is not a date such as 2026-12-09.",
        ) from None
    return visit_log.NewVisit(
        site=site,
        household=household,
        outcome=form["outcome"],
        visited_at=at if at.tzinfo else at.replace(tzinfo=TZ),  # the officer's clock: Beijing
        notes=form["notes"].strip() or None,
        next_visit_due=due,
    )


@router.post("/liaison/sites/{site}/households/{household}/visits", include_in_schema=False)
def log_visit(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    lang: Lang,
    site: SiteCode,
    household: HouseholdId,
    outcome: Annotated[str, Form(max_length=32)] = "",
    visited_at: Annotated[str, Form(max_length=32)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
    next_visit_due: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Log a visit (``visits.log``), then back to the household."""
    require_same_origin(request)
    form = {
        "outcome": outcome,
        "visited_at": visited_at,
        "notes": notes,
        "next_visit_due": next_visit_due,
    }
    with engine.begin() as conn:
        ref = _site(conn, principal, site)
        try:
            with conn.begin_nested():  # a refusal leaves nothing behind
                visit_log.log(conn, principal, _parse_visit(form, ref.code, household))
        except (FormProblem, InvalidCase) as exc:
            error = _refusal(exc)
            return _household_page(
                request,
                conn,
                principal,
                lang,
                ref,
                household,
                status_code=422,
                visit_error=error,
                visit_form=form,
            )
    return _back(f"/liaison/sites/{quote(ref.code)}/households/{household}", lang, "visit")


def _back(path: str, lang: Language, saved: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'saved': saved, 'lang': lang})}", 303)


@router.post("/liaison/sites/{site}/households/{household}/requests", include_in_schema=False)
def record_request(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    lang: Lang,
    site: SiteCode,
    household: HouseholdId,
    category: Annotated[str, Form(max_length=32)] = "",
    channel: Annotated[str, Form(max_length=16)] = "visit",
    priority: Annotated[str, Form(max_length=8)] = "normal",
    description: Annotated[str, Form(max_length=4000)] = "",
    reporter_name: Annotated[str, Form(max_length=64)] = "",
    reporter_phone: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Record a request of this household (``requests.create``), then open it."""
    require_same_origin(request)
    form = {
        "category": category,
        "channel": channel,
        "priority": priority,
        "description": description,
        "reporter_name": reporter_name,
        "reporter_phone": reporter_phone,
    }
    with engine.begin() as conn:
        ref = _site(conn, principal, site)
        try:
            if not description.strip():
                raise FormProblem("请填写诉求内容。", "Describe the request.")
            with conn.begin_nested():
                public_id = cases.create(
                    conn,
                    principal,
                    cases.NewRequest(
                        site=ref.code,
                        category=category,
                        channel=channel,
                        description=description.strip(),
                        household=household,
                        reporter_name=reporter_name.strip() or None,
                        reporter_phone=reporter_phone.strip() or None,
                        priority=priority,
                    ),
                )
        except (FormProblem, InvalidCase) as exc:
            error = _refusal(exc)
            return _household_page(
                request,
                conn,
                principal,
                lang,
                ref,
                household,
                status_code=422,
                request_error=error,
                request_form=form,
            )
    return _back(f"/liaison/requests/{quote(public_id)}", lang, "created")


# -- a request ---------------------------------------------------------------------------------
def _request_page(
    request: Request,
    conn: Connection,
    principal: Principal,
    lang: Language,
    public_id: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    found = cases.read(conn, principal, public_id)
    ref = _site(conn, principal, found["site"])
    category = categories.get_category(conn, found["category"])
    team = doors.team(conn, ref)
    return _page(
        request,
        "liaison_request.html",
        lang,
        principal,
        status_code=status_code,
        site=ref,
        case=found,
        category=category.name_zh if lang == "zh" else category.name_en,
        allowed=states.allowed_from(found["state"]),
        team=team,
        saved=request.query_params.get("saved"),
        **{"form": {}, **context},
    )


@router.get("/liaison/requests/{public_id}", response_class=HTMLResponse, include_in_schema=False)
def request_page(
    request: Request, engine: EngineDep, principal: RequestWorker, lang: Lang, public_id: PublicId
) -> HTMLResponse:
    """A request with its history and the forms to move, assign and note it."""
    with engine.begin() as conn:
        return _request_page(request, conn, principal, lang, public_id)


def _request_change(
    request: Request,
    engine: EngineDep,
    principal: Principal,
    lang: Language,
    public_id: str,
    form: dict[str, str],
    change: Any,
    saved: str,
) -> Response:
    """Run one change of a request; a refusal is shown on the request's page."""
    require_same_origin(request)
    with engine.begin() as conn:
        try:
            with conn.begin_nested():  # a refusal leaves nothing behind
                change(conn)
        except (FormProblem, InvalidCase, RefusedTransition) as exc:
            error = _refusal(exc)
            status = 409 if isinstance(exc, RefusedTransition) else 422
            return _request_page(
                request,
                conn,
                principal,
                lang,
                public_id,
                status_code=status,
                error=error,
                form={**form, "kind": saved},
            )
    return _back(f"/liaison/requests/{quote(public_id)}", lang, saved)


def _satisfaction(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise FormProblem("满意度应为 1 到 5。", "Satisfaction is a number from 1 to 5.")
    return int(value)


@router.post("/liaison/requests/{public_id}/transition", include_in_schema=False)
def move_request(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    lang: Lang,
    public_id: PublicId,
    to: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
    duplicate_of: Annotated[str, Form(max_length=24)] = "",
    satisfaction: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    """Move the request to another state (``requests.move``)."""
    form = {"to": to, "note": note, "assignee": assignee, "duplicate_of": duplicate_of}

    def change(conn: Connection) -> None:
        if not to:
            raise FormProblem("请选择新的状态。", "Choose the state to move it to.")
        cases.move(
            conn,
            principal,
            public_id,
            to,
            settings,
            note=note.strip() or None,
            assignee=assignee.strip() or None,
            duplicate_of=duplicate_of.strip() or None,
            satisfaction=_satisfaction(satisfaction),
        )

    return _request_change(request, engine, principal, lang, public_id, form, change, "moved")


@router.post("/liaison/requests/{public_id}/assign", include_in_schema=False)
def assign_request(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    settings: LiaisonSettingsDep,
    lang: Lang,
    public_id: PublicId,
    assignee: Annotated[str, Form(max_length=64)] = "",
    agency: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Give the request to a user who works the site (``requests.assign``)."""
    form = {"assignee": assignee, "agency": agency}

    def change(conn: Connection) -> None:
        if not assignee.strip():
            raise FormProblem("请填写承办人。", "Say who takes the request.")
        cases.assign(
            conn, principal, public_id, assignee.strip(), settings, agency=agency.strip() or None
        )

    return _request_change(request, engine, principal, lang, public_id, form, change, "assigned")


@router.post("/liaison/requests/{public_id}/notes", include_in_schema=False)
def note_request(
    request: Request,
    engine: EngineDep,
    principal: RequestWorker,
    lang: Lang,
    public_id: PublicId,
    note: Annotated[str, Form(max_length=4000)] = "",
    internal: Annotated[bool, Form()] = False,
) -> Response:
    """Add a public or internal note (``requests.add_note``)."""
    form = {"note": note, "internal": "true" if internal else ""}

    def change(conn: Connection) -> None:
        if not note.strip():
            raise FormProblem("请填写备注内容。", "Write the note.")
        cases.add_note(conn, principal, public_id, note.strip(), internal=internal)

    return _request_change(request, engine, principal, lang, public_id, form, change, "noted")
