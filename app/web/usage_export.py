"""CSV export of the dashboard: ``/_parley/usage/export/<what>.csv?<the page's query string>``.

``what`` is ``calls`` (the filtered call log, every attempt) or a breakdown: ``user``,
``project``, ``model``, ``provider``, ``feature``, ``conversation``. The query string is the
page's own (``from``, ``to``, ``tz`` and the filters), so a shared view exports the same rows.

Rows stream: the call log is read in batches (a server-side cursor on PostgreSQL) inside a
generator Starlette runs in a worker thread, written out a few hundred rows at a time; a
breakdown is paged. Nothing holds the whole export in memory.

Who may read what is ``scope_of(request)``: a :class:`~app.db.crud.usage.Scope`, or ``None``
to refuse (403); :func:`session_scope` (the session cookie's principal) is the app's.
Cells that a spreadsheet would run as a formula are prefixed with ``'``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from app.errors import InvalidInput
from app.services.usage import Scope
from app.services.usage_export import TABLES, export_csv
from app.services.usage_period import UsageQuery
from app.services.usage_scope import scope_from_cookie

PATH = "/_parley/usage/export/{what}.csv"
ScopeOf = Callable[[Request], Awaitable[Scope | None]]


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
        body = export_csv(engine(), query, scope, what)
        name = f"parley-usage-{what}-{query.first}-{query.last}.csv"
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)

    return Starlette(routes=[Route(PATH, endpoint, methods=["GET"])])


async def session_scope(request: Request) -> Scope | None:
    """The signed-in viewer's scope, from the session cookie (deny by default): an admin
    everything, a member their own calls and their projects', nobody ``None`` (403)."""
    return await scope_from_cookie(request.headers.get("cookie"))
