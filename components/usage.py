"""The usage dashboard's parts: filters, headline figures, charts, tables, the call log and
one call's attempts. Pure view functions: they take vars and handlers, never a State.

The charts are in :mod:`components.usage_charts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, NumberVar, ObjectVar

from app.services.usage import CallRowView, Figure, TableRow
from components.controls import Handler, native_select

FILTERS = (
    ("user", "User"),
    ("project", "Project"),
    ("model", "Model"),
    ("provider", "Provider"),
    ("feature", "Feature"),
)
STATUSES = ("ok", "error", "cancelled")
PLURAL = {"status": "statuses"}
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)
DETAIL_FIELDS = (
    ("Attempt", "attempt"),
    ("Time", "at"),
    ("Provider", "provider"),
    ("Model", "model"),
    ("Provider model", "provider_model"),
    ("Requested model", "requested_model"),
    ("Failover from", "failover_from"),
    ("Status", "status"),
    ("Error", "error_type"),
    ("Cache hit", "cache_hit"),
    ("Time to first token", "ttft"),
    ("Latency", "latency"),
    ("Input tokens", "input_tokens"),
    ("Output tokens", "output_tokens"),
    ("Cache read tokens", "cache_read_tokens"),
    ("Cache write tokens", "cache_write_tokens"),
    ("Cost", "cost"),
    ("Price version", "price_version"),
    ("Feature", "feature"),
    ("User", "user"),
    ("Project", "project"),
    ("Conversation", "conversation"),
    ("Message", "message"),
)


@dataclass(frozen=True)
class FilterBinding:
    first: rx.Var[str]
    last: rx.Var[str]
    tz: rx.Var[str]
    values: ObjectVar[Any]
    options: ObjectVar[Any]
    set_filter: Callable[..., Any]  # (key, value)


def filters_bar(b: FilterBinding) -> rx.Component:
    def pick(key: str, label: str, options: Any) -> rx.Component:
        return native_select(
            rx.el.option(f"All {PLURAL.get(key, key + 's')}", value="all"),
            rx.foreach(options, lambda v: rx.el.option(v, value=v)),
            label=label,
            value=b.values.get(key, "all").to(str),
            on_change=lambda v: b.set_filter(key, v),
        )

    return rx.el.form(
        rx.hstack(
            rx.el.label(
                "From",
                rx.input(
                    type="date",
                    value=b.first,
                    aria_label="From",
                    on_change=lambda v: b.set_filter("from", v),
                    size="1",
                ),
            ),
            rx.el.label(
                "To",
                rx.input(
                    type="date",
                    value=b.last,
                    aria_label="To",
                    on_change=lambda v: b.set_filter("to", v),
                    size="1",
                ),
            ),
            native_select(
                rx.foreach(list(ZONES), lambda z: rx.el.option(z, value=z)),
                rx.cond(~rx.Var.create(list(ZONES)).contains(b.tz), rx.el.option(b.tz, value=b.tz)),
                label="Time zone",
                value=b.tz,
                on_change=lambda v: b.set_filter("tz", v),
            ),
            *[pick(key, label, b.options.get(key, []).to(list[str])) for key, label in FILTERS],
            pick("status", "Status", list(STATUSES)),
            wrap="wrap",
            spacing="2",
            align="center",
        ),
        role="search",
        aria_label="Usage filters",
        on_submit=rx.prevent_default,
    )


def figure_card(f: ObjectVar[Figure]) -> rx.Component:
    return rx.card(
        rx.text(f.label, size="1", color=rx.color("gray", 11)),
        rx.text(f.value, size="5", weight="bold", data_testid="figure-value"),
        rx.text(f.change, " vs previous period", size="1", color=rx.color("gray", 10)),
        role="group",
        aria_label=f.label,
    )


def headline(figures: ArrayVar[Any]) -> rx.Component:
    return rx.grid(
        rx.foreach(figures, figure_card),
        columns=rx.breakpoints(initial="2", sm="3", md="6"),
        spacing="2",
        width="100%",
    )


@dataclass(frozen=True)
class TableBinding:
    by: rx.Var[str]
    rows: ArrayVar[Any]
    count: NumberVar[Any]
    page: NumberVar[Any]
    show: Callable[..., Any]  # (by)
    sort: Callable[..., Any]  # (column)
    to_page: Callable[..., Any]  # (page)
    filter_to: Callable[..., Any]  # (key, value): the calls behind a row


def _pager(
    page: NumberVar[Any], count: NumberVar[Any], size: int, to_page: Callable[..., Any], what: str
) -> rx.Component:
    return rx.hstack(
        rx.button(
            "Previous",
            on_click=to_page(page - 1),
            disabled=page <= 0,
            size="1",
            variant="soft",
            aria_label=f"Previous page of {what}",
        ),
        rx.text(
            "Page ",
            page + 1,
            " of ",
            ((count + size - 1) // size).to(int),
            " · ",
            count,
            f" {what}",
            size="1",
        ),
        rx.button(
            "Next",
            on_click=to_page(page + 1),
            disabled=(page + 1) * size >= count,
            size="1",
            variant="soft",
            aria_label=f"Next page of {what}",
        ),
        align="center",
        spacing="2",
    )


def breakdown_table(b: TableBinding) -> rx.Component:
    def head(label: str, sort: str) -> rx.Component:
        return rx.table.column_header_cell(
            rx.button(label, on_click=b.sort(sort), variant="ghost", size="1")
        )

    def row(r: ObjectVar[TableRow]) -> rx.Component:
        key_cell = rx.cond(
            b.by == "conversation",
            rx.link(r.key, href="/c/" + r.key.to(str)),
            rx.button(
                r.key,
                on_click=b.filter_to(b.by, r.key),
                variant="ghost",
                size="1",
                aria_label="Show the calls of " + r.key.to(str),
            ),
        )
        return rx.table.row(
            rx.table.row_header_cell(key_cell),
            rx.table.cell(r.cost),
            rx.table.cell(r.requests),
            rx.table.cell(r.calls),
            rx.table.cell(r.tokens),
            rx.table.cell(r.errors),
        )

    tabs = rx.hstack(
        *[
            rx.button(
                t.title(),
                on_click=b.show(t),
                variant=rx.cond(b.by == t, "solid", "soft"),
                size="1",
                aria_pressed=b.by == t,
            )
            for t in ("user", "project", "model", "conversation")
        ],
        spacing="1",
    )
    return rx.card(
        rx.hstack(
            rx.heading("Breakdown", as_="h2", size="3"), tabs, justify="between", width="100%"
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    head("Name", "key"),
                    head("Cost", "cost"),
                    head("Requests", "requests"),
                    head("Calls", "calls"),
                    head("Tokens", "tokens"),
                    head("Errors", "errors"),
                )
            ),
            rx.table.body(rx.foreach(b.rows, row)),
            size="1",
            width="100%",
        ),
        _pager(b.page, b.count, 20, b.to_page, "rows"),
        width="100%",
    )


@dataclass(frozen=True)
class CallsBinding:
    rows: ArrayVar[Any]
    count: NumberVar[Any]
    page: NumberVar[Any]
    to_page: Callable[..., Any]
    open_call: Callable[..., Any]  # (call id)
    export_href: rx.Var[str]


def call_log(b: CallsBinding) -> rx.Component:
    def row(c: ObjectVar[CallRowView]) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(
                rx.button(
                    c.at,
                    on_click=b.open_call(c.id),
                    variant="ghost",
                    size="1",
                    aria_label="Open call " + c.id.to(str),
                )
            ),
            rx.table.cell(c.user),
            rx.table.cell(c.model),
            rx.table.cell(c.feature),
            rx.table.cell(c.status),
            rx.table.cell(c.tokens),
            rx.table.cell(c.cost),
            rx.table.cell(c.latency),
        )

    headers = ("Time", "User", "Model", "Feature", "Status", "Tokens in / out", "Cost", "Latency")
    return rx.card(
        rx.hstack(
            rx.heading("Call log", as_="h2", size="3"),
            # The export is a backend route, not a page of the app's router: rx.el.a is React
            # Router's Link, which would route the click to the app's 404 page; a document
            # navigation lets the browser download the file.
            rx.el.a(
                "Download CSV",
                href=b.export_href,
                download="parley-usage-calls.csv",
                reload_document=True,
                color=rx.color("accent", 11),
            ),
            justify="between",
            width="100%",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(b.rows, row)),
            size="1",
            width="100%",
        ),
        _pager(b.page, b.count, 25, b.to_page, "calls"),
        width="100%",
    )


def call_detail(attempts: ArrayVar[Any], on_close: Handler) -> rx.Component:
    def attempt(a: ObjectVar[dict[str, str]]) -> rx.Component:
        return rx.el.dl(
            *[
                rx.fragment(
                    rx.el.dt(label, font_weight="bold", font_size="0.85em"),
                    rx.el.dd(a[key], margin="0 0 0.3em 0", font_size="0.85em"),
                )
                for label, key in DETAIL_FIELDS
            ],
            display="grid",
            grid_template_columns="auto 1fr",
            column_gap="1em",
            border_top=f"1px solid {rx.color('gray', 6)}",
            padding_top="0.5em",
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Call details"),
            rx.dialog.description(
                "Every attempt of this request, oldest first (the failover chain).", size="2"
            ),
            rx.foreach(attempts, attempt),
            rx.dialog.close(rx.button("Close", on_click=on_close, variant="soft")),
            max_width="640px",
        ),
        open=attempts.length() > 0,  # type: ignore[attr-defined]
    )
