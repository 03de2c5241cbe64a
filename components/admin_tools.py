"""The admin page's per-project choice of MCP servers and tools: one checkbox for each
configured server (every tool it offers) and one for each tool it lists, for the project
whose members are shown; a server that is down is marked so, with its reason. Pure view: the
page passes the state's vars and handlers in."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from app.services.project_tools import ToolChoiceView


def _row(row: ObjectVar[ToolChoiceView], set_tool: Any, project_name: rx.Var[str]) -> rx.Component:
    return rx.el.li(
        rx.el.label(
            rx.checkbox(
                checked=row.allowed,
                on_change=lambda on: set_tool(row.entry, on),
                aria_label=f"Allow {row.label} in {project_name}",
            ),
            rx.text(rx.cond(row.tool == "", rx.code(row.label), row.label), size="2", as_="span"),
            rx.cond(
                row.reachable,
                rx.fragment(),
                rx.fragment(
                    rx.badge("down", color_scheme="red", size="1"),
                    rx.text(row.reason, size="1", color_scheme="red", as_="span"),
                ),
            ),
            display="flex",
            align_items="center",
            gap="0.5em",
        ),
        margin_left=rx.cond(row.tool == "", "0", "1.5em"),
        list_style="none",
    )


def project_tools(
    rows: ArrayVar[Any], project_name: rx.Var[str], set_tool: Any, allow_all: Any
) -> rx.Component:
    """The open project's MCP servers and tools; nothing when no server is configured."""
    return rx.cond(
        rows.length() > 0,
        rx.box(
            rx.heading(f"MCP tools of {project_name}", as_="h3", size="3", id="mcp-tools"),
            rx.text(
                "What this project's agent runs may use. A server that is down keeps its choice.",
                size="1",
            ),
            rx.el.ul(rx.foreach(rows, lambda r: _row(r, set_tool, project_name)), padding="0"),
            rx.button("Allow every server", on_click=allow_all, size="1", variant="soft"),
            aria_labelledby="mcp-tools",
            display="flex",
            flex_direction="column",
            gap="0.4em",
        ),
    )
