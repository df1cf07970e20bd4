"""A mitigation case's states and the steps between them, as data.

The path a household walks (DESIGN.md, "Liaison case work"):
``eligible → surveyed → offered → agreed | declined → scheduled → installed → verified →
closed``. Each step records its date, so a case's dates say which steps it has reached (the
funnel counts them). Decisions taken here:

- ``declined`` is not the end: a household that changes its mind is offered again
  (``declined → offered``, with a new ``offered_at``; ``declined_at`` stays as history), and
  a declined case is closed when the offer lapses (``declined → closed``).
- ``scheduled → scheduled`` moves the installation date (nobody home on the day).
- Nothing else goes back: a mistake is corrected by the next step's fields, and every
  step is an append-only event, so the record never loses what happened.

Framework-free and free of SQL: ``geo_service.own_tables`` builds the state CHECK from
``STATES``, the API reads the transitions from here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from geo_service.errors import CaseFieldsInvalid, CaseTransitionRefused

STATES: tuple[str, ...] = (
    "eligible",
    "surveyed",
    "offered",
    "agreed",
    "declined",
    "scheduled",
    "installed",
    "verified",
    "closed",
)
LABELS: dict[str, tuple[str, str]] = {
    "eligible": ("符合条件", "Eligible"),
    "surveyed": ("已勘测", "Surveyed"),
    "offered": ("已告知方案", "Offered"),
    "agreed": ("已同意", "Agreed"),
    "declined": ("已拒绝", "Declined"),
    "scheduled": ("已排期", "Scheduled"),
    "installed": ("已安装", "Installed"),
    "verified": ("已验收", "Verified"),
    "closed": ("已结案", "Closed"),
}


@dataclass(frozen=True)
class Step:
    """One allowed transition and the fields it must be given."""

    source: str
    target: str
    requires: tuple[str, ...]


# The one table of allowed transitions: (from, to, required fields).
STEPS: tuple[Step, ...] = tuple(
    Step(source, target, requires)
    for source, target, requires in (
        ("eligible", "surveyed", ("surveyed_at",)),
        ("surveyed", "offered", ("offered_at",)),
        ("offered", "agreed", ("agreed_at",)),
        ("offered", "declined", ("declined_at",)),
        ("declined", "offered", ("offered_at",)),
        ("declined", "closed", ("closed_at",)),
        ("agreed", "scheduled", ("scheduled_for", "contractor")),
        ("scheduled", "scheduled", ("scheduled_for",)),
        ("scheduled", "installed", ("installed_at", "window_area_m2")),
        ("installed", "verified", ("verified_at",)),
        ("verified", "closed", ("closed_at",)),
    )
)

# The date each state records when a case enters it (``eligible``: the case's creation).
STATE_DATES: dict[str, str] = {
    "surveyed": "surveyed_at",
    "offered": "offered_at",
    "agreed": "agreed_at",
    "declined": "declined_at",
    "scheduled": "scheduled_for",
    "installed": "installed_at",
    "verified": "verified_at",
    "closed": "closed_at",
}
# Fields any step may also set (a survey measures the window area; a cost may come late).
FREE_FIELDS: tuple[str, ...] = ("window_area_m2", "contractor", "cost", "note")
CASE_FIELDS: tuple[str, ...] = (*STATE_DATES.values(), *FREE_FIELDS)
# Bounds, shared by the table's CHECKs and the API's validation: 26,000 m² of windows for
# 2,200 households is about 12 m² each; 500 m² is a whole floor of a large house.
MAX_WINDOW_AREA_M2 = 500
MAX_COST = 10_000_000
MAX_CONTRACTOR = 200
MAX_NOTE = 2000
# Dates later than the step's own may be planned only for the installation (scheduled_for).
FUTURE_ALLOWED = {"scheduled_for"}


def next_states(state: str) -> tuple[str, ...]:
    """Where a case in ``state`` may go next, in the path's order."""
    return tuple(step.target for step in STEPS if step.source == state)


def step(source: str, target: str) -> Step:
    """The step from ``source`` to ``target``, or a refusal naming where it may go."""
    for candidate in STEPS:
        if (candidate.source, candidate.target) == (source, target):
            return candidate
    allowed = next_states(source)
    raise CaseTransitionRefused(
        f"a case in state {source!r} cannot go to {target!r}; allowed next: "
        + (", ".join(allowed) if allowed else "none (the case is closed)"),
        state=source,
        allowed=allowed,
    )


def check_fields(
    chosen: Step, fields: dict[str, Any], case: dict[str, Any], today: dt.date
) -> dict[str, Any]:
    """The values a step writes: its required fields present, no other step's date, and
    dates in order (not before the case's last step, not in the future). Raises
    ``CaseFieldsInvalid`` naming every field at fault."""
    given = {k: v for k, v in fields.items() if v is not None}
    missing = [name for name in chosen.requires if name not in given]
    if missing:
        raise CaseFieldsInvalid(
            f"going to {chosen.target!r} needs {', '.join(missing)}", fields=missing
        )
    foreign = [n for n in given if n not in chosen.requires and n not in FREE_FIELDS]
    if foreign:
        raise CaseFieldsInvalid(
            f"going to {chosen.target!r} does not set {', '.join(foreign)} "
            f"(it sets {', '.join((*chosen.requires, *FREE_FIELDS))})",
            fields=foreign,
        )
    own = STATE_DATES[chosen.target]
    when = given[own]
    latest = max((d for d in _dates(case) if d is not None), default=None)
    if own not in FUTURE_ALLOWED and when > today:
        raise CaseFieldsInvalid(f"{own} {when} is in the future (today is {today})", fields=[own])
    if latest is not None and when < latest:
        raise CaseFieldsInvalid(
            f"{own} {when} is before the case's last step ({latest})", fields=[own]
        )
    return given


def _dates(case: dict[str, Any]) -> list[dt.date | None]:
    """The dates of steps already taken (a planned installation date is not one)."""
    return [case.get(name) for name in STATE_DATES.values() if name not in FUTURE_ALLOWED]
