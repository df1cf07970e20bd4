"""Delivery of the outbox to webhooks: DingTalk and WeCom group robots (a JSON POST of
``{"msgtype": "text", "text": {"content": ...}}``; both answer HTTP 200 with ``errcode``
0 on success and another code on a refusal), or plain JSON of the whole message.

A failed POST (no answer, a status outside 2xx, an ``errcode`` not 0) is tried again after
``retry_seconds``, doubled each time, until ``delivery_attempts`` have failed; the row is
then ``failed`` with the last error. Rows are taken with ``SKIP LOCKED``, so two deliverers
never send one row twice.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo_service.settings import LiaisonSettings


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def body(message: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON a webhook of this format takes."""
    if fmt in ("dingtalk", "wecom"):
        return {"msgtype": "text", "text": {"content": message["text"]}}
    return message


def post(url: str, payload: dict[str, Any], fmt: str, timeout: float) -> None:
    """POST the payload; raise with the reason when the receiver did not take it."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        raw = answer.read()
    if fmt in ("dingtalk", "wecom"):
        try:
            code = json.loads(raw).get("errcode", 0)
        except (ValueError, AttributeError):
            code = None
        if code != 0:
            raise RuntimeError(
                f"the robot refused the message: {raw[:200].decode(errors='replace')}"
            )


def enqueue(
    conn: Connection,
    settings: LiaisonSettings,
    message: dict[str, Any],
    *,
    kind: str,
    recipient: str | None,
    now: dt.datetime,
    request_id: int | None = None,
    alarm_id: int | None = None,
) -> int:
    """One row per configured webhook ("held" when none is configured) about a request or
    an alarm; returns how many rows."""
    hooks: list[str | None] = list(settings.webhook_urls) or [None]
    for hook in hooks:
        conn.execute(
            text(
                "INSERT INTO liaison_outbox (created_at, request_id, alarm_id, kind, recipient, "
                "message, webhook, status, next_attempt_at) VALUES (:now, :r, :a, :kind, :to, "
                "CAST(:message AS jsonb), :hook, :status, :now)"
            ),
            {
                "now": now,
                "r": request_id,
                "a": alarm_id,
                "kind": kind,
                "to": recipient,
                "message": json.dumps(message, ensure_ascii=False, default=str),
                "hook": hook,
                "status": "pending" if hook else "held",
            },
        )
    return len(hooks)


_DUE = """
SELECT id, webhook, message, attempts FROM liaison_outbox
WHERE status = 'pending' AND next_attempt_at <= :now
ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
"""


def deliver(
    engine: Engine,
    settings: LiaisonSettings,
    *,
    now: dt.datetime | None = None,
    limit: int = 200,
) -> DeliveryReport:
    """Send what is due, in one transaction (its row locks keep other deliverers off)."""
    now = now or dt.datetime.now(dt.UTC)
    report = DeliveryReport()
    with engine.begin() as conn:
        rows = conn.execute(text(_DUE), {"now": now, "limit": limit}).all()
        for row in rows:
            attempts = row.attempts + 1
            try:
                post(
                    row.webhook,
                    body(row.message, settings.webhook_format),
                    settings.webhook_format,
                    settings.webhook_timeout_seconds,
                )
            except (OSError, RuntimeError, urllib.error.URLError) as exc:
                final = attempts >= settings.delivery_attempts
                wait = dt.timedelta(seconds=settings.retry_seconds * 2 ** (attempts - 1))
                conn.execute(
                    text(
                        "UPDATE liaison_outbox SET attempts = :a, last_error = :e, "
                        "status = :s, next_attempt_at = :next WHERE id = :id"
                    ),
                    {
                        "a": attempts,
                        "e": str(exc)[:500],
                        "s": "failed" if final else "pending",
                        "next": now + wait,
                        "id": row.id,
                    },
                )
                if final:
                    report.failed += 1
                else:
                    report.retried += 1
                continue
            conn.execute(
                text(
                    "UPDATE liaison_outbox SET attempts = :a, status = 'delivered', "
                    "delivered_at = :now, last_error = NULL WHERE id = :id"
                ),
                {"a": attempts, "now": now, "id": row.id},
            )
            report.delivered += 1
    return report
