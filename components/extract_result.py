"""Extraction's views: the actions that run an extractor on a message, and a result as a
card (label and value pairs) or a table (one row per item), with Copy as JSON and Copy as
CSV. A failed extraction is an alert that names the field the model got wrong."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from app.extract import EXTRACTORS
from app.services.extract_chat import ExtractionView, Pair


def extract_actions(
    message_id: rx.Var[int], on_extract: Callable[..., Any], running: rx.Var[bool]
) -> rx.Component:
    """One small button per registered extractor: "Extract sentiment", "Extract contacts"."""
    return rx.hstack(
        *(
            rx.button(
                f"Extract {name}",
                on_click=on_extract(message_id, name),
                size="1",
                variant="ghost",
                color_scheme="gray",
                type="button",
                disabled=running,
            )
            for name in EXTRACTORS
        ),
        spacing="2",
        class_name="extract-actions",
    )


def _copy(name: str, text: rx.Var[str]) -> rx.Component:
    return rx.button(
        rx.icon("copy", size=12), name, on_click=rx.set_clipboard(text), size="1",
        variant="soft", type="button",
    )  # fmt: skip


def _card(pairs: rx.Var[Sequence[Pair]]) -> rx.Component:
    return rx.data_list.root(
        rx.foreach(
            pairs,
            lambda pair: rx.data_list.item(
                rx.data_list.label(pair.label), rx.data_list.value(pair.value)
            ),
        ),
        size="1",
    )


def _table(view: ObjectVar[ExtractionView]) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(rx.foreach(view.columns, lambda c: rx.table.column_header_cell(c)))
        ),
        rx.table.body(
            rx.foreach(
                view.rows,
                lambda row: rx.table.row(rx.foreach(row, lambda v: rx.table.cell(v))),
            )
        ),
        size="1",
        variant="surface",
        aria_label=view.title,
    )


def extraction_card(view: ObjectVar[ExtractionView]) -> rx.Component:
    failed = view.kind == "error"
    return rx.card(
        rx.hstack(
            rx.text(view.title, weight="bold", size="2"),
            rx.spacer(),
            rx.cond(
                failed,
                rx.fragment(),
                rx.hstack(
                    _copy("Copy as JSON", view.json_text),
                    _copy("Copy as CSV", view.csv_text),
                    spacing="2",
                ),
            ),
            align="center",
            width="100%",
        ),
        rx.match(
            view.kind,
            ("table", _table(view)),
            ("card", _card(view.pairs)),
            rx.callout(view.error, icon="triangle-alert", color_scheme="red", role="alert"),
        ),
        class_name="extraction",
        custom_attrs={"data-extractor": view.extractor, "data-kind": view.kind},
        margin_top="0.5em",
        width="100%",
        overflow_x="auto",
    )


def extractions_of(
    message_id: rx.Var[int], extractions: rx.Var[Sequence[ExtractionView]]
) -> rx.Component:
    """The results extracted from message ``message_id``."""
    return rx.foreach(
        extractions,
        lambda view: rx.cond(view.message_id == message_id, extraction_card(view)),
    )
