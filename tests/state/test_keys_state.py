"""KeysState: a key shown once, listed with its last use, revoked by its holder or an admin,
never by another user or nobody; the cookie arrives in the websocket handshake's headers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from app.services.accounts import SESSION_COOKIE
from state.keys import KeysState
from tests.state.test_auth_state import accounts, auth_state, redirect_target
from tests.unit.test_accounts import PASSWORD

__all__ = ["accounts"]


def keys_state(token: str = "") -> KeysState:
    state = KeysState()  # pyright: ignore[reportCallIssue]
    state.router = auth_state("/keys", f"{SESSION_COOKIE}={token}" if token else "").router
    return state


async def test_keys_are_shown_once_and_revoked_only_by_holder_or_admin(
    accounts: Any, engine: Engine
) -> None:
    admin = await accounts.sign_up("root@example.com", PASSWORD)
    ada = await accounts.sign_up("ada@example.com", PASSWORD)
    bob = await accounts.sign_up("bob@example.com", PASSWORD)

    nobody = keys_state()
    assert redirect_target(await KeysState.load.fn(nobody)) == "/login?next=/keys"
    await KeysState.create.fn(nobody, {"name": "sneaky"})
    assert nobody.new_token == "" and nobody.error

    mine = keys_state(ada.token)
    assert await KeysState.load.fn(mine) is None and mine.rows == []
    await KeysState.create.fn(mine, {"name": "notebook", "expires": "2999-01-01", "models": "m-1"})
    assert mine.new_token.startswith("pk-") and mine.error == ""
    (row,) = mine.rows
    assert (row["name"], row["models"], row["last_used"], row["status"]) == (
        "notebook",
        "m-1",
        "never",
        "live",
    )
    assert mine.new_token not in str(mine.rows) and row["prefix"].startswith(mine.new_token[:10])
    await KeysState.load.fn(mine)
    assert mine.new_token == ""  # shown once
    await KeysState.create.fn(mine, {"name": "x", "expires": "tomorrow"})
    assert mine.error == "Give the expiry as a date (YYYY-MM-DD)."

    theirs = keys_state(bob.token)
    await KeysState.load.fn(theirs)
    assert theirs.rows == [] and not theirs.is_admin
    await KeysState.revoke.fn(theirs, row["id"])
    assert theirs.error == "That key does not exist."
    await KeysState.load.fn(mine)
    assert mine.rows[0]["status"] == "live"

    boss = keys_state(admin.token)
    await KeysState.load.fn(boss)
    assert boss.is_admin and [r["id"] for r in boss.rows] == [row["id"]]
    await KeysState.revoke.fn(boss, row["id"])
    assert boss.error == "" and boss.rows[0]["status"] == "revoked"
