"""AuthState: the on_load check that sends nobody to /login (and back afterwards), and the
account page's messages, with the cookie arriving as Reflex hands it over: in the websocket
handshake's headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from reflex.istate.data import RouterData
from reflex_base.event import EventSpec
from sqlalchemy import Engine

from app.services.accounts import SESSION_COOKIE, configure_accounts
from state.auth import AuthState
from tests.unit.test_accounts import PASSWORD, service


@pytest.fixture
def accounts(engine: Engine) -> Iterator[Any]:
    configured = service(engine)
    configure_accounts(configured)
    yield configured
    configure_accounts(None)


def auth_state(path: str, cookie: str = "", **query: str) -> AuthState:
    state = AuthState()  # pyright: ignore[reportCallIssue]
    state.router = RouterData.from_router_data(
        {
            "pathname": path.split("?")[0],
            "asPath": path,
            "query": query,
            "headers": {"origin": "http://localhost:3000", "cookie": cookie},
        }
    )
    return state


def redirect_target(result: object) -> str | None:
    if result is None:
        return None
    assert isinstance(result, EventSpec)
    return dict((str(k), str(v)) for k, v in result.args)["path"].strip('"')


async def test_nobody_is_sent_to_login_and_back(accounts: Any) -> None:
    state = auth_state("/c/abc")
    assert redirect_target(await AuthState.require_login.fn(state)) == "/login?next=/c/abc"
    forged = auth_state("/c/abc", f"{SESSION_COOKIE}={'x' * 43}")
    assert redirect_target(await AuthState.require_login.fn(forged)) == "/login?next=/c/abc"


async def test_a_signed_in_user_stays(accounts: Any) -> None:
    signed_in = await accounts.sign_up("ada@example.com", PASSWORD)
    state = auth_state("/c/abc", f"theme=dark; {SESSION_COOKIE}={signed_in.token}")
    assert await AuthState.require_login.fn(state) is None
    account = auth_state("/account", f"{SESSION_COOKIE}={signed_in.token}", done="password")
    assert await AuthState.load_account.fn(account) is None
    assert account.email == "ada@example.com" and account.notice.startswith("Password changed")
    await accounts.log_out(signed_in.token)
    assert redirect_target(await AuthState.require_login.fn(state)) == "/login?next=/c/abc"


def test_the_login_page_shows_only_known_messages(accounts: Any) -> None:
    state = auth_state("/login", error="signin", next="//evil.example")
    AuthState.load_form.fn(state)
    assert state.error == "That email and password do not match an account."
    assert state.next_path == "/"
    crafted = auth_state("/login", error="Your account is locked, call 555-0100")
    AuthState.load_form.fn(crafted)
    assert crafted.error == ""


def test_a_refused_sign_in_says_how_long_to_wait(accounts: Any) -> None:
    state = auth_state("/login", error="limited", retry="42")
    AuthState.load_form.fn(state)
    assert state.error == (
        "Too many failed sign-in attempts. For your account's safety, wait 42 s, then try again."
    )
    # A retry that is not a plain, sane number shows the message without one.
    for retry in ("42 s, or call 555-0100", "-1", "0", "99999999", "\uff14\uff12"):  # fullwidth 42
        crafted = auth_state("/login", error="limited", retry=retry)
        AuthState.load_form.fn(crafted)
        assert crafted.error.startswith("Too many failed sign-in attempts") and "s," not in (
            crafted.error
        ), retry
