"""Alert delivery: the signed webhook POST with bounded retries, and the periodic task.

The webhook (``PARLEY_ALERT_WEBHOOK_URL``) receives the alert as JSON. Headers:

- ``X-Parley-Timestamp``: Unix seconds when the attempt was signed;
- ``X-Parley-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with
  ``PARLEY_ALERT_WEBHOOK_SECRET``, over ``<timestamp>.<body>`` (the raw bytes). A receiver
  recomputes it, compares in constant time and refuses stale timestamps (replays).

An attempt that gets no answer, a 408, a 429 or a 5xx is retried, up to ``attempts`` in all,
waiting ``backoff * 2**(n-1)`` seconds between; any other 4xx is final. Every attempt is a row
of ``alert_delivery``; the alert ends "delivered" or "failed". A worker claims an alert
(pending → sending) before posting, so two workers never both send it.

:class:`AlertTask` is the lifespan task: it wakes when a call's alert commits (or every
``interval`` seconds), runs the hourly spike check, then delivers pending alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from app.db.crud import alerts as crud
from app.db.models import Alert, AlertDelivery
from app.db.session import run_in_session
from app.services import alerts

log = logging.getLogger("parley.alerts")
RETRIED = (408, 429)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(alert: Alert) -> bytes:
    at = alert.created_at if alert.created_at.tzinfo else alert.created_at.replace(tzinfo=UTC)
    return json.dumps(
        {
            "id": alert.id,
            "kind": alert.kind,
            "scope": alert.scope,
            "subject_id": alert.subject_id,
            "unit": alert.unit,
            "threshold": alert.threshold,
            "value": str(alert.value),
            "reference": str(alert.reference),
            "message": alert.message,
            "created_at": at.isoformat(),
        },
        separators=(",", ":"),
    ).encode()


class Webhook:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url, self.secret = url, secret
        self.attempts, self.backoff, self.timeout = attempts, backoff, timeout
        self.sleep = sleep

    async def deliver(self, engine: Engine, alert: Alert) -> bool:
        """POST ``alert`` until it is accepted or the attempts run out; log each attempt."""
        assert alert.id is not None
        alert_id = alert.id
        body = payload(alert)
        ok, attempt = False, 0
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            for attempt in range(1, self.attempts + 1):
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Parley-Alerts/1",
                    "X-Parley-Timestamp": stamp,
                    "X-Parley-Signature": sign(self.secret, stamp, body),
                }
                started = time.monotonic()
                code: int | None = None
                error = ""
                try:
                    code = (await client.post(self.url, content=body, headers=headers)).status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                ok = code is not None and 200 <= code < 300
                record = AlertDelivery(
                    alert_id=alert_id, attempt=attempt, status_code=code, ok=ok,
                    error=error or ("" if ok else f"HTTP {code}"),
                    duration_ms=round((time.monotonic() - started) * 1000),
                )  # fmt: skip
                await run_in_session(engine, lambda s, r=record: _log(s, r))
                final = code is not None and 400 <= code < 500 and code not in RETRIED
                if ok or final or attempt == self.attempts:
                    break
                await self.sleep(self.backoff * 2 ** (attempt - 1))
        status = "delivered" if ok else "failed"
        await run_in_session(
            engine, lambda s: crud.set_delivery(session=s, alert_id=alert_id, status=status)
        )
        if not ok:
            log.error("alert %s: the webhook refused it after %d attempts", alert_id, attempt)
        return ok


def _log(session: Session, record: AlertDelivery) -> None:
    crud.add_delivery(session=session, delivery=record)


def _claim(session: Session, limit: int) -> list[Alert]:
    """Take pending alerts for this worker (pending → sending), oldest first."""
    claimed: list[Alert] = []
    for alert in crud.pending_alerts(session=session, limit=limit):
        result = session.execute(
            update(Alert)
            .where(col(Alert.id) == alert.id, col(Alert.delivery) == "pending")
            .values(delivery="sending")
        )
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(alert)
    for alert in claimed:
        session.expunge(alert)
    return claimed


async def deliver_pending(engine: Engine, webhook: Webhook, *, limit: int = 100) -> int:
    """Deliver every pending alert; returns how many were delivered."""
    batch = await run_in_session(engine, lambda s: _claim(s, limit))
    results = [await webhook.deliver(engine, alert) for alert in batch]
    return sum(results)


class AlertTask:
    """The periodic task: spike check every ``interval`` seconds, deliveries as they come."""

    def __init__(self, engine: Engine, webhook: Webhook | None, *, interval: float = 300.0) -> None:
        self.engine, self.webhook, self.interval = engine, webhook, interval

    async def tick(self, now: datetime | None = None, *, spikes: bool = True) -> None:
        if spikes:
            moment = now or datetime.now(UTC)
            await run_in_session(self.engine, lambda s: alerts.check_spikes(s, moment))
        if self.webhook is not None:
            await deliver_pending(self.engine, self.webhook)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        alerts.configure(None, wake=wake)
        last_check = 0.0
        while True:
            due = time.monotonic() - last_check >= self.interval
            try:
                await self.tick(spikes=due)
            except Exception as exc:  # logged; the next tick tries again
                log.error("the alert task failed: %r", exc)
            if due:
                last_check = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=self.interval)
            woken.clear()


def alert_task_from_settings(engine: Engine) -> AlertTask:
    from app.settings import get_settings

    s = get_settings()
    webhook = None
    if s.alert_webhook_url:
        if s.alert_webhook_secret is None or not s.alert_webhook_secret.get_secret_value():
            raise ValueError(
                "PARLEY_ALERT_WEBHOOK_URL is set without PARLEY_ALERT_WEBHOOK_SECRET: the "
                "webhook's posts are signed with it; set both, or neither."
            )
        secret = s.alert_webhook_secret.get_secret_value()
        webhook = Webhook(
            s.alert_webhook_url,
            secret,
            attempts=s.alert_webhook_attempts,
            backoff=s.alert_webhook_backoff,
            timeout=s.alert_webhook_timeout,
        )
    return AlertTask(engine, webhook, interval=s.alert_check_seconds)
