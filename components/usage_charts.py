"""The usage dashboard's charts: ``rx.recharts`` in the theme's colours (the accent and its
neighbours, as ``var(--…)``), drawn from the few points the state holds (one per day), never
from raw rows. Pure view functions: they take vars, never a State."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar
from reflex_base.constants.colors import ColorType

PALETTE: tuple[ColorType, ...] = ("accent", "cyan", "amber", "crimson", "grass", "violet", "gray")
TOKEN_SERIES: tuple[tuple[str, ColorType], ...] = (
    ("input", "accent"),
    ("output", "cyan"),
    ("cache", "amber"),
)
LATENCY_SERIES: tuple[tuple[str, str, ColorType], ...] = (
    ("p50", "Latency p50", "accent"),
    ("p95", "Latency p95", "crimson"),
    ("ttft_p50", "TTFT p50", "cyan"),
    ("ttft_p95", "TTFT p95", "amber"),
)


def _chart_box(title: str, chart: rx.Component, note: rx.Component | None = None) -> rx.Component:
    return rx.card(
        rx.heading(title, as_="h2", size="3"),
        *([note] if note is not None else []),
        chart,
        width="100%",
    )


def _axes(key: str = "day") -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke=rx.color("gray", 5)),
        rx.recharts.x_axis(data_key=key, stroke=rx.color("gray", 9), font_size=11),
        rx.recharts.y_axis(stroke=rx.color("gray", 9), font_size=11, width=60),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]


def cost_by_day_chart(data: ArrayVar[Any], series: ArrayVar[Any]) -> rx.Component:
    # Seven bars always (the top six models and "other"); those without a model in
    # ``series`` (fewer models, or one filtered) are hidden, legend included, or the legend
    # would name them by their keys (s1, s2...).
    bars = [
        rx.recharts.bar(
            data_key=key,
            name=series[i].to(str),
            stack_id="cost",
            fill=rx.color(PALETTE[i], 9),
            hide=series.length() <= i,
            legend_type=rx.cond(series.length() > i, "rect", "none"),
        )
        for i, key in enumerate(("s0", "s1", "s2", "s3", "s4", "s5", "other"))
    ]
    return _chart_box(
        "Cost per day by model (US$)",
        rx.recharts.bar_chart(*bars, *_axes(), data=data, height=260, width="100%"),
    )


def tokens_chart(data: ArrayVar[Any]) -> rx.Component:
    areas = [
        rx.recharts.area(
            data_key=k, name=k.title(), stack_id="t", stroke=rx.color(c, 9), fill=rx.color(c, 6)
        )
        for k, c in TOKEN_SERIES
    ]
    return _chart_box(
        "Tokens per day",
        rx.recharts.area_chart(*areas, *_axes(), data=data, height=220, width="100%"),
    )


def feature_chart(data: ArrayVar[Any]) -> rx.Component:
    return _chart_box(
        "Cost by feature (US$)",
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="cost", name="Cost", fill=rx.color("accent", 9)),
            *_axes("feature"),
            data=data,
            height=220,
            width="100%",
        ),
    )


def latency_chart(data: ArrayVar[Any]) -> rx.Component:
    lines = [
        rx.recharts.line(data_key=k, name=n, stroke=rx.color(c, 9), dot=False)
        for k, n, c in LATENCY_SERIES
    ]
    return _chart_box(
        "Latency percentiles per day (ms)",
        rx.recharts.line_chart(*lines, *_axes(), data=data, height=220, width="100%"),
    )


def burn_down_chart(data: ArrayVar[Any], projection: rx.Var[str]) -> rx.Component:
    return _chart_box(
        "Budget burn-down, this month (US$, UTC)",
        rx.recharts.line_chart(
            rx.recharts.line(
                data_key="spent", name="Spent", stroke=rx.color("accent", 9), dot=False
            ),
            rx.recharts.line(
                data_key="projected",
                name="At this pace",
                stroke=rx.color("gray", 9),
                stroke_dasharray="4 4",
                dot=False,
            ),
            rx.recharts.line(
                data_key="budget", name="Budget", stroke=rx.color("crimson", 9), dot=False
            ),
            *_axes(),
            data=data,
            height=220,
            width="100%",
        ),
        rx.text(projection, size="2", color=rx.color("gray", 11)),
    )
