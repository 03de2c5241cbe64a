"""The token-spend dashboard, at ``/usage``."""

from __future__ import annotations

import reflex as rx

from components.shell import shell_style
from components.usage import (
    CallsBinding,
    FilterBinding,
    TableBinding,
    breakdown_table,
    call_detail,
    call_log,
    filters_bar,
    headline,
)
from components.usage_budgets import alerts_panel, budget_bars
from components.usage_charts import (
    burn_down_chart,
    cost_by_day_chart,
    feature_chart,
    latency_chart,
    tokens_chart,
)
from state.usage import UsageState


def usage_page() -> rx.Component:
    s = UsageState
    return rx.el.main(
        shell_style(),
        rx.vstack(
            rx.hstack(
                rx.heading("Usage", as_="h1", size="6"),
                rx.link("Back to chat", href="/"),
                justify="between",
                align="center",
                width="100%",
            ),
            filters_bar(FilterBinding(s.first, s.last, s.tz, s.filters, s.options, s.set_filter)),
            rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", role="alert")),
            alerts_panel(s.alerts),
            headline(s.figures),
            budget_bars(s.budget_bars),
            cost_by_day_chart(s.cost_by_day, s.series),
            rx.grid(
                tokens_chart(s.tokens_by_day),
                feature_chart(s.cost_by_feature),
                latency_chart(s.latency_by_day),
                burn_down_chart(s.burn_down, s.projection),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
            breakdown_table(
                TableBinding(
                    s.table_by,
                    s.table_rows,
                    s.table_count,
                    s.table_page,
                    s.show_table,
                    s.sort_table,
                    s.table_to,
                    s.set_filter,
                )
            ),
            call_log(
                CallsBinding(
                    s.calls,
                    s.calls_count,
                    s.calls_page,
                    s.calls_to,
                    s.open_call,
                    "/_parley/usage/export/calls.csv?" + s.query_string,
                )
            ),
            call_detail(s.detail, s.close_call),
            spacing="4",
            width="100%",
            max_width="1200px",
            margin="0 auto",
            padding="1.5em",
        ),
    )
