"""Pure views for the /data and /keys pages: export links, the import drop zone, the API key
form and list. They take vars and handlers, never a State."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx

Handler = Any  # an event handler or spec, bound by the page


def notices(error: rx.Var[str], notice: rx.Var[str]) -> rx.Component:
    return rx.fragment(
        rx.cond(
            error != "", rx.callout(error, icon="triangle_alert", color_scheme="red", role="alert")
        ),
        rx.text(notice, role="status", aria_live="polite", size="2"),
    )


def export_list(exports: rx.Var[Sequence[dict[str, str]]], origin: rx.Var[str]) -> rx.Component:
    """One row per scope: a JSON download (every branch) and a Markdown one (on screen)."""
    return rx.el.ul(
        rx.foreach(
            exports,
            lambda item: rx.el.li(
                rx.hstack(
                    rx.text(item["label"]),
                    # Backend routes, not the app's pages: a document navigation (React
                    # Router's Link would route the click to the app's 404 page).
                    rx.link("JSON", href=origin + item["json"], reload_document=True),
                    rx.link("Markdown", href=origin + item["md"], reload_document=True),
                    spacing="3",
                )
            ),
        ),
        aria_label="Exports",
    )


def import_zone(
    upload_id: str,
    on_import: Handler,
    uploaded: rx.Var[int],
    progress: rx.Var[str],
    busy: rx.Var[bool],
) -> rx.Component:
    """Pick or drop one export file; its upload and import progress are announced."""
    return rx.vstack(
        rx.upload.root(
            rx.vstack(
                rx.button("Choose a file to import", type="button", disabled=busy),
                rx.text("or drop it here (.json: Parley, ChatGPT or Claude)", size="2"),
                align="center",
            ),
            id=upload_id,
            multiple=False,
            accept={"application/json": [".json"]},
            on_drop=on_import,
            border="1px dashed var(--gray-7)",
            padding="1.5em",
            width="100%",
        ),
        rx.cond(uploaded.to(int) > 0, rx.progress(value=uploaded, max=100, aria_label="Upload")),
        rx.text(progress, role="status", aria_live="polite"),
        width="100%",
    )


@dataclass(frozen=True)
class KeyActions:
    create: Handler
    revoke: Handler  # called with the key's id
    dismiss: Handler


def key_form(new_token: rx.Var[str], actions: KeyActions) -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.vstack(
                rx.el.label(
                    "Name", rx.input(name="name", required=True, max_length=100), width="100%"
                ),
                rx.el.label(
                    "Expires (optional)", rx.input(name="expires", type="date"), width="100%"
                ),
                rx.el.label(
                    "Models (optional, comma-separated; empty: all)",
                    rx.input(name="models", placeholder="e.g. claude-sonnet-4, gpt-4o"),
                    width="100%",
                ),
                rx.button("Create key", type="submit"),
                align="start",
            ),
            on_submit=actions.create,
            reset_on_submit=True,
        ),
        rx.cond(
            new_token != "",
            rx.callout(
                rx.vstack(
                    rx.text("Your new key (shown once):"),
                    rx.code(new_token, aria_label="New API key"),
                    rx.button("I have copied it", on_click=actions.dismiss, size="1"),
                ),
                icon="key",
                color_scheme="green",
            ),
        ),
        width="100%",
    )


def key_table(
    rows: rx.Var[Sequence[dict[str, str]]], is_admin: rx.Var[bool], actions: KeyActions
) -> rx.Component:
    header = ["Name", "Key", "Models", "Created", "Expires", "Last used", "Status", ""]
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.cond(is_admin, rx.table.column_header_cell("Owner")),
                *[rx.table.column_header_cell(h) for h in header],
            )
        ),
        rx.table.body(
            rx.foreach(
                rows,
                lambda row: rx.table.row(
                    rx.cond(is_admin, rx.table.cell(row["owner"])),
                    rx.table.cell(row["name"]),
                    rx.table.cell(rx.code(row["prefix"])),
                    rx.table.cell(row["models"]),
                    rx.table.cell(row["created"]),
                    rx.table.cell(row["expires"]),
                    rx.table.cell(row["last_used"]),
                    rx.table.cell(row["status"]),
                    rx.table.cell(
                        rx.cond(
                            row["status"] == "live",
                            rx.button(
                                "Revoke",
                                color_scheme="red",
                                size="1",
                                aria_label="Revoke " + row["name"],
                                on_click=actions.revoke(row["id"]),
                            ),
                        )
                    ),
                ),
            )
        ),
        aria_label="API keys",
        width="100%",
    )
