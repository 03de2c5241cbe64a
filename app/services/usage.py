"""The token-spend dashboard's use case: everything the ``/usage`` page draws, for one scope.

Read top to bottom: :meth:`UsageService.dashboard` takes a :class:`UsageQuery` (period, time
zone, filters) and a :class:`Scope` (whose rows the viewer may see: an admin everything, a
member their own and their projects'), runs the aggregates of :mod:`app.db.crud.usage` in a
worker thread, and returns only what is drawn: headline figures with their change from the
previous period, per-day series, and the month's budget burn-down. Tables, the call log and
one call's attempts are separate reads, paged on the server. Nothing here imports Reflex.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.rollups import is_unbilled
from app.db.crud.usage import Dimension, Scope, Totals, UsageFilter
from app.db.models import CallLog
from app.db.session import run_in_session
from app.services.usage_period import UsageQuery, change, money, window, zone

T = TypeVar("T")
NANO = Decimal(1_000_000_000)


@dataclass(frozen=True, slots=True)
class Figure:
    label: str
    value: str
    change: str  # vs the previous period: "+12%", "new", "—"


@dataclass(frozen=True, slots=True)
class Dashboard:
    figures: list[Figure]
    totals: Totals
    cost_text: str  # the headline cost, "≥ $12.34" when some prices are unknown
    models: list[str]  # the stacked series' keys, dearest first
    cost_by_day: list[dict[str, Any]]  # {"day": "2026-11-03", <model>: dollars, ...}
    tokens_by_day: list[dict[str, Any]]  # {"day", "input", "output", "cache"}
    cost_by_feature: list[dict[str, Any]]  # {"feature", "cost", "calls", "unknown"}
    latency_by_day: list[dict[str, Any]]  # {"day", "ttft_p50", "ttft_p95", "p50", "p95"}
    burn_down: list[dict[str, Any]]  # {"day", "spent", "projected", "budget"}
    projection_text: str


@dataclass(frozen=True, slots=True)
class TableRow:
    key: str
    cost: str
    calls: int
    requests: int
    tokens: int
    errors: int
    unknown: int


def _dollars(nano: int) -> float:
    return round(nano / 1e9, 6)  # for drawing only; texts use the exact Decimal


def _pct(part: int, whole: int) -> float:
    return part / whole * 100 if whole else 0.0


def _ms(value: int | None) -> str:
    return "—" if value is None else f"{value:,} ms"


def _figures(
    now: Totals, before: Totals, p_now: raw.Percentiles, p_before: raw.Percentiles
) -> list[Figure]:
    def count(label: str, a: int, b: int) -> Figure:
        return Figure(label, f"{a:,}", change(a, b))

    def rate(label: str, a: float, b: float) -> Figure:
        return Figure(label, f"{a:.1f}%", change(a, b))

    def ms(label: str, a: int | None, b: int | None) -> Figure:
        return Figure(label, _ms(a), change(a or 0, b or 0) if a is not None else "—")

    cache_now = now.cache_read_tokens + now.cache_write_tokens
    cache_before = before.cache_read_tokens + before.cache_write_tokens
    return [
        Figure("Cost", money(now.cost_nano, now.unknown), change(now.cost_nano, before.cost_nano)),
        count("Requests", now.requests, before.requests),
        count("Input tokens", now.input_tokens, before.input_tokens),
        count("Output tokens", now.output_tokens, before.output_tokens),
        count("Cache tokens", cache_now, cache_before),
        rate(
            "Cache hit rate",
            _pct(now.cache_hits, now.calls),
            _pct(before.cache_hits, before.calls),
        ),
        rate("Error rate", _pct(now.errors, now.calls), _pct(before.errors, before.calls)),
        count("Failovers", now.failovers, before.failovers),
        ms("TTFT p50", p_now.ttft_p50, p_before.ttft_p50),
        ms("TTFT p95", p_now.ttft_p95, p_before.ttft_p95),
        ms("Latency p50", p_now.latency_p50, p_before.latency_p50),
        ms("Latency p95", p_now.latency_p95, p_before.latency_p95),
    ]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def burn_down(
    session: Session, *, scope: Scope, filters: UsageFilter, today: date, budget: Decimal | None
) -> tuple[list[dict[str, Any]], str]:
    """The UTC calendar month of ``today`` (the budgets' month): cumulative spend per day, and
    the month-end projection at the month's pace so far."""
    first = today.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = q.daily(session=session, window=window(first, today, "UTC"), filt=filters, scope=scope)
    per_day = {r.day: r.totals.cost_nano for r in rows}
    unknown = sum(r.totals.unknown for r in rows)
    spent = 0
    points: list[dict[str, Any]] = []
    elapsed = (today - first).days + 1
    for day in _days(first, last):
        point: dict[str, Any] = {"day": day.isoformat()}
        if day <= today:
            spent += per_day.get(day, 0)
            point["spent"] = _dollars(spent)
        point["projected"] = _dollars(spent * ((day - first).days + 1) // elapsed)
        if budget is not None:
            point["budget"] = float(budget)
        points.append(point)
    month_days = (last - first).days + 1
    projected = spent * month_days // elapsed
    text = f"Month to date {money(spent, unknown)}; at this pace {money(projected, unknown)}"
    if budget is not None:
        share = Decimal(projected) / NANO / budget * 100 if budget else Decimal(0)
        text += f" by {last:%d %b}, {share:.0f}% of the {money(int(budget * NANO), 0)} budget"
    return points, text


class UsageService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    async def dashboard(
        self, query: UsageQuery, scope: Scope, *, budget: Decimal | None = None
    ) -> Dashboard:
        return await self._run(lambda s: self.dashboard_sync(s, query, scope, budget=budget))

    def dashboard_sync(
        self, s: Session, query: UsageQuery, scope: Scope, *, budget: Decimal | None = None
    ) -> Dashboard:
        win, prev = query.window(), query.previous().window()
        f = query.filters
        cells = q.grid(session=s, window=win, filt=f, scope=scope)
        now = sum((c.totals for c in cells), Totals())
        before = q.totals(session=s, window=prev, filt=f, scope=scope)
        p_now, latency = raw.percentiles_by_day(session=s, window=win, filt=f, scope=scope)
        p_before = raw.percentiles(session=s, window=prev, filt=f, scope=scope)
        spend: dict[str, int] = defaultdict(int)
        cost_days: dict[date, dict[str, Any]] = {d: {} for d in _days(query.first, query.last)}
        token_days = {d: [0, 0, 0] for d in cost_days}
        by_feature: dict[str, Totals] = defaultdict(Totals)
        for c in cells:
            spend[c.model] += c.totals.cost_nano
            day = cost_days[c.day]
            day[c.model] = day.get(c.model, 0) + c.totals.cost_nano
            t = token_days[c.day]
            t[0] += c.totals.input_tokens
            t[1] += c.totals.output_tokens
            t[2] += c.totals.cache_read_tokens + c.totals.cache_write_tokens
            by_feature[c.feature] += c.totals
        for day in cost_days.values():
            day.update({m: _dollars(nano) for m, nano in day.items()})
        features = sorted(by_feature.items(), key=lambda kv: -kv[1].cost_nano)
        today = datetime.now(UTC).date()
        points, projection = burn_down(
            s, scope=scope, filters=f, today=min(today, query.last), budget=budget
        )
        return Dashboard(
            figures=_figures(now, before, p_now, p_before),
            totals=now,
            cost_text=money(now.cost_nano, now.unknown),
            models=sorted(spend, key=lambda m: -spend[m]),
            cost_by_day=[{"day": d.isoformat(), **v} for d, v in cost_days.items()],
            tokens_by_day=[
                {"day": d.isoformat(), "input": t[0], "output": t[1], "cache": t[2]}
                for d, t in token_days.items()
            ],
            cost_by_feature=[
                {
                    "feature": name,
                    "cost": _dollars(t.cost_nano),
                    "calls": t.calls,
                    "unknown": t.unknown,
                }
                for name, t in features
            ],
            latency_by_day=[
                {
                    "day": d.isoformat(),
                    "ttft_p50": p.ttft_p50,
                    "ttft_p95": p.ttft_p95,
                    "p50": p.latency_p50,
                    "p95": p.latency_p95,
                }
                for d, p in latency
            ],
            burn_down=points,
            projection_text=projection,
        )

    async def table(
        self,
        query: UsageQuery,
        scope: Scope,
        *,
        by: Dimension | str,
        sort: str = "cost",
        descending: bool = True,
        page: int = 0,
        page_size: int = 20,
    ) -> tuple[list[TableRow], int]:
        """One page of the table by user, project, model, provider, feature or conversation."""

        def read(s: Session) -> tuple[list[TableRow], int]:
            args: dict[str, Any] = {
                "session": s,
                "window": query.window(),
                "filt": query.filters,
                "scope": scope,
                "sort": sort,
                "descending": descending,
                "limit": page_size,
                "offset": page * page_size,
            }
            if by == "conversation":
                rows, count = raw.by_conversation(**args)
            elif by in q.DIMENSIONS:
                rows, count = q.breakdown(by=by, **args)  # type: ignore[arg-type]
            else:
                raise ValueError(f"no table by {by!r}")
            return [table_row(r) for r in rows], count

        return await self._run(read)

    async def calls(
        self,
        query: UsageQuery,
        scope: Scope,
        *,
        conversation_id: str | None = None,
        sort: str = "time",
        descending: bool = True,
        page: int = 0,
        page_size: int = 50,
    ) -> tuple[list[CallRowView], int]:
        """One page of the filtered call log, as shown."""
        rows, count = await self._run(
            lambda s: raw.list_calls(
                session=s,
                window=query.window(),
                filt=query.filters,
                scope=scope,
                conversation_id=conversation_id,
                sort=sort,
                descending=descending,
                limit=page_size,
                offset=page * page_size,
            )
        )
        return [call_view(c, query.tz) for c in rows], count

    async def call(self, call_id: int, scope: Scope, *, tz: str = "UTC") -> list[dict[str, str]]:
        """A call and its request's other attempts (the failover chain), oldest first, each
        with all its metadata; empty if it does not exist or the scope may not see it."""
        chain = await self._run(lambda s: raw.get_call(session=s, call_id=call_id, scope=scope))
        return [attempt_view(c, tz) for c in chain]

    async def options(self, query: UsageQuery, scope: Scope) -> dict[str, list[str]]:
        """The values each filter offers in the period (only those the scope can see)."""
        return await self._run(lambda s: q.options(session=s, scope=scope, window=query.window()))


@dataclass(frozen=True, slots=True)
class CallRowView:
    """One row of the call-log browser, as shown."""

    id: int
    at: str  # local time in the viewer's zone
    user: str
    project: str
    model: str
    feature: str
    status: str
    tokens: str
    cost: str
    latency: str


def call_cost(c: CallLog) -> str:
    if c.cost is not None:
        return money(int(Decimal(c.cost) * NANO), 0)
    return "not billed" if is_unbilled(c) else "unknown"


def local_time(at: datetime, tz: str) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def call_view(c: CallLog, tz: str) -> CallRowView:
    return CallRowView(
        id=c.id or 0,
        at=local_time(c.created_at, tz),
        user=c.user_id or "",
        project=c.project_id or "",
        model=c.model,
        feature=c.feature,
        status=c.status + (" (cache hit)" if c.cache_hit else ""),
        tokens=f"{c.input_tokens:,} / {c.output_tokens:,}",
        cost=call_cost(c),
        latency=f"{c.latency_ms:,} ms",
    )


def attempt_view(c: CallLog, tz: str) -> dict[str, str]:
    """Every field of one attempt, as text (the call's full metadata)."""
    return {
        "id": str(c.id),
        "attempt": str(c.attempt),
        "at": f"{local_time(c.created_at, tz)} ({tz})",
        "provider": c.provider,
        "model": c.model,
        "provider_model": c.provider_model,
        "requested_model": c.requested_model or "",
        "failover_from": c.failover_from or "",
        "status": c.status,
        "error_type": c.error_type or "",
        "cache_hit": "yes" if c.cache_hit else "no",
        "ttft": _ms(c.ttft_ms),
        "latency": _ms(c.latency_ms),
        "input_tokens": f"{c.input_tokens:,}",
        "output_tokens": f"{c.output_tokens:,}",
        "cache_read_tokens": f"{c.cache_read_tokens:,}",
        "cache_write_tokens": f"{c.cache_write_tokens:,}",
        "cost": call_cost(c),
        "price_version": c.price_version or "",
        "feature": c.feature,
        "user": c.user_id or "",
        "project": c.project_id or "",
        "conversation": c.conversation_id or "",
        "message": "" if c.message_id is None else str(c.message_id),
    }


def table_row(row: q.Row) -> TableRow:
    t = row.totals
    return TableRow(
        key=row.key or "(none)",
        cost=money(t.cost_nano, t.unknown),
        calls=t.calls,
        requests=t.requests,
        tokens=t.input_tokens + t.output_tokens,
        errors=t.errors,
        unknown=t.unknown,
    )


_service: UsageService | None = None


def get_usage_service() -> UsageService:
    """The process's usage service, on the chat service's database."""
    global _service
    if _service is None:
        from app.services import get_chat_service

        _service = UsageService(get_chat_service().engine)
    return _service
