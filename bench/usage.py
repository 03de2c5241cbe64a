"""Every query the ``/usage`` page runs, timed on databases filled by ``bench.gen_calls``.

    python -m bench.gen_calls --rows 1000000 --db sqlite:///usage_1m.db --end 2026-12-01T00:00
    python -m bench.usage --db sqlite:///usage_1m.db --db postgresql+psycopg://.../usage_1m

For each database: the page's default view (last 30 days, Europe/Paris, no filter), then the
same with a model filter, a 365-day view, and a half-hour zone (Asia/Kolkata: the rollups for
the hours inside a local day, raw rows for the hour each local midnight cuts). Each query runs
``--repeat`` times on a warm connection; the table shows the median and the worst wall-clock
milliseconds, with the load average at that moment (the machine is shared, so a figure means
little without it), and the median CPU milliseconds of this process: on SQLite all of the
query's work, roughly what an idle machine takes; on PostgreSQL only the client's share.
"dashboard" is one whole page load: every query of the headline, the charts and the
burn-down, as :meth:`UsageService.dashboard_sync` runs them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.usage import Scope, UsageFilter
from app.db.models import (
    CallLog,
    UsageDaily,
    UsageDailyConversation,
    UsageHourly,
    UsageHourlyModel,
    UsageLatencyHourly,
)
from app.db.session import get_engine, session_scope
from app.services.usage import UsageService, burn_down
from app.services.usage_period import UsageQuery
from bench._common import header, table

LAST = date(2026, 11, 30)
ADMIN = Scope.everything()


def _queries(query: UsageQuery, first_call: int) -> dict[str, Callable[[Session], Any]]:
    win, f = query.window(), query.filters
    kw: dict[str, Any] = {"window": win, "filt": f, "scope": ADMIN}
    service = UsageService.__new__(UsageService)
    return {
        "headline totals (previous period)": lambda s: q.totals(session=s, **kw),
        "day x model x feature grid": lambda s: q.grid(session=s, **kw),
        "p50/p95 (previous period)": lambda s: raw.percentiles(session=s, **kw),
        "p50/p95 of the period and per day": lambda s: raw.percentiles_by_day(session=s, **kw),
        "burn-down (month)": lambda s: burn_down(
            s, scope=ADMIN, filters=f, today=query.last, budget=Decimal(500)
        ),
        "table by user (page 1)": lambda s: q.breakdown(session=s, by="user", **kw),
        "table by project": lambda s: q.breakdown(session=s, by="project", **kw),
        "table by model": lambda s: q.breakdown(session=s, by="model", **kw),
        "table by conversation": lambda s: raw.by_conversation(session=s, **kw),
        "call log page 1 (+count)": lambda s: raw.list_calls(session=s, **kw),
        "call log, status=error": lambda s: raw.list_calls(
            session=s, window=win, filt=UsageFilter(model=f.model, status="error"), scope=ADMIN
        ),
        "one call + failover chain": lambda s: raw.get_call(
            session=s, call_id=first_call, scope=ADMIN
        ),
        "filter options": lambda s: q.options(session=s, scope=ADMIN, window=win),
        "DASHBOARD (whole page load)": lambda s: service.dashboard_sync(
            s, query, ADMIN, budget=Decimal(500)
        ),
    }


def _time(
    session: Session, fn: Callable[[Session], Any], repeat: int
) -> tuple[float, float, float]:
    """Median and worst wall-clock ms, and the median CPU ms of this process (on SQLite all
    the work, so a figure the other processes on a shared machine barely move; on
    PostgreSQL only the client's share)."""
    fn(session)  # warm the cache and the plan
    runs, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn(session)
        runs.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return statistics.median(runs), max(runs), statistics.median(cpu)


def bench(url: str, repeat: int) -> None:
    engine = get_engine(url)
    with session_scope(engine) as session:
        rows = session.execute(select(func.count()).select_from(CallLog)).scalar_one()
        count = lambda t: session.execute(select(func.count()).select_from(t)).scalar_one()  # noqa: E731
        rollups = (
            UsageHourly,
            UsageHourlyModel,
            UsageDaily,
            UsageDailyConversation,
            UsageLatencyHourly,
        )
        sizes = ", ".join(f"{t.__tablename__} {count(t):,}" for t in rollups)
        first_call = (
            session.execute(
                select(func.min(CallLog.id)).where(CallLog.failover_from.is_not(None))  # type: ignore[union-attr]
            ).scalar_one()
            or 1
        )
    name = engine.dialect.name
    print(f"\n## {name}: {rows:,} calls ({url.rsplit('/', 1)[-1]})\n\nrollup rows: {sizes}\n")
    views = [
        ("30 days, Paris", UsageQuery(date(2026, 11, 1), LAST, "Europe/Paris")),
        (
            "30 days, model filter",
            UsageQuery(date(2026, 11, 1), LAST, "Europe/Paris", UsageFilter(model="gpt-5")),
        ),
        ("365 days, Paris", UsageQuery(date(2025, 12, 1), LAST, "Europe/Paris")),
        ("30 days, Kolkata", UsageQuery(date(2026, 11, 1), LAST, "Asia/Kolkata")),
    ]
    out = []
    with session_scope(engine) as session:
        for label, query in views:
            for what, fn in _queries(query, first_call).items():
                if label != views[0][0] and not what.startswith("DASHBOARD"):
                    continue
                median, worst, cpu = _time(session, fn, repeat)
                load1 = os.getloadavg()[0]
                out.append((label, what, median, worst, cpu, f"{load1:.1f}"))
    print(table(("view", "query", "median ms", "worst ms", "CPU ms", "load 1m"), out))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", action="append", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(header("Usage dashboard queries"))
    for url in args.db:
        bench(url, args.repeat)


if __name__ == "__main__":
    main()
