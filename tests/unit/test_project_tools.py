"""A project's choice of MCP servers and tools, against the real MCP server of the MCP tests
(tests/unit/mcp/server.py, over stdio), on SQLite and PostgreSQL: only an admin reads or
changes it; a whole server or single tools; and an agent turn in a conversation of that
project is offered, and may call, only what the project allows."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from app.agent.mcp import McpHub, McpServer, allows
from app.errors import Forbidden, InvalidInput, NotFound, NotSignedIn
from app.llm.base import ToolCall
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.accounts import AccountService
from app.services.agent import AgentService
from app.services.agent_chat import AgentChat, StepView
from app.services.authz import Principal, owner_of
from app.services.chat import ChatService
from app.services.project_tools import ProjectTools
from app.settings import Settings
from tests.unit.test_accounts import PASSWORD, service
from tests.unit.test_mcp_tools import STDIO

LAB_TOOLS = ["lab__add", "lab__fail", "lab__slow"]


@dataclass
class World:
    accounts: AccountService
    agents: AgentService
    tools: ProjectTools
    provider: ScriptedProvider
    chat: ChatService
    root: Principal  # an admin
    ada: Principal  # a plain user, owner of her own project
    project: str


@pytest.fixture
async def world(engine: Engine) -> World:
    accounts = service(engine)
    root = await accounts.sign_up("root@example.com", PASSWORD, "Root")
    ada = await accounts.sign_up("ada@example.com", PASSWORD, "Ada")
    root_p, ada_p = await accounts.resolve(root.token), await accounts.resolve(ada.token)
    assert root_p is not None and ada_p is not None and ada_p.default_project is not None
    provider = ScriptedProvider([])
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)
    agents = AgentService(Settings(), engine, registry)
    agents.mcp = McpHub([STDIO])
    chat = ChatService(engine, registry)
    tools = ProjectTools(engine, agents.mcp)  # the page's hub is its own; one here
    return World(accounts, agents, tools, provider, chat, root_p, ada_p, ada_p.default_project)


def test_a_choice_allows_whole_servers_or_single_tools() -> None:
    assert allows(None, "lab", "add")
    assert allows(frozenset({"lab"}), "lab", "add")
    assert allows(frozenset({"lab/add"}), "lab", "add")
    assert not allows(frozenset({"lab/add"}), "lab", "slow")
    assert not allows(frozenset({"other", "other/add"}), "lab", "add")
    assert not allows(frozenset(), "lab", "add")


async def test_only_an_admin_reads_or_changes_a_project_s_choice(world: World) -> None:
    t = world.tools
    for caller, refused in ((None, NotSignedIn), (world.ada, Forbidden)):
        with pytest.raises(refused):
            await t.choices(caller, world.project)
        with pytest.raises(refused):
            await t.set_allowed(caller, world.project, "lab", False)
        with pytest.raises(refused):
            await t.allow_every_server(caller, world.project)
    # Nothing changed: still every server.
    assert all(row.allowed for row in await t.choices(world.root, world.project))
    with pytest.raises(NotFound):
        await t.choices(world.root, "no-such-project")
    with pytest.raises(InvalidInput, match="No MCP server is configured as 'elsewhere'"):
        await t.set_allowed(world.root, world.project, "elsewhere", True)
    with pytest.raises(InvalidInput, match="lists no tool 'rm'"):
        await t.set_allowed(world.root, world.project, "lab/rm", True)


async def test_whole_servers_and_single_tools(world: World) -> None:
    t, root, project = world.tools, world.root, world.project

    async def allowed() -> list[str]:
        return [r.entry for r in await t.choices(root, project) if r.allowed]

    rows = await t.choices(root, project)
    assert [(r.entry, r.label, r.reachable) for r in rows] == [
        ("lab", "lab (every tool)", True),
        ("lab/add", "lab: add", True),
        ("lab/slow", "lab: slow", True),
        ("lab/fail", "lab: fail", True),
    ]
    assert await allowed() == ["lab", "lab/add", "lab/slow", "lab/fail"]  # no choice yet

    await t.set_allowed(root, project, "lab/fail", False)  # the server, less one tool
    assert await allowed() == ["lab/add", "lab/slow"]
    await t.set_allowed(root, project, "lab", False)
    assert await allowed() == []
    await t.set_allowed(root, project, "lab/add", True)
    assert await allowed() == ["lab/add"]
    await t.set_allowed(root, project, "lab", True)
    assert await allowed() == ["lab", "lab/add", "lab/slow", "lab/fail"]
    await t.set_allowed(root, project, "lab", False)
    await t.allow_every_server(root, project)
    assert await allowed() == ["lab", "lab/add", "lab/slow", "lab/fail"]


async def test_a_server_that_is_down_is_listed_with_its_reason(world: World) -> None:
    broken = McpServer("broken", command=(sys.executable, "-c", "import sys; sys.exit(3)"))
    tools = ProjectTools(world.tools.engine, McpHub([STDIO, broken]))
    rows = {r.entry: r for r in await tools.choices(world.root, world.project)}
    assert rows["lab"].reachable and rows["lab"].reason == ""
    assert not rows["broken"].reachable and rows["broken"].reason
    assert [e for e in rows if e.startswith("broken")] == ["broken"]  # no tools listed


async def run_turn(world: World, *, owner: Principal, reply: ScriptedReply) -> list[StepView]:
    """One agent turn in a new conversation of ``owner``'s project; its steps."""
    world.provider.replies = [reply, ScriptedReply.of("Done.")]
    world.provider.requests.clear()
    world.provider._next = 0
    posted = await world.chat.post_message(None, "Use the lab", owner=owner_of(owner))
    steps: list[StepView] = []

    async def keep(step: StepView) -> None:
        if step.status != "running":
            steps.append(step)

    await AgentChat(world.chat, world.agents).run(posted.reply.id, keep)
    return steps


def offered(world: World) -> list[str]:
    return sorted(t.name for t in world.provider.requests[0].tools if t.name.startswith("lab"))


async def test_an_agent_turn_is_offered_only_what_its_project_allows(world: World) -> None:
    add = ScriptedReply(chunks=(), tool_calls=(ToolCall("c1", "lab__add", '{"a": 2, "b": 3}'),))
    steps = await run_turn(world, owner=world.ada, reply=add)
    assert offered(world) == LAB_TOOLS  # no choice: every configured server's tools
    assert [(s.tool, s.status, s.result) for s in steps] == [("lab__add", "ok", "5")]

    await world.tools.set_allowed(world.root, world.project, "lab", False)
    await world.tools.set_allowed(world.root, world.project, "lab/slow", True)
    steps = await run_turn(world, owner=world.ada, reply=add)
    assert offered(world) == ["lab__slow"]
    # Asked for anyway, a tool the project may not use is an unknown tool: never called.
    ((tool, status, error),) = [(s.tool, s.status, s.error) for s in steps]
    assert (tool, status) == ("lab__add", "error")
    assert "Unknown tool 'lab__add'" in error
    assert world.provider.requests[1].messages[-1].is_error

    # Another project's conversations keep every tool.
    steps = await run_turn(world, owner=world.root, reply=add)
    assert offered(world) == LAB_TOOLS
    assert [(s.tool, s.status) for s in steps] == [("lab__add", "ok")]
