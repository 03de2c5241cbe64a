"""The guards' kept policy rows (SQLite and PostgreSQL): budget limits and projects' own
moderation modes are read once per :data:`POLICY_TTL`, not before every call; a change made
through the store or the admin service counts at once, one made elsewhere after the TTL; a
read that overlapped a change is not kept; spend so far is read at every check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, event
from sqlmodel import Session, select

from app.db import crud
from app.db.crud import accounts as account_crud
from app.db.models import Budget
from app.db.session import session_scope
from app.guards.budgets import BudgetGuard, Limits, WorstCase
from app.guards.context import CallContext
from app.guards.store import POLICY_TTL, DatabaseGuardStore, _Policies  # pyright: ignore[reportPrivateUsage]

ALICE = CallContext(user_id="alice", project_id="p1")


@contextmanager
def queries(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def expire(store: DatabaseGuardStore) -> None:
    """As if POLICY_TTL seconds had passed."""
    store._policies.rows.expire(time.monotonic() + POLICY_TTL + 1)  # pyright: ignore[reportPrivateUsage]


async def test_limits_are_read_once_then_kept(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    await store.set_limits("user", "alice", Limits(cost=Decimal(2)))
    assert await store.limits("user", "alice") == Limits(cost=Decimal(2))
    with queries(engine) as seen:
        for _ in range(5):
            assert await store.limits("user", "alice") == Limits(cost=Decimal(2))
            assert await store.limits("project", "p1") is None
        assert await DatabaseGuardStore(engine).limits("user", "alice") == Limits(Decimal(2))
    assert sum("budget" in s.lower() for s in seen) == 1  # the project's, once


async def test_a_change_through_any_store_of_the_engine_counts_at_once(engine: Engine) -> None:
    guard_side, admin_side = DatabaseGuardStore(engine), DatabaseGuardStore(engine)
    assert await guard_side.limits("user", "alice") is None
    await admin_side.set_limits("user", "alice", Limits(tokens=10))
    assert await guard_side.limits("user", "alice") == Limits(tokens=10)


async def test_a_change_made_elsewhere_counts_after_the_ttl(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    assert await store.limits("user", "alice") is None
    with Session(engine) as session:  # another process's write
        session.add(Budget(scope="user", subject_id="alice", token_limit=5))
        session.commit()
    assert await store.limits("user", "alice") is None
    expire(store)
    assert await store.limits("user", "alice") == Limits(tokens=5)


async def test_moderation_modes_are_kept_and_forgotten_on_change(engine: Engine) -> None:
    with session_scope(engine) as session:
        project_id = crud.create_project(session=session, name="P").id
    store = DatabaseGuardStore(engine)
    assert await store.moderation_mode(project_id) is None
    with session_scope(engine) as session:  # the admin service's write
        account_crud.set_project_moderation(session=session, project_id=project_id, mode="off")
    assert await store.moderation_mode(project_id) is None  # kept
    DatabaseGuardStore(engine).forget_moderation(project_id)  # what the admin service does
    assert await store.moderation_mode(project_id) == "off"


async def test_a_read_that_overlapped_a_change_is_not_kept() -> None:
    policies = _Policies()
    reading, go = asyncio.Event(), asyncio.Event()

    async def old_value() -> str:
        reading.set()
        await go.wait()
        return "old"

    pending = asyncio.create_task(policies.get(("limits", "user", "a"), old_value))
    await reading.wait()
    policies.forget(("limits", "user", "a"))  # the change lands while the read is out
    go.set()
    assert await pending == "old"

    async def new_value() -> str:
        return "new"

    assert await policies.get(("limits", "user", "a"), new_value) == "new"


async def test_spend_is_read_at_every_check(engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    await store.set_limits("user", "alice", Limits(tokens=1000))
    guard = BudgetGuard(store)
    worst = WorstCase(100, 100, None)
    now = datetime.now(UTC)
    await guard.check(ALICE, worst, now=now)
    with queries(engine) as seen:
        await guard.check(ALICE, worst, now=now)
        await guard.check(ALICE, worst, now=now)
    assert sum("call_log" in s.lower() for s in seen) == 2
    assert not any("from budget" in s.lower() for s in seen)
    with Session(engine) as session:
        assert session.exec(select(Budget)).one().token_limit == 1000
