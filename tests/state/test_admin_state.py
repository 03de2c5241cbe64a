"""AdminState as an admin, a non-admin and nobody, with the cookie arriving as Reflex hands
it over (the websocket handshake's headers): on_load sends the others away, and every event
they send (forged, with real ids) is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from reflex.istate.data import RouterData
from sqlalchemy import Engine

from app.agent.mcp import McpHub
from app.guards.store import DatabaseGuardStore
from app.services.accounts import SESSION_COOKIE, configure_accounts
from app.services.admin import AdminService, configure_admin
from app.services.project_tools import ProjectTools, configure_project_tools
from state.admin import AdminState
from tests.state.test_auth_state import redirect_target
from tests.unit.test_accounts import PASSWORD, service
from tests.unit.test_mcp_tools import STDIO


@pytest.fixture
def accounts(engine: Engine) -> Iterator[Any]:
    configured = service(engine)
    configure_accounts(configured)
    configure_admin(AdminService(configured, DatabaseGuardStore(engine)))
    # The real MCP server of the MCP tests, over stdio: the projects' choice of its tools.
    configure_project_tools(ProjectTools(engine, McpHub([STDIO])))
    yield configured
    configure_project_tools(None)
    configure_admin(None)
    configure_accounts(None)


def admin_state(token: str = "") -> AdminState:
    state = AdminState()  # pyright: ignore[reportCallIssue]
    state.router = RouterData.from_router_data(
        {
            "pathname": "/admin",
            "asPath": "/admin",
            "query": {},
            "headers": {"cookie": f"{SESSION_COOKIE}={token}" if token else ""},
        }
    )
    return state


async def test_an_admin_manages_users_projects_and_budgets(accounts: Any) -> None:
    root = await accounts.sign_up("root@example.com", PASSWORD, "Root")
    ada = await accounts.sign_up("ada@example.com", PASSWORD, "Ada")
    state = admin_state(root.token)
    assert await AdminState.load.fn(state) is None
    assert [u.email for u in state.users] == ["root@example.com", "ada@example.com"]
    assert state.me == root.user_id and state.project_id and state.members
    await AdminState.set_disabled.fn(state, ada.user_id, True)
    assert state.error == "" and [u.disabled for u in state.users] == [False, True]
    assert await accounts.resolve(ada.token) is None
    await AdminState.create_invitation.fn(state)
    assert len(state.invitation) >= 16 and "not shown again" in state.notice
    await AdminState.create_project.fn(state, {"name": "Lab", "owner_id": ada.user_id})
    assert state.project_name == "Lab" and [m.role for m in state.members] == ["owner"]
    await AdminState.add_member.fn(state, {"user_id": root.user_id, "role": "viewer"})
    assert sorted(m.role for m in state.members) == ["owner", "viewer"]
    await AdminState.set_role.fn(state, ada.user_id, "")
    assert "owner" in state.error and len(state.members) == 2  # a project keeps its owner
    await AdminState.set_moderation.fn(state, state.project_id, "log")
    assert {p.name: p.moderation for p in state.projects}["Lab"] == "log"
    await AdminState.save_budget.fn(
        state, {"scope": "user", "subject_id": ada.user_id, "cost": "5", "tokens": ""}
    )
    mine = {b.subject_id: b for b in state.budgets}[ada.user_id]
    assert mine.own and mine.cost_limit == "5" and mine.cost_percent == 0
    await AdminState.save_budget.fn(
        state, {"scope": "user", "subject_id": ada.user_id, "cost": "lots", "tokens": ""}
    )
    assert "dollars" in state.error
    await AdminState.show_log_page.fn(state, "x")  # pyright: ignore[reportArgumentType]
    assert state.log_page == 0 and state.flags == [] and not state.log_has_next


async def test_an_admin_chooses_the_mcp_tools_of_a_project(accounts: Any) -> None:
    root = await accounts.sign_up("root@example.com", PASSWORD, "Root")
    state = admin_state(root.token)
    await AdminState.load.fn(state)
    assert [(r.entry, r.allowed, r.reachable) for r in state.mcp_tools] == [
        ("lab", True, True),
        ("lab/add", True, True),
        ("lab/slow", True, True),
        ("lab/fail", True, True),
    ]
    await AdminState.set_mcp_tool.fn(state, "lab/slow", False)
    assert (state.error, state.notice) == ("", "MCP tools saved.")
    assert [r.entry for r in state.mcp_tools if r.allowed] == ["lab/add", "lab/fail"]
    await AdminState.set_mcp_tool.fn(state, "lab/nothing", True)
    assert "lists no tool 'nothing'" in state.error
    other = admin_state(root.token)  # what the database holds, read afresh
    await AdminState.load.fn(other)
    assert [r.entry for r in other.mcp_tools if r.allowed] == ["lab/add", "lab/fail"]
    await AdminState.allow_every_mcp_server.fn(state)
    assert all(r.allowed for r in state.mcp_tools)


@pytest.mark.parametrize("who", ["nobody", "user"])
async def test_others_are_sent_away_and_every_event_is_refused(accounts: Any, who: str) -> None:
    root = await accounts.sign_up("root@example.com", PASSWORD, "Root")
    ada = await accounts.sign_up("ada@example.com", PASSWORD, "Ada")
    ada_project = next(iter((await accounts.resolve(ada.token)).roles))
    state = admin_state(ada.token if who == "user" else "")
    target = redirect_target(await AdminState.load.fn(state))
    assert target == ("/" if who == "user" else "/login?next=/admin")
    state.project_id = ada_project  # as a forged frame could claim
    events = [
        (AdminState.set_disabled, (root.user_id, True)),
        (AdminState.set_admin, (ada.user_id, True)),
        (AdminState.create_invitation, ()),
        (AdminState.create_project, ({"name": "Mine", "owner_id": ada.user_id},)),
        (AdminState.open_project, (ada_project,)),
        (AdminState.set_role, (root.user_id, "")),
        (AdminState.add_member, ({"user_id": root.user_id, "role": "owner"},)),
        (AdminState.set_moderation, (ada_project, "off")),
        (AdminState.save_budget, ({"scope": "user", "subject_id": ada.user_id, "cost": "9"},)),
        (AdminState.show_log_page, (0,)),
        (AdminState.set_mcp_tool, ("lab", False)),
        (AdminState.allow_every_mcp_server, ()),
    ]
    for event, args in events:
        await event.fn(state, *args)
        expected = "Only an admin" if who == "user" else "Log in to continue."
        assert state.error.startswith(expected), (event.fn.__name__, state.error)
        assert state.users == [] and state.budgets == [] and state.invitation == ""
    # nothing changed
    admin = admin_state(root.token)
    await AdminState.load.fn(admin)
    users = {u.email: u for u in admin.users}
    assert not users["ada@example.com"].is_admin and not users["root@example.com"].disabled
    assert [p.name for p in admin.projects] == ["Ada's", "Default"]
    assert all(p.moderation == "global" for p in admin.projects)
    assert not any(b.own for b in admin.budgets)
    await AdminState.open_project.fn(admin, ada_project)
    assert [m.email for m in admin.members] == ["ada@example.com"]
    assert admin.mcp_tools and all(r.allowed for r in admin.mcp_tools)
