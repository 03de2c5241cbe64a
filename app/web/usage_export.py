"""CSV export of the dashboard: ``/_parley/usage/export/<what>.csv?<the page's query string>``.

``what`` is ``calls`` (the filtered call log, every attempt) or a breakdown: ``user``,
``project``, ``model``, ``provider``, ``feature``, ``conversation``. The query string is the
page's own (``from``, ``to``, ``tz`` and the filters), so a shared view exports the same rows.

Rows stream: the call log is read in batches (a server-side cursor on PostgreSQL) inside a
generator Starlette runs in a worker thread, written out a few hundred rows at a time; a
breakdown is paged. Nothing holds the whole export in memory.

Who may read what is ``scope_of(request)``: a :class:`~app.db.crud.usage.Scope`, or ``None``
to refuse (403). The composition root supplies it; the accounts work plugs its session check
in there. Cells that a spreadsheet would run as a formula are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC
from decimal import Decimal

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from app.db.crud import usage as q
from app.db.crud import usage_calls as raw
from app.db.crud.rollups import is_unbilled
from app.db.crud.usage import Scope
from app.db.models import CallLog
from app.db.session import session_scope
from app.errors import InvalidInput
from app.services.usage_period import UsageQuery

PATH = "/_parley/usage/export/{what}.csv"
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
ScopeOf = Callable[[Request], Awaitable[Scope | None]]


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


def usage_export_app(engine: Callable[[], Engine], scope_of: ScopeOf) -> Starlette:
    async def endpoint(request: Request) -> Response:
        what = str(request.path_params.get("what", ""))
        if what != "calls" and what not in TABLES:
            return PlainTextResponse("No such export.", status_code=404)
        scope = await scope_of(request)
        if scope is None:
            return PlainTextResponse("Sign in to export usage.", status_code=403)
        try:
            query = UsageQuery.from_params(dict(request.query_params))
        except InvalidInput as exc:
            return PlainTextResponse(exc.message, status_code=400)
        if what == "calls":
            body = _csv(_calls(engine(), query, scope), CALL_COLUMNS)
        else:
            body = _csv(_table(engine(), query, scope, what), TABLE_COLUMNS)
        name = f"parley-usage-{what}-{query.first}-{query.last}.csv"
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)

    return Starlette(routes=[Route(PATH, endpoint, methods=["GET"])])


async def single_user_scope(_request: Request) -> Scope | None:
    """Until accounts land (issue 10), Parley has one user, who sees everything. The accounts
    work replaces this with its session check (``app.services.authz``): deny by default."""
    return Scope.everything()
