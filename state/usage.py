"""The ``/usage`` page's state: the dashboard's drawn figures for the URL's query.

Thin: it reads the query from the URL (``from``, ``to``, ``tz`` and the filters, so a view can
be shared), calls :class:`app.services.usage.UsageService`, and keeps only what the page draws
(figures, per-day points, one page of a table and of the call log). Changing a filter
navigates to the new URL, whose ``on_load`` reads again. Every event reads the viewer's
scope from the session cookie (:mod:`app.services.usage_scope`): an admin sees everything, a
member their own use and their projects', nobody nothing. The page also shows budget bars and
the newest alerts (:mod:`app.services.alerts`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import reflex as rx

from app.errors import ParleyError
from app.services import alerts
from app.services.alerts import AlertView, BudgetBar
from app.services.usage import (
    CallRowView,
    Dashboard,
    Figure,
    Scope,
    TableRow,
    get_usage_service,
)
from app.services.usage_period import FILTER_KEYS, UsageQuery
from app.services.usage_scope import scope_for
from state.access import authorize

SERIES = 6  # models drawn in the stacked cost chart; the rest are summed as "other"
TABLES = ("user", "project", "model", "conversation")
SIGN_IN = "Sign in to see usage."


def _stack(board: Dashboard) -> tuple[list[dict[str, Any]], list[str]]:
    """Cost per day with the top models as s0..s5 and the rest as "other"."""
    top = board.models[:SERIES]
    names = [*top, "other"] if len(board.models) > SERIES else top
    points = []
    for day in board.cost_by_day:
        point: dict[str, Any] = {"day": day["day"][5:]}
        for i, model in enumerate(top):
            point[f"s{i}"] = day.get(model, 0)
        point["other"] = round(sum(v for k, v in day.items() if k != "day" and k not in top), 6)
        points.append(point)
    return points, names


class UsageState(rx.State):
    query_string: rx.Field[str] = rx.field("")
    first: rx.Field[str] = rx.field("")
    last: rx.Field[str] = rx.field("")
    tz: rx.Field[str] = rx.field("UTC")
    filters: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    options: rx.Field[dict[str, list[str]]] = rx.field(default_factory=dict)
    error: rx.Field[str] = rx.field("")
    figures: rx.Field[list[Figure]] = rx.field(default_factory=list)
    cost_text: rx.Field[str] = rx.field("")
    series: rx.Field[list[str]] = rx.field(default_factory=list)
    cost_by_day: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    tokens_by_day: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    cost_by_feature: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    latency_by_day: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    burn_down: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    projection: rx.Field[str] = rx.field("")
    table_by: rx.Field[str] = rx.field("user")
    table_sort: rx.Field[str] = rx.field("cost")
    table_page: rx.Field[int] = rx.field(0)
    table_rows: rx.Field[list[TableRow]] = rx.field(default_factory=list)
    table_count: rx.Field[int] = rx.field(0)
    calls_page: rx.Field[int] = rx.field(0)
    calls: rx.Field[list[CallRowView]] = rx.field(default_factory=list)
    calls_count: rx.Field[int] = rx.field(0)
    detail: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)  # the attempts
    detail_id: rx.Field[int] = rx.field(0)
    budget_bars: rx.Field[list[BudgetBar]] = rx.field(default_factory=list)
    alerts: rx.Field[list[AlertView]] = rx.field(default_factory=list)

    async def _scope(self) -> Scope | None:
        """The viewer's scope, from the principal :func:`state.access.authorize` resolves from
        the session cookie (every event asks it first); None, and the page says so, when
        nobody is signed in."""
        try:
            principal = await authorize(self)
        except ParleyError:
            self.error = SIGN_IN
            return None
        return scope_for(principal)

    def _query(self) -> UsageQuery:
        return UsageQuery.from_params(dict(self.router.url.query_parameters))

    @rx.event
    async def load(self) -> None:
        self.error, self.detail = "", []
        scope = await self._scope()
        if scope is None:
            self.figures, self.table_rows, self.calls, self.alerts, self.budget_bars = (
                [],
                [],
                [],
                [],
                [],
            )
            return
        try:
            query = self._query()
        except ParleyError as exc:
            self.error = exc.message
            query = UsageQuery.last_days(30)
        self.query_string = query.query_string()
        self.first, self.last, self.tz = query.first.isoformat(), query.last.isoformat(), query.tz
        self.filters = {k: v for k, v in query.params().items() if k in FILTER_KEYS}
        service = get_usage_service()
        board = await service.dashboard(query, scope)
        self.figures, self.cost_text = board.figures, board.cost_text
        self.cost_by_day, self.series = _stack(board)
        self.tokens_by_day = [{**d, "day": d["day"][5:]} for d in board.tokens_by_day]
        self.cost_by_feature = board.cost_by_feature
        self.latency_by_day = [{**d, "day": d["day"][5:]} for d in board.latency_by_day]
        self.burn_down = [{**d, "day": d["day"][8:]} for d in board.burn_down]
        self.projection = board.projection_text
        self.options = await service.options(query, scope)
        self.budget_bars, self.alerts = await alerts.for_page(service.engine, scope)
        self.table_page = self.calls_page = 0
        await self._table(query, scope)
        await self._calls(query, scope)

    async def _table(self, query: UsageQuery, scope: Scope | None = None) -> None:
        scope = scope or await self._scope()
        if scope is None:
            return
        rows, count = await get_usage_service().table(
            query, scope, by=self.table_by, sort=self.table_sort, page=self.table_page
        )
        self.table_rows, self.table_count = rows, count

    async def _calls(self, query: UsageQuery, scope: Scope | None = None) -> None:
        scope = scope or await self._scope()
        if scope is None:
            return
        rows, count = await get_usage_service().calls(
            query, scope, page=self.calls_page, page_size=25
        )
        self.calls, self.calls_count = rows, count

    @rx.event
    async def set_filter(self, key: str, value: str) -> rx.event.EventSpec | None:
        if await self._scope() is None:
            return None
        if key not in (*FILTER_KEYS, "from", "to", "tz"):
            return rx.toast.error("Unknown filter.")
        params = dict(self.router.url.query_parameters)
        params[key] = "" if value == "all" else value
        return rx.redirect("/usage?" + urlencode({k: v for k, v in params.items() if v}))

    @rx.event
    async def show_table(self, by: str) -> None:
        if await self._scope() is None:
            return
        if by in TABLES:
            self.table_by, self.table_page = by, 0
            await self._table(self._query())

    @rx.event
    async def sort_table(self, sort: str) -> None:
        if await self._scope() is None:
            return
        self.table_sort, self.table_page = sort, 0
        await self._table(self._query())

    @rx.event
    async def table_to(self, page: int) -> None:
        if await self._scope() is None:
            return
        self.table_page = max(0, page)
        await self._table(self._query())

    @rx.event
    async def calls_to(self, page: int) -> None:
        if await self._scope() is None:
            return
        self.calls_page = max(0, page)
        await self._calls(self._query())

    @rx.event
    async def open_call(self, call_id: int) -> None:
        scope = await self._scope()
        if scope is None:
            return
        self.detail_id = int(call_id)
        self.detail = await get_usage_service().call(int(call_id), scope, tz=self.tz)

    @rx.event
    async def close_call(self) -> None:
        if await self._scope() is None:
            return
        self.detail = []
