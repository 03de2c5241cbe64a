"""Agent mode's views: the switch, and each step of a run as a collapsible block (the tool,
its arguments, its result or error, its duration). Native ``<details>``: keyboard- and
screen-reader-friendly, collapsed by a click on its summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from app.services.agent_chat import StepView


def agent_switch(on: rx.Var[bool], on_change: Any) -> rx.Component:
    """The conversation's agent mode: a switch labelled "Agent mode"."""
    return rx.el.label(
        rx.switch(checked=on, on_change=on_change, size="1", aria_label="Agent mode"),
        rx.text("Agent", size="2"),
        display="flex",
        align_items="center",
        gap="0.35em",
        class_name="agent-switch",
    )


def _status(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        rx.cond(status == "running", "running…", status),
        size="1",
        class_name="agent-step-status",
    )


def _block(label: str, text: rx.Var[str]) -> rx.Component:
    return rx.box(
        rx.text(label, size="1", weight="bold", color=rx.color("gray", 11)),
        rx.el.pre(
            text,
            white_space="pre-wrap",
            word_break="break-word",
            font_size="0.8em",
            margin="0",
            padding="0.4em 0.6em",
            border_radius="6px",
            background=rx.color("gray", 3),
            max_height="16em",
            overflow="auto",
        ),
        margin_top="0.35em",
    )


def step_block(step: ObjectVar[StepView]) -> rx.Component:
    """One step: its summary line (step number, tool, status, duration) opens its details."""
    return rx.el.details(
        rx.el.summary(
            rx.text("Step ", step.index.to_string(), ": ", rx.code(step.tool), as_="span"),
            _status(step.status),
            rx.text(step.duration, size="1", color=rx.color("gray", 11), as_="span"),
            display="flex",
            align_items="center",
            gap="0.5em",
            cursor="pointer",
        ),
        _block("Arguments", step.arguments),
        rx.cond(step.status == "running", rx.fragment(), _block("Result", step.result)),
        class_name="agent-step",
        custom_attrs={"data-status": step.status},
        open=True,
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        padding="0.35em 0.6em",
        margin_y="0.3em",
        font_size="0.9em",
    )


def steps_of(message_id: rx.Var[int], steps: rx.Var[Sequence[StepView]]) -> rx.Component:
    """The steps that led to reply ``message_id``."""
    return rx.foreach(steps, lambda step: rx.cond(step.message_id == message_id, step_block(step)))


def live_steps(steps: rx.Var[Sequence[StepView]]) -> rx.Component:
    """The running turn's steps, as they start and finish."""
    return rx.box(rx.foreach(steps, step_block), class_name="agent-live-steps")
