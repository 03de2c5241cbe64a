"""Usage reads that need the raw call log: latency percentiles, the conversation table, the
call-log browser, one call's attempts, and streaming rows out for CSV export.

Percentiles are nearest-rank (``percentile_disc``): the smallest value with at least the
fraction ``p`` of the rows at or below it. PostgreSQL has the aggregate; on SQLite the same
rank comes from window functions. Latency is over successful attempts; time to first token
over the attempts that produced one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlmodel import Session, col

from app.db.crud.usage import (
    Row,
    Scope,
    Totals,
    UsageFilter,
    Window,
    day_of,
    scope_clause,
    source,
)
from app.db.models import CallLog

PERCENTILES = (0.5, 0.95)
CALL_SORTS = {
    "time": col(CallLog.created_at),
    "cost": col(CallLog.cost),
    "latency": col(CallLog.latency_ms),
    "tokens": col(CallLog.input_tokens) + col(CallLog.output_tokens),
}


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Milliseconds; ``None`` when there is nothing to rank."""

    ttft_p50: int | None = None
    ttft_p95: int | None = None
    latency_p50: int | None = None
    latency_p95: int | None = None


def _ranked(
    session: Session, column: Any, where: Sequence[ColumnElement[bool]], day: Any | None
) -> list[tuple[Any, int | None, int | None]]:
    """(day or None, p50, p95) of ``column`` over the rows matching ``where``."""
    head = [day] if day is not None else []
    where = [*where, column.is_not(None)]
    if session.get_bind().dialect.name == "postgresql":
        picks: list[Any] = [func.percentile_disc(p).within_group(column) for p in PERCENTILES]
        query = select(*head, *picks).where(*where)
    else:
        partition: Any = head or None
        inner = (
            select(
                *head,
                column.label("v"),
                func.row_number().over(partition_by=partition, order_by=column).label("rn"),
                func.count().over(partition_by=partition).label("n"),
            )
            .where(*where)
            .subquery()
        )
        head = [inner.c.day] if head else []
        picks = [
            func.min(case((inner.c.rn >= inner.c.n * p, inner.c.v), else_=None))
            for p in PERCENTILES
        ]
        query = select(*head, *picks)
    if head:
        query = query.group_by(*head).order_by(*head)
    rows = session.execute(query).all()
    if head:
        return [(r[0], r[1], r[2]) for r in rows if r[1] is not None]
    return [(None, r[0], r[1]) for r in rows if r[0] is not None]


def percentiles(
    *, session: Session, window: Window, filt: UsageFilter, scope: Scope
) -> Percentiles:
    src = source(session, window, filt, raw=True)
    where = src.where(filt, scope)
    ttft = _ranked(session, col(CallLog.ttft_ms), where, None)
    ok = [*where, col(CallLog.status) == "ok"]
    latency = _ranked(session, col(CallLog.latency_ms), ok, None)
    t = ttft[0] if ttft else (None, None, None)
    lat = latency[0] if latency else (None, None, None)
    return Percentiles(t[1], t[2], lat[1], lat[2])


def percentiles_by_day(
    *, session: Session, window: Window, filt: UsageFilter, scope: Scope
) -> list[tuple[date, Percentiles]]:
    src = source(session, window, filt, raw=True)
    where = src.where(filt, scope)
    day = src.local_day().label("day")
    ttft = {r[0]: r for r in _ranked(session, col(CallLog.ttft_ms), where, day)}
    ok = [*where, col(CallLog.status) == "ok"]
    latency = {r[0]: r for r in _ranked(session, col(CallLog.latency_ms), ok, day)}
    out: list[tuple[date, Percentiles]] = []
    for number in sorted(set(ttft) | set(latency)):
        t = ttft.get(number, (None, None, None))
        lat = latency.get(number, (None, None, None))
        out.append((day_of(int(number)), Percentiles(t[1], t[2], lat[1], lat[2])))  # type: ignore[arg-type]
    return out


def by_conversation(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    sort: str = "cost",
    descending: bool = True,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Row], int]:
    """The conversation table (the rollup has no conversation id, so from the raw rows)."""
    src = source(session, window, filt, raw=True)
    where = [*src.where(filt, scope), col(CallLog.conversation_id).is_not(None)]
    key = col(CallLog.conversation_id)
    named = dict(zip(("calls", "requests", "errors"), src.measures[:3], strict=True))
    order = {
        "key": key,
        "cost": src.measures[9],
        "calls": named["calls"],
        "requests": named["requests"],
        "tokens": src.measures[5] + src.measures[6],
        "errors": named["errors"],
        "unknown": src.measures[10],
    }.get(sort)
    if order is None:
        raise ValueError(f"cannot sort by {sort!r}")
    query = (
        select(key, *src.measures)
        .where(*where)
        .group_by(key)
        .order_by(order.desc() if descending else order.asc(), key.asc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    rows = [Row(str(r[0]), Totals.of(r[1:])) for r in session.execute(query).all()]
    count = session.execute(select(func.count(func.distinct(key))).where(*where)).scalar_one()
    return rows, int(count)


def _calls_query(
    session: Session, window: Window, filt: UsageFilter, scope: Scope, conversation_id: str | None
) -> Any:
    src = source(session, window, filt, raw=True)
    where = src.where(filt, scope)
    if conversation_id is not None:
        where.append(col(CallLog.conversation_id) == conversation_id)
    return select(CallLog).where(*where)


def list_calls(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    conversation_id: str | None = None,
    sort: str = "time",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[CallLog], int]:
    """One page of the filtered call log, and how many rows match."""
    if sort not in CALL_SORTS:
        raise ValueError(f"cannot sort calls by {sort!r}; one of {', '.join(CALL_SORTS)}")
    order = CALL_SORTS[sort]
    base = _calls_query(session, window, filt, scope, conversation_id)
    page = (
        base.order_by(order.desc() if descending else order.asc(), col(CallLog.id).desc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    rows = list(session.execute(page).scalars().all())
    count = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    return rows, int(count)


def iter_calls(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    batch: int = 2000,
) -> Iterator[CallLog]:
    """Every matching row, oldest first, fetched in batches (a server-side cursor on
    PostgreSQL), so an export of millions of rows never holds them all."""
    query = _calls_query(session, window, filt, scope, None).order_by(col(CallLog.id))
    result = session.execute(query.execution_options(yield_per=batch))
    yield from result.scalars()


def get_call(*, session: Session, call_id: int, scope: Scope) -> list[CallLog]:
    """One call and its request's other attempts (same message; the failover chain), oldest
    first; empty when the call does not exist or is outside the scope."""
    allowed = scope_clause(scope, col(CallLog.user_id), col(CallLog.project_id))
    call = session.execute(
        select(CallLog).where(col(CallLog.id) == call_id, allowed)
    ).scalar_one_or_none()
    if call is None:
        return []
    if call.message_id is None:
        return [call]
    chain = select(CallLog).where(
        col(CallLog.message_id) == call.message_id,
        allowed,
        or_(col(CallLog.conversation_id) == call.conversation_id, col(CallLog.id) == call.id),
    )
    return list(session.execute(chain.order_by(col(CallLog.id))).scalars().all())
