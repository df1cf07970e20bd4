"""The request state machine as data: which state may follow which, and what it takes.

``new → acknowledged → assigned → in_progress ⇄ waiting_resident → action_scheduled →
resolved → closed``, with the side exits ``duplicate``, ``referred``, ``rejected`` and
``cancelled``, and ``reopened`` within ``LiaisonSettings.reopen_days`` of resolution.
Every transition is made by someone who works the site's requests
(``Permission.WORK_REQUESTS`` on an assigned site, or an administrator); the table names the
permission per row, so a transition kept for administrators is a data edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.access import Permission

OPEN_STATES = (
    "new",
    "acknowledged",
    "assigned",
    "in_progress",
    "waiting_resident",
    "action_scheduled",
    "reopened",
)
# States in which nothing more is expected of the working group.
FINAL_STATES = ("closed", "duplicate", "referred", "rejected", "cancelled")
# The resolve clock stands still in this state.
PAUSED = "waiting_resident"
SIDE_EXITS = ("duplicate", "referred", "rejected", "cancelled")


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    permission: Permission = Permission.WORK_REQUESTS
    # What the body must carry for it: an assignee (assigned), a duplicate_of (duplicate).
    needs: str | None = None


def _rows() -> tuple[Transition, ...]:
    main = [
        ("new", "acknowledged"),
        ("acknowledged", "assigned"),
        ("reopened", "assigned"),
        ("reopened", "in_progress"),
        ("assigned", "in_progress"),
        ("in_progress", "waiting_resident"),
        ("waiting_resident", "in_progress"),
        ("in_progress", "action_scheduled"),
        ("action_scheduled", "in_progress"),
        ("in_progress", "resolved"),
        ("action_scheduled", "resolved"),
        ("resolved", "closed"),
        ("resolved", "reopened"),
        ("closed", "reopened"),
    ]
    rows = [Transition(a, b, needs="assignee" if b == "assigned" else None) for a, b in main]
    # Side exits: a duplicate is found early; referral, rejection, cancellation any time open.
    for source in ("new", "acknowledged"):
        rows.append(Transition(source, "duplicate", needs="duplicate_of"))
    for source in OPEN_STATES:
        rows += [Transition(source, exit_) for exit_ in ("referred", "rejected", "cancelled")]
    return tuple(rows)


TRANSITIONS: tuple[Transition, ...] = _rows()


def allowed_from(state: str) -> tuple[str, ...]:
    """The states a request in ``state`` may move to."""
    return tuple(t.target for t in TRANSITIONS if t.source == state)


def transition(source: str, target: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.source == source and t.target == target), None)
