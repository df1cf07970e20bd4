"""The alarm lifecycle as data: its kinds, its states and which state may follow which.

``open → acknowledged → replied → closed``, or ``open → auto_cleared``: an alarm is
auto-cleared by the evaluation when its condition clears (a later valid window within the
limit; for ``offline``, data again) while it is still ``open``, that is before anyone
acknowledged it. Once acknowledged, a cleared condition is only noted on the alarm
(``condition_cleared_at``): someone has taken it on and must reply and close it. People make
every transition but ``auto_cleared``, which only the evaluation makes (``by="system"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# noise_laeq: a 20-minute LAeq over the day or night limit; noise_lmax: a night window's
# Lmax over the limit + 15; dust: more window means over the limit in a day than allowed;
# offline: no data for three expected reporting intervals; night_work_unpermitted: a night
# window's LAeq above the monitor's background with no permit covering it; quiet_period:
# such activity in a city-wide quiet period (permit or not) or near an exam site in its
# hours (geo_service.monitoring.night_work).
KINDS = ("noise_laeq", "noise_lmax", "dust", "offline", "night_work_unpermitted", "quiet_period")
STATES = ("open", "acknowledged", "replied", "closed", "auto_cleared")
# States in which an alarm still asks something of someone: one per monitor and kind.
ACTIVE = ("open", "acknowledged", "replied")
FINAL = ("closed", "auto_cleared")
# The states whose reply is still owed (the reply clock runs).
AWAITING_REPLY = ("open", "acknowledged")
AUTO_CLEARED = "auto_cleared"
# How people read them (zh, en): the pages, the escalation message.
KIND_LABELS: dict[str, tuple[str, str]] = {
    "noise_laeq": ("噪声超标", "Noise over the limit"),
    "noise_lmax": ("夜间最大声级超标", "Night Lmax over the limit"),
    "dust": ("扬尘超标", "Dust over the limit"),
    "offline": ("监测设备离线", "Monitor offline"),
    "night_work_unpermitted": ("无夜间施工许可作业", "Night work without a permit"),
    "quiet_period": ("禁止施工时段作业", "Work in a quiet period"),
}
STATE_LABELS: dict[str, tuple[str, str]] = {
    "open": ("待处理", "Open"),
    "acknowledged": ("已确认", "Acknowledged"),
    "replied": ("已回复", "Replied"),
    "closed": ("已关闭", "Closed"),
    "auto_cleared": ("自动解除", "Cleared by itself"),
}
assert tuple(KIND_LABELS) == KINDS and tuple(STATE_LABELS) == STATES


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    by: Literal["person", "system"] = "person"
    # What the body must carry: the reply text and the actions taken (replied).
    needs: str | None = None


TRANSITIONS: tuple[Transition, ...] = (
    Transition("open", "acknowledged"),
    Transition("open", "auto_cleared", by="system"),
    Transition("acknowledged", "replied", needs="reply"),
    Transition("replied", "closed"),
)


def allowed_from(state: str, by: str = "person") -> tuple[str, ...]:
    """The states an alarm in ``state`` may move to, by people (or by the evaluation)."""
    return tuple(t.target for t in TRANSITIONS if t.source == state and t.by == by)


def transition(source: str, target: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.source == source and t.target == target), None)
