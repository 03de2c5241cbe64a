"""The guards' database side: budgets, spend so far (from the call log), the moderation log.

Each method runs its query in a worker thread, so the event loop never waits on the database.

Budget limits and projects' own moderation modes are read before every call and change
rarely, so they are kept for :data:`POLICY_TTL` seconds per engine, in this process: a call
then waits on no query for them. A change made in this process (:meth:`set_limits`,
:meth:`DatabaseGuardStore.forget_moderation` after the admin page's write) counts at once;
one made by another process within :data:`POLICY_TTL`. Spend so far is never kept: every
call's budget check reads it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from cachetools import TTLCache
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.db.models import Budget, CallLog, ModerationLog, Project
from app.guards.budgets import BudgetScope, Limits, Spend
from app.guards.moderation import MODES, ModerationMode, Verdict

T = TypeVar("T")
POLICY_TTL = 5.0  # seconds a budget limit or a project's moderation mode is kept
_Key = tuple[str, str, str]


class _Policies:
    """Kept policy rows of one engine. A read that overlapped a change is not kept, so a
    change can never be overwritten by the value it replaced."""

    def __init__(self) -> None:
        self.rows: TTLCache[_Key, object] = TTLCache(8192, POLICY_TTL, timer=time.monotonic)
        self.changes = 0

    async def get(self, key: _Key, read: Callable[[], Awaitable[T]]) -> T:
        try:
            return self.rows[key]  # type: ignore[return-value]
        except KeyError:
            before = self.changes
            value = await read()
            if self.changes == before:
                self.rows[key] = value
            return value

    def forget(self, key: _Key) -> None:
        self.changes += 1
        self.rows.pop(key, None)


# Per engine (not per URL: two in-memory SQLite engines share a URL, not their rows).
_policies: weakref.WeakKeyDictionary[Engine, _Policies] = weakref.WeakKeyDictionary()


class DatabaseGuardStore:
    """:class:`~app.guards.budgets.BudgetStore` and moderation log on Parley's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._policies = _policies.get(engine) or _policies.setdefault(engine, _Policies())

    async def limits(self, scope: BudgetScope, subject: str) -> Limits | None:
        def read() -> Limits | None:
            with Session(self.engine) as session:
                row = session.exec(
                    select(Budget).where(Budget.scope == scope, Budget.subject_id == subject)
                ).first()
                return None if row is None else Limits(row.cost_limit, row.token_limit)

        return await self._policies.get(("limits", scope, subject), lambda: asyncio.to_thread(read))

    async def spent(self, scope: BudgetScope, subject: str, since: datetime) -> Spend:
        column = col(CallLog.user_id) if scope == "user" else col(CallLog.project_id)

        def read() -> Spend:
            with Session(self.engine) as session:
                cost, tokens = session.exec(
                    select(
                        func.coalesce(func.sum(CallLog.cost), 0),
                        func.coalesce(
                            func.sum(col(CallLog.input_tokens) + col(CallLog.output_tokens)), 0
                        ),
                    ).where(
                        column == subject,
                        col(CallLog.created_at) >= since,
                        col(CallLog.cache_hit).is_(False),
                    )
                ).one()
                return Spend(Decimal(str(cost)), int(tokens))

        return await asyncio.to_thread(read)

    async def set_limits(self, scope: BudgetScope, subject: str, limits: Limits) -> None:
        """Create or replace a subject's budget (the admin page's write)."""

        def write() -> None:
            with Session(self.engine) as session:
                row = session.exec(
                    select(Budget).where(Budget.scope == scope, Budget.subject_id == subject)
                ).first() or Budget(scope=scope, subject_id=subject)
                row.cost_limit, row.token_limit = limits.cost, limits.tokens
                session.add(row)
                session.commit()

        try:
            await asyncio.to_thread(write)
        finally:
            self._policies.forget(("limits", scope, subject))

    async def log_flagged(self, verdict: Verdict, action: str, metadata: dict[str, str]) -> None:
        def write() -> None:
            with Session(self.engine) as session:
                session.add(
                    ModerationLog(
                        user_id=metadata.get("user_id") or None,
                        project_id=metadata.get("project_id") or None,
                        conversation_id=metadata.get("conversation_id") or None,
                        source=verdict.source,
                        action=action,
                        categories=",".join(verdict.categories)[:500],
                        score=verdict.score,
                        excerpt=verdict.excerpt[:200],
                    )
                )
                session.commit()

        await asyncio.to_thread(write)

    async def flagged(self, *, limit: int = 100, offset: int = 0) -> list[ModerationLog]:
        """The moderation log, newest first, ``limit`` rows from ``offset`` (the admin page)."""

        def read() -> list[ModerationLog]:
            with Session(self.engine) as session:
                rows = session.exec(
                    select(ModerationLog)
                    .order_by(col(ModerationLog.created_at).desc(), col(ModerationLog.id).desc())
                    .offset(offset)
                    .limit(limit)
                ).all()
                return list(rows)

        return await asyncio.to_thread(read)

    def forget_moderation(self, project_id: str) -> None:
        """A project's moderation mode changed: read it again at the next call."""
        self._policies.forget(("moderation", "project", project_id))

    async def moderation_mode(self, project_id: str) -> ModerationMode | None:
        """A project's own moderation mode; None when it follows the global setting (or
        there is no such project). Kept for :data:`POLICY_TTL` (see the module docstring)."""

        def read() -> ModerationMode | None:
            with Session(self.engine) as session:
                mode = session.exec(
                    select(Project.moderation_mode).where(col(Project.id) == project_id)
                ).first()
                return next((m for m in MODES if m == mode), None)

        key = ("moderation", "project", project_id)
        return await self._policies.get(key, lambda: asyncio.to_thread(read))
