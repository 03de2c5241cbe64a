"""The account pages: /login, /signup and /account (change password, log out).

Plain HTML forms that post to the account routes (``app/web/auth_routes.py``), so the
session cookie is set by an HTTP response and no script ever holds it. Every field has a
visible label; errors are announced (role="alert"), notices politely (role="status").
"""

from __future__ import annotations

from typing import Literal

import reflex as rx
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import VarData
from reflex_components_core.el.elements.base import BaseHTML

from components.shell import shell_style
from state.auth import AuthState

# Where the backend is: the same origin in production, another port under `reflex run`.
_BACKEND_ORIGIN = rx.Var(
    _js_expr="getBackendURL(env.UPLOAD).origin",
    _var_data=VarData(
        imports={
            "$/utils/state": "getBackendURL",
            "$/env.json": ImportVar(tag="env", is_default=True),
        }
    ),
).to(str)


class PostForm(BaseHTML):
    """A plain ``<form method="post">`` the browser submits itself (``rx.el.form`` would
    prevent the default and send an event instead)."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


def _route(path: str) -> rx.Var[str]:
    return rx.Var.create(f"{_BACKEND_ORIGIN}/_parley/auth/{path}").to(str)


InputKind = Literal["text", "email", "password"]


def _field(
    label: str, name: str, kind: InputKind = "text", *, autocomplete: str, required: bool = True
) -> rx.Component:
    field_id = f"auth-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500"),
        rx.el.input(
            id=field_id,
            name=name,
            type=kind,
            required=required,
            auto_complete=autocomplete,
            max_length=1024,
            style={
                "padding": "0.5em",
                "width": "100%",
                "border": "1px solid var(--gray-8)",
                "border_radius": "var(--radius-2)",
            },
        ),
        spacing="1",
        width="100%",
    )


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AuthState.error != "",
            rx.callout(AuthState.error, color_scheme="red", role="alert", width="100%"),
        ),
        rx.text(AuthState.notice, role="status", aria_live="polite", size="2"),
    )


def _frame(title: str, *children: rx.Component) -> rx.Component:
    return rx.el.main(
        shell_style(),
        rx.vstack(
            rx.heading(title, as_="h1", size="6"),
            _messages(),
            *children,
            spacing="4",
            width="100%",
            max_width="420px",
            margin="0 auto",
            padding="2em 1.5em",
        ),
    )


def _form(action: str, button: str, *fields: rx.Component) -> rx.Component:
    return PostForm.create(
        rx.vstack(
            *fields,
            rx.el.input(type="hidden", name="next", value=AuthState.next_path),
            rx.button(button, type="submit", width="100%"),
            spacing="3",
            width="100%",
        ),
        action=_route(action),
        method="post",
        width="100%",
    )


def _oidc_link() -> rx.Component:
    return rx.cond(
        AuthState.oidc_label != "",
        rx.link(
            AuthState.oidc_label,
            href=rx.Var.create(
                f"{_BACKEND_ORIGIN}/_parley/auth/oidc/start?next={AuthState.next_path}"
            ).to(str),
            reload_document=True,  # a backend route, not a page of the app's router
        ),
    )


def login_page() -> rx.Component:
    return _frame(
        "Log in to Parley",
        _form(
            "login",
            "Log in",
            _field("Email", "email", "email", autocomplete="username"),
            _field("Password", "password", "password", autocomplete="current-password"),
        ),
        _oidc_link(),
        rx.text("No account yet? ", rx.link("Sign up", href="/signup"), size="2"),
    )


def signup_page() -> rx.Component:
    return _frame(
        "Create a Parley account",
        _form(
            "signup",
            "Sign up",
            _field("Email", "email", "email", autocomplete="username"),
            _field("Name", "display_name", autocomplete="name", required=False),
            _field("Password", "password", "password", autocomplete="new-password"),
            _field("Repeat password", "confirm", "password", autocomplete="new-password"),
            _field("Invitation code", "invite", autocomplete="off", required=False),
        ),
        _oidc_link(),
        rx.text("Have an account? ", rx.link("Log in", href="/login"), size="2"),
    )


def account_page() -> rx.Component:
    return _frame(
        "Your account",
        rx.text("Signed in as ", rx.text.strong(AuthState.email), size="2"),
        rx.heading("Change password", as_="h2", size="4"),
        PostForm.create(
            rx.vstack(
                _field("Current password", "current", "password", autocomplete="current-password"),
                _field("New password", "new", "password", autocomplete="new-password"),
                _field("Repeat new password", "confirm", "password", autocomplete="new-password"),
                rx.button("Change password", type="submit", width="100%"),
                spacing="3",
                width="100%",
            ),
            action=_route("password"),
            method="post",
            width="100%",
        ),
        PostForm.create(
            rx.button("Log out", type="submit", variant="soft", width="100%"),
            action=_route("logout"),
            method="post",
            width="100%",
        ),
        rx.link("Back to chat", href="/"),
    )
