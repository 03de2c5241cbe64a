"""Usage reads at the level of calls: latency percentiles, the conversation table, the
call-log browser, one call's attempts, and streaming rows out for CSV export.

Percentiles are nearest-rank: the smallest value with at least the fraction ``p`` of the rows
at or below it. A view with no filter and no member scope and at least :data:`EXACT_BELOW`
values reads them from the hourly latency histograms (the rank's bucket midpoint, within half
a bucket: see :mod:`app.db.crud.latency`); any other is exact, from the raw rows
(``percentile_disc`` on PostgreSQL; on SQLite the values are fetched and ranked here).
Latency is over successful attempts; time to first token over the attempts that produced one.
The conversation table reads the daily conversation rollup for whole UTC days and raw rows
for the edges.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlmodel import Session, col

from app.db.crud import latency
from app.db.crud.usage import Row, Scope, UsageFilter, Window, day_of, ranked_page, scope_clause
from app.db.crud.usage_source import local_day_sql, needs, plan, sources
from app.db.models import CallLog, UsageLatencyHourly

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


def _nearest_rank(values: list[int]) -> tuple[int | None, int | None]:
    if not values:
        return None, None
    values.sort()
    n = len(values)
    return tuple(values[max(1, math.ceil(p * n)) - 1] for p in PERCENTILES)  # type: ignore[return-value]


def _pg_ranked(
    session: Session, column: Any, where: Sequence[ColumnElement[bool]], day: Any | None
) -> dict[Any, tuple[int | None, int | None]]:
    """PostgreSQL's ``percentile_disc``: {day or None: (p50, p95)}."""
    head = [day] if day is not None else []
    picks = [func.percentile_disc(p).within_group(column) for p in PERCENTILES]
    query = select(*head, *picks).where(*where, column.is_not(None))
    if head:
        query = query.group_by(*head)
    rows = session.execute(query).all()
    if head:
        return {r[0]: (r[1], r[2]) for r in rows}
    return {None: (rows[0][0], rows[0][1])} if rows else {}


def _exact_ranks(
    session: Session, window: Window, filt: UsageFilter, scope: Scope, *, by_day: bool
) -> dict[Any, Percentiles]:
    """Exact nearest-rank percentiles from the raw rows: {None: the period's} and, with
    ``by_day``, {local day number: ...}.

    On SQLite (no percentile aggregate, and window functions over every row cost seconds at
    a million rows) the two small columns are read through the covering index
    (created_at, latency_ms, ttft_ms, status) and ranked here."""
    src = sources(session, window, filt, scope, raw=True)[0]
    where = src.where(filt, scope)
    day = src.local_day().label("day") if by_day else None
    out: dict[Any, Percentiles] = {}
    if session.get_bind().dialect.name == "postgresql":
        ok = [*where, col(CallLog.status) == "ok"]
        keys: list[Any] = [None]
        ttft = _pg_ranked(session, col(CallLog.ttft_ms), where, None)
        total = _pg_ranked(session, col(CallLog.latency_ms), ok, None)
        if day is not None:
            ttft |= _pg_ranked(session, col(CallLog.ttft_ms), where, day)
            total |= _pg_ranked(session, col(CallLog.latency_ms), ok, day)
            keys += sorted(k for k in set(ttft) | set(total) if k is not None)
        for k in keys:
            t, lat = ttft.get(k, (None, None)), total.get(k, (None, None))
            out[k] = Percentiles(t[0], t[1], lat[0], lat[1])
        return out
    ok_latency = case((col(CallLog.status) == "ok", col(CallLog.latency_ms)), else_=None)
    head = [day] if day is not None else [literal(0)]
    rows = session.execute(select(*head, col(CallLog.ttft_ms), ok_latency).where(*where)).all()
    ttfts: dict[Any, list[int]] = defaultdict(list)
    latencies: dict[Any, list[int]] = defaultdict(list)
    for d, t, lat in rows:
        if t is not None:
            ttfts[d].append(t)
            ttfts[None].append(t)
        if lat is not None:
            latencies[d].append(lat)
            latencies[None].append(lat)
    keys = [None, *sorted(k for k in set(ttfts) | set(latencies) if k is not None)]
    for k in keys if day is not None else [None]:
        t, lat = _nearest_rank(ttfts.get(k, [])), _nearest_rank(latencies.get(k, []))
        out[k] = Percentiles(t[0], t[1], lat[0], lat[1])
    return out


# Below this many ranked values (time to first token and latency together) the percentiles
# are exact, from the raw rows; above, from the histograms, within half a bucket.
EXACT_BELOW = 20_000


def _histogram_counts(
    session: Session, window: Window, filt: UsageFilter, scope: Scope, *, by_day: bool
) -> dict[tuple[Any, int], dict[int, int]] | None:
    """{(local day, metric): {bucket: count}} from the latency histograms, with the rows no
    whole hour covers bucketed here; ``None`` when a filter or the scope needs the raw rows."""
    if needs(filt, scope) or filt.status is not None:
        return None
    counts: dict[tuple[Any, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for part in plan(window, filt, scope, by_day=by_day):
        if part.rollup is None:
            rows = _raw_values(session, window, part.ranges, by_day=by_day)
        else:
            h = UsageLatencyHourly
            day = local_day_sql(window, col(h.hour) * 3600) if by_day else literal(0)
            hours = or_(*(and_(col(h.hour) >= a, col(h.hour) < b) for a, b in part.ranges))
            query = (
                select(day, col(h.metric), col(h.bucket), func.sum(col(h.n)))
                .where(hours)
                .group_by(*([day] if by_day else []), col(h.metric), col(h.bucket))
            )
            rows = session.execute(query).all()
        for d, metric, bucket, n in rows:
            counts[(d, metric)][bucket] += n
    return counts


def _raw_values(
    session: Session, window: Window, ranges: Any, *, by_day: bool
) -> list[tuple[Any, int, int, int]]:
    """(local day, metric, bucket, 1) for each raw value in the ranges (epoch seconds)."""
    src = sources(session, window, UsageFilter(), Scope.everything(), raw=True)[0]
    stamps = [(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)) for a, b in ranges]
    at = col(CallLog.created_at)
    when = or_(*(and_(at >= a, at < b) for a, b in stamps))
    ok_latency = case((col(CallLog.status) == "ok", col(CallLog.latency_ms)), else_=None)
    out: list[tuple[Any, int, int, int]] = []
    for d, t, lat in session.execute(
        select(src.local_day() if by_day else literal(0), col(CallLog.ttft_ms), ok_latency).where(
            when
        )
    ):
        if t is not None:
            out.append((d, latency.TTFT, latency.bucket_of(t), 1))
        if lat is not None:
            out.append((d, latency.LATENCY, latency.bucket_of(lat), 1))
    return out


def _ranks(
    session: Session, window: Window, filt: UsageFilter, scope: Scope, *, by_day: bool
) -> dict[Any, Percentiles]:
    """{None: the period's percentiles} and, with ``by_day``, {local day number: ...}: from
    the histograms when no filter needs the raw rows and there are enough values to rank."""
    counts = _histogram_counts(session, window, filt, scope, by_day=by_day)
    if counts is None or sum(sum(c.values()) for c in counts.values()) < EXACT_BELOW:
        return _exact_ranks(session, window, filt, scope, by_day=by_day)
    whole: dict[int, dict[int, int]] = {
        latency.TTFT: defaultdict(int),
        latency.LATENCY: defaultdict(int),
    }
    for (_, metric), buckets in counts.items():
        for bucket, n in buckets.items():
            whole[metric][bucket] += n
    out = {None: _from_buckets(whole[latency.TTFT], whole[latency.LATENCY])}
    if by_day:
        for d in sorted({d for d, _ in counts}):
            ttft, lat = counts.get((d, latency.TTFT), {}), counts.get((d, latency.LATENCY), {})
            out[d] = _from_buckets(ttft, lat)
    return out


def _from_buckets(ttft: dict[int, int], lat: dict[int, int]) -> Percentiles:
    t, ll = latency.ranked(ttft, PERCENTILES), latency.ranked(lat, PERCENTILES)
    return Percentiles(t[0], t[1], ll[0], ll[1])


def percentiles(
    *, session: Session, window: Window, filt: UsageFilter, scope: Scope
) -> Percentiles:
    return _ranks(session, window, filt, scope, by_day=False).get(None, Percentiles())


def percentiles_by_day(
    *, session: Session, window: Window, filt: UsageFilter, scope: Scope
) -> tuple[Percentiles, list[tuple[date, Percentiles]]]:
    """The period's percentiles, and each local day's."""
    ranks = _ranks(session, window, filt, scope, by_day=True)
    whole = ranks.pop(None, Percentiles())
    return whole, [(day_of(int(k)), p) for k, p in sorted(ranks.items())]


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
    """The conversation table: whole UTC days from the daily conversation rollup, the edges
    (and any filter on model, provider, feature or status) from the raw rows."""
    srcs = sources(session, window, filt, scope, by="conversation")
    return ranked_page(
        session,
        srcs,
        filt,
        scope,
        by="conversation",
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        extra=[lambda src: src.dims["conversation"].is_not(None)],
    )


def _calls_query(
    session: Session, window: Window, filt: UsageFilter, scope: Scope, conversation_id: str | None
) -> Any:
    src = sources(session, window, filt, scope, raw=True)[0]
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
