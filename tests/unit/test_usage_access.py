"""Who sees whose usage: an admin everything, a member their own calls and their projects',
another user none of those, nobody nothing. Through the CSV route (session cookie) and the
page's state (the websocket's cookie header)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import crud
from app.db.models import CallLog, Role
from app.db.session import session_scope
from app.services import accounts as accounts_module
from app.services import usage as usage_service
from app.services.accounts import SESSION_COOKIE, AccountService
from app.web.usage_export import session_scope as cookie_scope
from app.web.usage_export import usage_export_app
from state.usage import SIGN_IN, UsageState
from tests.unit.test_accounts import FAST, PASSWORD

AT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
DAY = AT.date().isoformat()


@dataclass
class World:
    engine: Engine
    tokens: dict[str, str]  # name -> session token
    calls: dict[str, set[str]]  # name -> the conversation ids of the calls they may see


def _call(user: str, project: str, conversation: str) -> CallLog:
    return CallLog(
        user_id=user, project_id=project, conversation_id=conversation, provider="openai",
        model="gpt-5", provider_model="gpt-5", status="ok", input_tokens=10, output_tokens=5,
        cost=Decimal("0.01"), created_at=AT,
    )  # fmt: skip


@pytest.fixture
async def world(engine: Engine) -> World:
    accounts = AccountService(
        engine, signup_mode="open", session_lifetime=timedelta(hours=1), hasher=FAST
    )
    ada = await accounts.sign_up("ada@example.com", PASSWORD)  # first: the admin
    bob = await accounts.sign_up("bob@example.com", PASSWORD)
    eve = await accounts.sign_up("eve@example.com", PASSWORD)
    p = {n: await accounts.resolve(t.token) for n, t in (("ada", ada), ("bob", bob), ("eve", eve))}
    ada_p, bob_p, eve_p = p["ada"], p["bob"], p["eve"]
    assert ada_p and bob_p and eve_p
    shared = next(iter(ada_p.roles))  # Ada's project; Bob becomes a member of it
    await accounts.set_role(ada_p, project_id=shared, user_id=bob_p.user_id, role=Role.member)
    bob_own, eve_own = next(iter(bob_p.roles)), next(iter(eve_p.roles))
    with session_scope(engine) as s:
        for call in (
            _call(ada_p.user_id, shared, "ada-shared"),  # Bob sees it: his project
            _call(bob_p.user_id, bob_own, "bob-own"),
            _call(eve_p.user_id, eve_own, "eve-own"),
            _call(ada_p.user_id, eve_own, "ada-in-eve"),  # Eve's project: Eve sees it
        ):
            crud.add_call_log(session=s, call=call)
    accounts_module._service = accounts
    usage_service._service = usage_service.UsageService(engine)
    everything = {"ada-shared", "bob-own", "eve-own", "ada-in-eve"}
    return World(
        engine,
        {"ada": ada.token, "bob": bob.token, "eve": eve.token},
        {
            "ada": everything,
            "bob": {"ada-shared", "bob-own"},
            "eve": {"eve-own", "ada-in-eve"},
        },
    )


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    accounts_module._service = None
    usage_service._service = None


def _conversations(text: str) -> set[str]:
    return {r["conversation_id"] for r in csv.DictReader(io.StringIO(text))}


@pytest.mark.parametrize("who", ["ada", "bob", "eve", None])
def test_the_csv_route_exports_only_what_the_session_may_see(world: World, who: str | None) -> None:
    client = TestClient(usage_export_app(lambda: world.engine, cookie_scope))
    if who is not None:
        client.cookies.set(SESSION_COOKIE, world.tokens[who])
    response = client.get(f"/_parley/usage/export/calls.csv?from={DAY}&to={DAY}")
    if who is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert _conversations(response.text) == world.calls[who]
    table = client.get(f"/_parley/usage/export/conversation.csv?from={DAY}&to={DAY}")
    assert {r["key"] for r in csv.DictReader(io.StringIO(table.text))} == world.calls[who]


def test_a_forged_cookie_is_nobody(world: World) -> None:
    client = TestClient(usage_export_app(lambda: world.engine, cookie_scope))
    client.cookies.set(SESSION_COOKIE, "x" * 43)
    assert client.get(f"/_parley/usage/export/calls.csv?from={DAY}").status_code == 403


def _state(cookie: str) -> UsageState:
    root = State(_reflex_internal_init=True)  # pyright: ignore[reportCallIssue]
    root.router = RouterData.from_router_data(
        {
            "pathname": "/usage",
            "asPath": f"/usage?from={DAY}&to={DAY}",
            "query": {},
            "headers": {"cookie": cookie},
            "token": "t",
        }
    )
    return root.get_substate(UsageState.get_full_name().split(".")[1:])  # type: ignore[no-any-return]


@pytest.mark.parametrize("who", ["ada", "bob", "eve", None])
async def test_the_page_state_shows_only_what_the_session_may_see(
    world: World, who: str | None
) -> None:
    cookie = "" if who is None else f"{SESSION_COOKIE}={world.tokens[who]}"
    usage = _state(cookie)
    await UsageState.load.fn(usage)  # pyright: ignore[reportFunctionMemberAccess]
    if who is None:
        assert usage.error == SIGN_IN and usage.calls == [] and usage.figures == []
        await UsageState.open_call.fn(usage, 1)  # pyright: ignore[reportFunctionMemberAccess]
        assert usage.detail == []
        return
    assert usage.error == ""
    await UsageState.show_table.fn(usage, "conversation")  # pyright: ignore[reportFunctionMemberAccess]
    assert {r.key for r in usage.table_rows} == world.calls[who]
    assert len(usage.calls) == len(world.calls[who])
    with session_scope(world.engine) as s:
        hidden = [
            c.id
            for c in crud.list_call_logs(session=s)
            if c.id is not None and c.conversation_id not in world.calls[who]
        ]
    for call_id in hidden:  # another's call opens as nothing
        await UsageState.open_call.fn(usage, call_id)  # pyright: ignore[reportFunctionMemberAccess]
        assert usage.detail == []
