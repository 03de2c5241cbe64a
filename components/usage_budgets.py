"""The usage page's budget bars (spend this month against each budget, with the month-end
projection at the current pace) and its alerts (a badge with the count, and the newest list).
Pure view functions: they take vars, never a State.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from app.services.alerts import AlertView, BudgetBar


def budget_bar(b: ObjectVar[BudgetBar]) -> rx.Component:
    label = b.scope.to(str) + " " + b.subject.to(str)
    return rx.box(
        rx.hstack(
            rx.text(label, " · ", rx.cond(b.unit == "usd", "cost", "tokens"), weight="medium"),
            rx.text(b.spent, " of ", b.limit, size="2"),
            justify="between",
            width="100%",
        ),
        rx.progress(
            value=b.percent,
            max=100,
            color_scheme=rx.cond(b.over, "red", "grass"),
            aria_label=label + " budget used",
        ),
        rx.text(
            "At this pace ",
            b.projected,
            " by month end (",
            b.projected_percent,
            "%)",
            size="1",
            color=rx.cond(b.over, rx.color("red", 11), rx.color("gray", 11)),
        ),
        width="100%",
        role="group",
        aria_label=label + " budget",
    )


def budget_bars(bars: ArrayVar[Any]) -> rx.Component:
    return rx.cond(
        bars.length() > 0,
        rx.card(
            rx.heading("Budgets this month", as_="h2", size="3"),
            rx.vstack(rx.foreach(bars, budget_bar), spacing="3", width="100%"),
            width="100%",
        ),
    )


def alert_item(a: ObjectVar[AlertView]) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.badge(a.kind, color_scheme=rx.cond(a.kind == "spike", "orange", "red")),
            rx.text(a.message, size="2"),
            rx.text(a.at, size="1", color=rx.color("gray", 10)),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
    )


def alerts_panel(alerts: ArrayVar[Any]) -> rx.Component:
    return rx.cond(
        alerts.length() > 0,
        rx.card(
            rx.hstack(
                rx.heading("Alerts", as_="h2", size="3"),
                rx.badge(alerts.length(), color_scheme="red", aria_label="Alerts"),
                spacing="2",
                align="center",
            ),
            rx.el.ul(rx.foreach(alerts, alert_item), style={"paddingLeft": "1em"}),
            role="region",
            aria_label="Alerts",
            width="100%",
        ),
    )
