"""Which tables answer a usage read, and the types the reads share.

Every figure is a sum over *parts*: each part is one table (a rollup of
:mod:`app.db.crud.rollups`, or the raw call log) read over a list of time ranges, and the parts
together cover the viewer's window exactly once. :func:`plan` picks them:

- a status filter needs the raw rows (no rollup has the status);
- otherwise the narrowest hourly rollup that has every dimension the filters and the scope
  name: ``usage_hourly_model`` for an admin with no user or project filter, else
  ``usage_hourly``;
- for the tables by user, project or conversation, a daily rollup for the window's whole UTC
  days, and the hourly rollup (or, for conversations, the call log) for the edges;
- raw rows for what no hour covers whole: a window edge that is not on the hour (a half-hour
  zone such as Asia/Kolkata starts its days at :30 UTC) and, when grouping by local day, the
  hours a local midnight cuts in two (one an hour a day in such zones).

A :class:`Window` is a half-open UTC interval plus the offsets of the viewer's time zone in it:
a row's local day is ``(t + offset(t)) // 86400`` with ``t`` in epoch seconds, written as a
``CASE`` over the offset changes, so no database needs a time zone library.

Access is a :class:`Scope`: an admin sees everything, a member the rows of their own user id
and of their projects. Deny by default: a member with neither sees nothing.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select, union_all
from sqlmodel import Session, col

from app.db.crud.rollups import (
    DAILY,
    DAILY_CONVERSATION,
    HOURLY,
    HOURLY_MODEL,
    UNKNOWN_PRICE,
    Rollup,
    epoch_seconds,
)
from app.db.models import CallLog

DIMENSION_COLUMNS = {
    "user": "user_id",
    "project": "project_id",
    "model": "model",
    "provider": "provider",
    "feature": "feature",
    "conversation": "conversation_id",
}


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

    def dimensions(self) -> dict[str, str]:
        values = {
            "user": self.user_id,
            "project": self.project_id,
            "model": self.model,
            "provider": self.provider,
            "feature": self.feature,
        }
        return {k: v for k, v in values.items() if v is not None}


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

    def local_day(self, t: int) -> int:
        """The local day number of epoch second ``t`` (in Python; :meth:`_Source.local_day`
        is the same in SQL)."""
        i = max(0, bisect_right([at for at, _ in self.offsets], t) - 1)
        return (t + self.offsets[i][1]) // 86400

    def cut(self, hour: int) -> bool:
        """Whether a local midnight or an offset change falls inside the hour (not at its
        start): its rows then belong to two local days, so no hourly rollup row can say which."""
        s = hour * 3600
        changes = any(s < at < s + 3600 for at, _ in self.offsets[1:])
        return changes or self.local_day(s) != self.local_day(s + 3599)


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


def scope_clause(scope: Scope, user: Any, project: Any) -> ColumnElement[bool]:
    if scope.admin:
        return literal(True) == literal(True)
    parts: list[ColumnElement[bool]] = []
    if scope.user_id:
        parts.append(user == scope.user_id)
    if scope.project_ids:
        parts.append(project.in_(sorted(scope.project_ids)))
    return or_(*parts) if parts else false()


@dataclass(frozen=True, slots=True)
class Part:
    """One table over some ranges: in its own unit (hours, days), or seconds for raw rows."""

    rollup: Rollup | None
    ranges: tuple[tuple[int, int], ...]


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[0] < r[1]):
        if out and out[-1][1] >= a:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def needs(filt: UsageFilter, scope: Scope, by: str | None = None) -> set[str]:
    """The dimensions a read touches: its filters', its scope's, and its grouping's."""
    need = set(filt.dimensions())
    if not scope.admin:
        need |= {"user", "project"}
    if by is not None:
        need.add(by)
    return need


def plan(
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    *,
    by: str | None = None,
    by_day: bool = False,
    raw: bool = False,
) -> list[Part]:
    """The parts that answer a read (see the module's docstring)."""
    lo, hi = int(window.start.timestamp()), int(window.end.timestamp())
    if raw or filt.status is not None:
        return [Part(None, ((lo, hi),))]
    need = needs(filt, scope, by)
    parts: list[Part] = []
    edges = [(lo, hi)]
    hourly: Rollup | None = HOURLY_MODEL if need <= {"model", "provider", "feature"} else HOURLY
    if need - {"user", "project", "model", "provider", "feature"}:
        hourly = None  # the conversation: no hourly rollup has it
    daily = next((d for d in (DAILY, DAILY_CONVERSATION) if need <= _dims(d)), None)
    if daily is not None and not by_day and by is not None:
        d_lo, d_hi = -(-lo // 86400), hi // 86400
        if d_lo < d_hi:
            parts.append(Part(daily, ((d_lo, d_hi),)))
            edges = [(lo, d_lo * 86400), (d_hi * 86400, hi)]
    hours: list[tuple[int, int]] = []
    raws: list[tuple[int, int]] = []
    for a, b in edges:
        h_lo, h_hi = -(-a // 3600), b // 3600
        if hourly is None or h_lo >= h_hi:
            raws.append((a, b))
            continue
        raws += [(a, h_lo * 3600), (h_hi * 3600, b)]
        run = h_lo
        for h in range(h_lo, h_hi) if by_day and not window.whole_hours else ():
            if window.cut(h):
                hours.append((run, h))
                raws.append((h * 3600, h * 3600 + 3600))
                run = h + 1
        hours.append((run, h_hi))
    if _merge(hours):
        parts.append(Part(hourly, _merge(hours)))
    if _merge(raws):
        parts.append(Part(None, _merge(raws)))
    return parts


def _dims(rollup: Rollup) -> set[str]:
    return {d for d, c in DIMENSION_COLUMNS.items() if c in rollup.keys}


def _ranges_clause(column: Any, ranges: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    clauses = [and_(column >= a, column < b) for a, b in ranges]
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


class Source:
    """One part's columns behind one set of names: ``t`` (epoch seconds), ``measures`` (the
    :data:`MEASURES`' aggregates), ``dims``, and its time ranges as ``time_clause``."""

    def __init__(self, session: Session, window: Window, part: Part) -> None:
        self.raw = part.rollup is None
        self.window = window
        if part.rollup is None:
            c = CallLog
            self.table: Any = CallLog
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
            stamp = [(_at(a), _at(b)) for a, b in part.ranges]
            self.time_clause = _ranges_clause(col(c.created_at), stamp)
            names = set(DIMENSION_COLUMNS.values())
        else:
            self.table = part.rollup.table
            time = getattr(self.table, part.rollup.time)
            self.t = col(time) * part.rollup.unit
            self.measures = [func.sum(getattr(self.table, name)) for name in MEASURES]
            self.time_clause = _ranges_clause(col(time), part.ranges)
            names = set(part.rollup.keys)
        self.dims: dict[str, Any] = {
            d: col(getattr(self.table, c)) for d, c in DIMENSION_COLUMNS.items() if c in names
        }

    def where(self, filt: UsageFilter, scope: Scope) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [self.time_clause]
        clauses += [self.dims[dim] == value for dim, value in filt.dimensions().items()]
        if filt.status is not None and self.raw:
            clauses.append(col(CallLog.status) == filt.status)
        clauses.append(scope_clause(scope, self.dims.get("user"), self.dims.get("project")))
        return clauses

    def local_day(self) -> ColumnElement[Any]:
        """The row's local day, as days since 1970-01-01 in the window's time zone."""
        return local_day_sql(self.window, self.t)


def local_day_sql(window: Window, t: Any) -> ColumnElement[Any]:
    offsets = window.offsets
    if len(offsets) == 1:
        return (t + offsets[0][1]) // 86400
    whens = [
        (t < nxt_at, (t + off) // 86400) for (_, off), (nxt_at, _) in itertools.pairwise(offsets)
    ]
    return case(*whens, else_=(t + offsets[-1][1]) // 86400)


def _at(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def sources(
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    *,
    by: str | None = None,
    by_day: bool = False,
    raw: bool = False,
) -> list[Source]:
    parts = plan(window, filt, scope, by=by, by_day=by_day, raw=raw)
    return [Source(session, window, p) for p in parts]


def combined(
    srcs: Sequence[Source],
    filt: UsageFilter,
    scope: Scope,
    keys: Callable[[Source], list[Any]],
    *,
    extra: Sequence[Callable[[Source], ColumnElement[bool]]] = (),
) -> tuple[Any, list[Any], dict[str, Any]]:
    """One grouped query over every part: ``(query, key columns, {measure: aggregate})``, to
    order and page. A single part is queried directly; several are summed over a UNION ALL."""
    selects = []
    for src in srcs:
        ks = keys(src)
        where = [*src.where(filt, scope), *(e(src) for e in extra)]
        named = [m.label(n) for n, m in zip(MEASURES, src.measures, strict=True)]
        query = select(*(k.label(f"k{i}") for i, k in enumerate(ks)), *named).where(*where)
        selects.append(query.group_by(*ks) if ks else query)
        if len(srcs) == 1:
            return selects[0], ks, dict(zip(MEASURES, src.measures, strict=True))
    sub = union_all(*selects).subquery()
    key_columns = [sub.c[f"k{i}"] for i in range(len(keys(srcs[0])))]
    sums = {n: func.sum(sub.c[n]) for n in MEASURES}
    query = select(*key_columns, *sums.values())
    return (query.group_by(*key_columns) if key_columns else query), key_columns, sums
