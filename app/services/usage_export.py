"""CSV rows of the usage dashboard: the filtered call log and each breakdown, streamed.

The call log is read in batches (a server-side cursor on PostgreSQL) and written a few
hundred rows at a time; a breakdown is paged. Nothing holds the whole export in memory. Cells
a spreadsheet would run as a formula are prefixed with ``'``. Costs are exact decimals; an
unknown price is an empty cost with ``price`` = ``unknown`` (never 0). The HTTP route is
:mod:`app.web.usage_export`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC
from decimal import Decimal

from sqlalchemy import Engine

from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.rollups import is_unbilled
from app.db.crud.usage import Scope
from app.db.models import CallLog
from app.db.session import session_scope
from app.services.usage_period import UsageQuery

TABLES = (*q.DIMENSIONS, "conversation")
CALL_COLUMNS = (
    "id",
    "created_at_utc",
    "user_id",
    "project_id",
    "conversation_id",
    "message_id",
    "feature",
    "provider",
    "model",
    "provider_model",
    "status",
    "error_type",
    "attempt",
    "failover_from",
    "cache_hit",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "price",
    "price_version",
    "latency_ms",
    "ttft_ms",
)
TABLE_COLUMNS = (
    "key",
    "cost_usd",
    "cost_is_at_least",
    "calls",
    "requests",
    "errors",
    "failovers",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "unknown_price_calls",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def _csv(
    rows: Iterable[Iterable[object]], header: Iterable[str], every: int = 500
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_cell(v) for v in row])
        if n % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def call_row(c: CallLog) -> tuple[object, ...]:
    if c.cost is not None:
        cost, state = f"{Decimal(c.cost):.9f}", "priced"
    else:
        cost, state = "", ("unbilled" if is_unbilled(c) else "unknown")
    at = c.created_at if c.created_at.tzinfo is None else c.created_at.astimezone(UTC)
    stamp = at.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return (
        c.id,
        stamp,
        c.user_id,
        c.project_id,
        c.conversation_id,
        c.message_id,
        c.feature,
        c.provider,
        c.model,
        c.provider_model,
        c.status,
        c.error_type,
        c.attempt,
        c.failover_from,
        int(c.cache_hit),
        c.input_tokens,
        c.output_tokens,
        c.cache_read_tokens,
        c.cache_write_tokens,
        cost,
        state,
        c.price_version,
        c.latency_ms,
        c.ttft_ms,
    )


def _calls(engine: Engine, query: UsageQuery, scope: Scope) -> Iterator[tuple[object, ...]]:
    with session_scope(engine) as session:
        for c in raw.iter_calls(
            session=session, window=query.window(), filt=query.filters, scope=scope
        ):
            yield call_row(c)


def _table(
    engine: Engine, query: UsageQuery, scope: Scope, by: str, page: int = 500
) -> Iterator[tuple[object, ...]]:
    offset = 0
    while True:
        with session_scope(engine) as session:
            args = {
                "session": session,
                "window": query.window(),
                "filt": query.filters,
                "scope": scope,
                "sort": "key",
                "descending": False,
                "limit": page,
                "offset": offset,
            }
            if by == "conversation":
                rows, _ = raw.by_conversation(**args)  # type: ignore[arg-type]
            else:
                rows, _ = q.breakdown(by=by, **args)  # type: ignore[arg-type]
        for r in rows:
            t = r.totals
            yield (
                r.key,
                f"{Decimal(t.cost_nano) / Decimal(1_000_000_000):.9f}",
                int(t.unknown > 0),
                t.calls,
                t.requests,
                t.errors,
                t.failovers,
                t.cache_hits,
                t.input_tokens,
                t.output_tokens,
                t.cache_read_tokens,
                t.cache_write_tokens,
                t.unknown,
            )
        if len(rows) < page:
            return
        offset += page


def export_csv(engine: Engine, query: UsageQuery, scope: Scope, what: str) -> Iterator[str]:
    """The CSV text of ``what`` ("calls" or a table in :data:`TABLES`), in chunks."""
    if what == "calls":
        return _csv(_calls(engine, query, scope), CALL_COLUMNS)
    if what in TABLES:
        return _csv(_table(engine, query, scope, what), TABLE_COLUMNS)
    raise ValueError(f"no export of {what!r}")
