"""Alerts: a budget threshold crossed gives one alert (not one per call); the hourly jump
detector on generated data; the signed webhook against a real HTTP server on loopback."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import crud
from app.db.crud import alerts as alert_crud
from app.db.models import Alert, Budget, CallLog
from app.db.session import session_scope
from app.guards.budgets import Limits
from app.llm.calllog import CallRecord
from app.services import alerts
from app.services.alert_delivery import AlertTask, Webhook, deliver_pending, verify
from app.services.calllog import DatabaseCallSink

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def _policy() -> Iterator[None]:
    alerts.configure(alerts.AlertPolicy(thresholds=(0.5, 0.8, 1.0), webhook=True))
    yield
    alerts.configure(None)


def _alerts(engine: Engine) -> list[Alert]:
    with session_scope(engine) as s:
        return list(s.exec(select(Alert).order_by(Alert.id)).all())  # type: ignore[arg-type]


async def test_crossing_a_threshold_gives_one_alert_not_one_per_call(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(Budget(scope="user", subject_id="u1", cost_limit=Decimal("1.00")))
    sink = DatabaseCallSink(engine)
    now = datetime.now(UTC)
    for _ in range(12):  # $0.10 each: 50% at the 5th call, 80% at the 8th, 100% at the 10th
        await sink(
            CallRecord(provider="openai", model="m", provider_model="m", status="ok",
                       user_id="u1", project_id="p1", input_tokens=1, output_tokens=1,
                       cost=Decimal("0.10"), created_at=now)
        )  # fmt: skip
    rows = _alerts(engine)
    assert [(a.kind, a.scope, a.subject_id, a.unit, a.threshold) for a in rows] == [
        ("budget", "user", "u1", "usd", 0.5),
        ("budget", "user", "u1", "usd", 0.8),
        ("budget", "user", "u1", "usd", 1.0),
    ]
    assert [a.value for a in rows] == [Decimal("0.5"), Decimal("0.8"), Decimal("1.0")]
    assert all(a.delivery == "pending" for a in rows)  # a webhook is configured
    assert "50%" in rows[0].message and "$0.50 of $1.00" in rows[0].message


async def test_a_project_token_default_budget_alerts_and_a_held_reply_too(engine: Engine) -> None:
    alerts.configure(alerts.AlertPolicy(thresholds=(0.8,), defaults={"project": Limits(None, 100)}))
    from app.services.calllog import write_held

    with session_scope(engine) as s:  # a reply's records, written in the reply's transaction
        write_held(s, [CallRecord(provider="o", model="m", provider_model="m", status="ok",
                                  project_id="p9", input_tokens=60, output_tokens=30)])  # fmt: skip
    (alert,) = _alerts(engine)
    assert (alert.scope, alert.subject_id, alert.unit, alert.value) == (
        "project",
        "p9",
        "tokens",
        90,
    )
    assert alert.delivery == "none"


def test_the_jump_rule() -> None:
    flat = [100] * 24
    assert alerts.is_spike(301, flat, factor=3, floor=0)
    assert not alerts.is_spike(300, flat, factor=3, floor=0)
    assert not alerts.is_spike(301, flat, factor=3, floor=1000)  # under the floor
    assert alerts.is_spike(1000, [0] * 24, factor=3, floor=1000)  # from nothing, over the floor


def _hour_calls(start: datetime, per_hour: list[Decimal], user: str) -> list[CallLog]:
    """One call per hour for ``user`` in their project ``p-<user>``."""
    rows = []
    for n, cost in enumerate(per_hour):
        at = start + timedelta(hours=n, minutes=7)
        rows.append(CallLog(user_id=user, project_id=f"p-{user}", provider="openai", model="m",
                            provider_model="m", status="ok", cost=cost, created_at=at))  # fmt: skip
    return rows


def test_the_jump_detector_on_generated_hours(engine: Engine) -> None:
    rng = random.Random(7)
    now = datetime(2026, 5, 10, 12, 20, tzinfo=UTC)
    start = now.replace(minute=0) - timedelta(hours=25)  # 24 trailing hours, then the last
    steady = [Decimal(rng.randint(180, 220)) / 100 for _ in range(24)]  # about $2 an hour
    calm = _hour_calls(start, [*steady, Decimal("4.00")], "calm")  # 2x: no alert
    jumpy = _hour_calls(start, [*steady, Decimal("9.00")], "jumpy")  # ~4.5x: an alert
    with session_scope(engine) as s:
        for call in calm + jumpy:
            crud.add_call_log(session=s, call=call)
    policy = alerts.AlertPolicy(spike_factor=3.0, spike_min_usd=Decimal(1))
    with session_scope(engine) as s:
        first = alerts.check_spikes(s, now, policy)
    with session_scope(engine) as s:
        again = alerts.check_spikes(s, now, policy)  # the same hour: nothing new
    rows = _alerts(engine)
    assert len(first) == 3 and again == []
    # calm (2x its mean) is not a spike; jumpy (about 4.5x) is, and so are its project and
    # the site as a whole ($13 against about $4 an hour)
    assert {(a.scope, a.subject_id) for a in rows} == {
        ("all", ""),
        ("user", "jumpy"),
        ("project", "p-jumpy"),
    }
    jumpy_alert = next(a for a in rows if a.subject_id == "jumpy")
    assert jumpy_alert.value == Decimal("9")
    assert abs(jumpy_alert.reference - sum(steady, Decimal(0)) / 24) < Decimal("0.000001")
    with session_scope(engine) as s:  # the next hour is quiet: nothing
        assert alerts.check_spikes(s, now + timedelta(hours=1), policy) == []


class Receiver:
    """A real HTTP server on loopback answering each POST with the next scripted status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.received = statuses, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def _pending(engine: Engine, n: int) -> list[int]:
    ids = []
    with session_scope(engine) as s:
        for i in range(n):
            alert = Alert(kind="budget", scope="user", subject_id=f"u{i}", threshold=0.8,
                          value=Decimal(8), reference=Decimal(10), message=f"alert {i}",
                          dedupe=f"test/{i}", delivery="pending")  # fmt: skip
            ids.append(alert_crud.add_alert(session=s, alert=alert))
    return [i for i in ids if i is not None]


async def test_the_webhook_is_signed_retried_and_logged(engine: Engine, receiver: Receiver) -> None:
    ok_id, failed_id = _pending(engine, 2)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    receiver.statuses = [500, 200, 500, 500, 500]  # the first alert on its 2nd try; the other never
    hook = Webhook(receiver.url, SECRET, attempts=3, backoff=0.5, sleep=sleep)
    assert await deliver_pending(engine, hook) == 1
    assert waits == [0.5, 0.5, 1.0]  # exponential backoff between attempts, none after the last
    assert len(receiver.received) == 5
    for headers, body in receiver.received:
        assert verify(SECRET, headers["X-Parley-Timestamp"], body, headers["X-Parley-Signature"])
        assert not verify(
            "wrong", headers["X-Parley-Timestamp"], body, headers["X-Parley-Signature"]
        )
    assert json.loads(receiver.received[0][1])["id"] == ok_id
    with session_scope(engine) as s:
        ok_log = alert_crud.deliveries(session=s, alert_id=ok_id)
        failed_log = alert_crud.deliveries(session=s, alert_id=failed_id)
        status = {a.id: a.delivery for a in s.exec(select(Alert)).all()}
    assert [(d.attempt, d.status_code, d.ok) for d in ok_log] == [(1, 500, False), (2, 200, True)]
    assert [(d.status_code, d.ok) for d in failed_log] == [(500, False)] * 3
    assert status == {ok_id: "delivered", failed_id: "failed"}
    assert await deliver_pending(engine, hook) == 0  # nothing left pending: none sent twice


async def test_a_client_error_is_final_and_no_answer_is_logged(
    engine: Engine, receiver: Receiver
) -> None:
    (gone,) = _pending(engine, 1)
    receiver.statuses = [410]

    async def sleep(_seconds: float) -> None:
        return None

    await deliver_pending(engine, Webhook(receiver.url, SECRET, attempts=3, sleep=sleep))
    with session_scope(engine) as s:
        assert [d.status_code for d in alert_crud.deliveries(session=s, alert_id=gone)] == [410]
    receiver.close()
    with session_scope(engine) as s:
        alert_crud.set_delivery(session=s, alert_id=gone, status="pending")
    task = AlertTask(engine, Webhook(receiver.url, SECRET, attempts=2, sleep=sleep, timeout=2))
    await task.tick(spikes=False)
    with session_scope(engine) as s:
        log = alert_crud.deliveries(session=s, alert_id=gone)[1:]
    assert [(d.status_code, d.ok) for d in log] == [(None, False)] * 2
    assert all("ConnectError" in d.error for d in log)
