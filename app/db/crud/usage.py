"""Usage aggregates for the token-spend dashboard, in SQL, on SQLite and PostgreSQL.

Every figure is a sum over one *source*: the hourly rollup (``usage_hourly``) when the window's
edges and its time zone's offsets are whole hours (so each rollup hour lies in one local day),
else the raw call log. Both give the same numbers; the rollup is just faster.

A :class:`Window` is a half-open UTC interval plus the offsets of the viewer's time zone in it:
a row's local day is ``(t + offset(t)) // 86400`` with ``t`` in epoch seconds, written as a
``CASE`` over the offset changes, so no database needs a time zone library.

Access is a :class:`Scope`: an admin sees everything, a member the rows of their own user id
and of their projects. Deny by default: a member with neither sees nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select
from sqlmodel import Session, col

from app.db.crud.rollups import NANO, UNKNOWN_PRICE, epoch_seconds
from app.db.models import CallLog, UsageHourly

Dimension = Literal["user", "project", "model", "provider", "feature"]
DIMENSIONS: tuple[Dimension, ...] = ("user", "project", "model", "provider", "feature")
SORTS = ("key", "cost", "calls", "requests", "tokens", "errors", "unknown")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows a viewer may read. ``admin``: all; otherwise own user id and projects."""

    admin: bool = False
    user_id: str | None = None
    project_ids: frozenset[str] = frozenset()

    @classmethod
    def everything(cls) -> Scope:
        return cls(admin=True)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Equality filters; ``None`` means any. ``status`` applies to raw-row reads only."""

    user_id: str | None = None
    project_id: str | None = None
    model: str | None = None
    provider: str | None = None
    feature: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in UTC; ``offsets``: (from epoch second, UTC offset in seconds), sorted."""

    start: datetime
    end: datetime
    offsets: tuple[tuple[int, int], ...]

    @property
    def whole_hours(self) -> bool:
        return (
            all(off % 3600 == 0 and at % 3600 == 0 for at, off in self.offsets)
            and self.start.timestamp() % 3600 == 0
            and self.end.timestamp() % 3600 == 0
        )


@dataclass(frozen=True, slots=True)
class Totals:
    calls: int = 0
    requests: int = 0
    errors: int = 0
    failovers: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_nano: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, values: Sequence[Any]) -> Totals:
        return cls(*(int(v or 0) for v in values))

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, n) + getattr(other, n) for n in MEASURES))


MEASURES = tuple(f.name for f in fields(Totals))


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    totals: Totals = field(default_factory=Totals)


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    key: str
    totals: Totals


class _Source:
    """The columns of the rollup or of the raw call log, behind one set of names."""

    def __init__(self, session: Session, window: Window, *, raw: bool) -> None:
        self.raw = raw
        if raw:
            c = CallLog
            self.t: ColumnElement[int] = epoch_seconds(session, col(c.created_at))
            one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
            nano = func.coalesce(col(c.cost), 0) * 1_000_000_000
            if session.get_bind().dialect.name == "sqlite":
                nano = func.round(nano)
            self.measures: list[Any] = [
                func.count(),
                one(col(c.attempt) == 1),
                one(col(c.status) == "error"),
                one(col(c.failover_from).is_not(None)),
                one(col(c.cache_hit)),
                func.sum(col(c.input_tokens)),
                func.sum(col(c.output_tokens)),
                func.sum(col(c.cache_read_tokens)),
                func.sum(col(c.cache_write_tokens)),
                func.sum(nano),
                one(UNKNOWN_PRICE),
            ]
            self.time_clause = and_(
                col(c.created_at) >= window.start, col(c.created_at) < window.end
            )
            user, project = col(c.user_id), col(c.project_id)
        else:
            u = UsageHourly
            self.t = col(u.hour) * 3600
            self.measures = [func.sum(getattr(u, name)) for name in MEASURES]
            self.time_clause = and_(
                col(u.hour) >= int(window.start.timestamp()) // 3600,
                col(u.hour) < int(window.end.timestamp()) // 3600,
            )
            user, project = col(u.user_id), col(u.project_id)
        self.table: Any = CallLog if raw else UsageHourly
        self.dims: dict[str, Any] = {
            "user": user,
            "project": project,
            "model": col(self.table.model),
            "provider": col(self.table.provider),
            "feature": col(self.table.feature),
        }
        self.window = window

    def where(self, filt: UsageFilter, scope: Scope) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [self.time_clause]
        for dim, value in (
            ("user", filt.user_id),
            ("project", filt.project_id),
            ("model", filt.model),
            ("provider", filt.provider),
            ("feature", filt.feature),
        ):
            if value is not None:
                clauses.append(self.dims[dim] == value)
        if filt.status is not None and self.raw:
            clauses.append(col(CallLog.status) == filt.status)
        clauses.append(scope_clause(scope, self.dims["user"], self.dims["project"]))
        return clauses

    def local_day(self) -> ColumnElement[Any]:
        """The row's local day, as days since 1970-01-01 in the window's time zone."""
        offsets = self.window.offsets
        if len(offsets) == 1:
            return (self.t + offsets[0][1]) // 86400
        whens = [
            (self.t < nxt_at, (self.t + off) // 86400)
            for (_, off), (nxt_at, _) in itertools.pairwise(offsets)
        ]
        return case(*whens, else_=(self.t + offsets[-1][1]) // 86400)


def scope_clause(scope: Scope, user: Any, project: Any) -> ColumnElement[bool]:
    if scope.admin:
        return literal(True) == literal(True)
    parts: list[ColumnElement[bool]] = []
    if scope.user_id:
        parts.append(user == scope.user_id)
    if scope.project_ids:
        parts.append(project.in_(sorted(scope.project_ids)))
    return or_(*parts) if parts else false()


def source(session: Session, window: Window, filt: UsageFilter, *, raw: bool = False) -> _Source:
    """The rollup unless the window or a status filter needs the raw rows."""
    return _Source(session, window, raw=raw or filt.status is not None or not window.whole_hours)


def day_of(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))


def totals(*, session: Session, window: Window, filt: UsageFilter, scope: Scope) -> Totals:
    src = source(session, window, filt)
    row = session.execute(select(*src.measures).where(*src.where(filt, scope))).one()
    return Totals.of(row)


def daily(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    by: Dimension | None = None,
) -> list[DayRow]:
    """Sums per local day (and per ``by`` value), oldest first."""
    src = source(session, window, filt)
    day = src.local_day().label("day")
    key = (src.dims[by] if by else literal("")).label("key")
    query = (
        select(day, key, *src.measures)
        .where(*src.where(filt, scope))
        .group_by(day, key)
        .order_by(day, key)
    )
    return [
        DayRow(day_of(r[0]), str(r[1] or ""), Totals.of(r[2:]))
        for r in session.execute(query).all()
    ]


@dataclass(frozen=True, slots=True)
class GridRow:
    day: date
    model: str
    feature: str
    totals: Totals


def grid(*, session: Session, window: Window, filt: UsageFilter, scope: Scope) -> list[GridRow]:
    """Sums per (local day, model, feature): one scan from which the headline's totals, the
    per-day charts and the feature breakdown are all added up (they share the window)."""
    src = source(session, window, filt)
    day = src.local_day().label("day")
    model, feature = src.dims["model"], src.dims["feature"]
    query = (
        select(day, model, feature, *src.measures)
        .where(*src.where(filt, scope))
        .group_by(day, model, feature)
    )
    return [
        GridRow(day_of(r[0]), str(r[1]), str(r[2]), Totals.of(r[3:]))
        for r in session.execute(query).all()
    ]


def breakdown(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    by: Dimension,
    sort: str = "cost",
    descending: bool = True,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Row], int]:
    """One page of sums per ``by`` value, sorted on the server; and how many values there are."""
    if sort not in SORTS:
        raise ValueError(f"cannot sort by {sort!r}; one of {', '.join(SORTS)}")
    src = source(session, window, filt)
    key = src.dims[by]
    named = dict(zip(MEASURES, src.measures, strict=True))
    order_by = {
        "key": key,
        "cost": named["cost_nano"],
        "calls": named["calls"],
        "requests": named["requests"],
        "tokens": named["input_tokens"] + named["output_tokens"],
        "errors": named["errors"],
        "unknown": named["unknown"],
    }[sort]
    ordered = order_by.desc() if descending else order_by.asc()
    where = src.where(filt, scope)
    query = (
        select(key, *src.measures)
        .where(*where)
        .group_by(key)
        .order_by(ordered, key.asc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    rows = [Row(str(r[0] or ""), Totals.of(r[1:])) for r in session.execute(query).all()]
    count = session.execute(select(func.count(func.distinct(key))).where(*where)).scalar_one()
    return rows, int(count)


def options(
    *, session: Session, scope: Scope, window: Window, limit: int = 200
) -> dict[str, list[str]]:
    """The values each filter can take in the window (one scan of the rollup), sorted."""
    u = UsageHourly
    src = _Source(session, window, raw=False)
    dims = [col(u.user_id), col(u.project_id), col(u.model), col(u.provider), col(u.feature)]
    query = (
        select(*dims)
        .where(src.time_clause, scope_clause(scope, col(u.user_id), col(u.project_id)))
        .group_by(*dims)
    )
    seen: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    for row in session.execute(query).all():
        for dim, value in zip(DIMENSIONS, row, strict=True):
            if value:
                seen[dim].add(str(value))
    return {dim: sorted(values)[:limit] for dim, values in seen.items()}


def cost_usd(nano: int) -> Decimal:
    """Billionths of a dollar as a Decimal of dollars (exact)."""
    return Decimal(nano) / NANO
