"""The /data page (export and import) and the /keys page (API keys), bound to their states."""

from __future__ import annotations

import reflex as rx

from components.pages.auth import _BACKEND_ORIGIN  # pyright: ignore[reportPrivateUsage]
from components.shell import shell_style
from components.transfer import KeyActions, export_list, import_zone, key_form, key_table, notices
from state.keys import KeysState
from state.transfer import UPLOAD_ID, TransferState


def _page(title: str, *body: rx.Component) -> rx.Component:
    return rx.el.main(
        shell_style(),
        rx.vstack(
            rx.hstack(
                rx.heading(title, as_="h1", size="6"),
                rx.link("Back to chat", href="/"),
                justify="between",
                align="center",
                width="100%",
            ),
            *body,
            spacing="4",
            max_width="60em",
            margin="0 auto",
            padding="2em 1em",
        ),
    )


def data_page() -> rx.Component:
    return _page(
        "Your data",
        rx.heading("Export", as_="h2", size="4"),
        rx.text(
            "JSON holds every message of every branch; Markdown the branch on screen.", size="2"
        ),
        export_list(TransferState.exports, _BACKEND_ORIGIN),
        rx.heading("Import", as_="h2", size="4"),
        notices(TransferState.error, rx.Var.create("")),
        import_zone(
            UPLOAD_ID,
            TransferState.receive(
                rx.upload_files(
                    upload_id=UPLOAD_ID, on_upload_progress=TransferState.upload_progress
                )
            ),
            TransferState.uploaded,
            TransferState.progress,
            TransferState.busy,
        ),
    )


def keys_page() -> rx.Component:
    actions = KeyActions(
        create=KeysState.create, revoke=KeysState.revoke, dismiss=KeysState.dismiss_token
    )
    return _page(
        "API keys",
        rx.text(
            "Keys call the OpenAI- and Anthropic-compatible API at /v1 as you, in your project.",
            size="2",
        ),
        notices(KeysState.error, KeysState.notice),
        key_form(KeysState.new_token, actions),
        key_table(KeysState.rows, KeysState.is_admin, actions),
    )
