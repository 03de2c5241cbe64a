"""Which MCP servers and tools a project's agent runs may use: the admin's choice, per project.

An entry is a whole server (``"lab"``: every tool it offers, now or later) or one of its
tools (``"lab/add"``). A project with no choice (None, the default) may use every server the
admin configured (``PARLEY_MCP_SERVERS``). The choice is enforced on the server, where the
toolbox is built: :meth:`AgentChat.run` reads the conversation's project's choice and
:meth:`McpHub.tools` leaves out what it does not allow, so the model is never offered such a
tool, and a call to one anyway is an unknown tool.

Only an admin reads or changes a choice (``Authz.require_admin`` first, before anything is
read). A tool can be chosen only as a server lists it; turning one tool off of a whole
server keeps the server's other listed tools.

It lists the servers through an :class:`McpHub` of its own over the same configuration
(:func:`get_project_tools`), on the accounts' database: the admin page does not need the
chat service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.agent.mcp import McpHub
from app.db import crud
from app.db.crud import agent as agent_crud
from app.db.session import run_in_session
from app.errors import InvalidInput, NotFound
from app.services.accounts import AccountService, get_account_service
from app.services.agent import load_mcp_servers
from app.services.authz import Authz, Principal

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ToolChoiceView:
    """One row of a project's choice: a whole server (``tool == ""``) or one of its tools."""

    entry: str  # "lab" or "lab/add": what the page sends back
    server: str
    tool: str
    label: str  # "lab (every tool)", "lab: add"
    allowed: bool
    reachable: bool  # the server answered its last listing
    reason: str = ""  # why it did not (down, refused Parley's credentials...)


class ProjectTools:
    def __init__(self, engine: Engine, hub: McpHub) -> None:
        self.engine = engine
        self.hub = hub

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    @staticmethod
    def _choice(session: Session, project_id: str) -> frozenset[str] | None:
        if crud.get_project(session=session, project_id=project_id) is None:
            raise NotFound("That project does not exist.")
        return agent_crud.project_mcp_tools(session=session, project_id=project_id)

    async def _listed(self) -> dict[str, list[str]]:
        """Each configured server's tools as it lists them (none for one that is down)."""
        hub = self.hub
        listed: dict[str, list[str]] = {s.name: [] for s in hub.servers}
        for tool in await hub.listed():
            listed[tool.server.name].append(tool.remote_name)
        return listed

    async def choices(self, principal: Principal | None, project_id: str) -> list[ToolChoiceView]:
        """Every configured server, then each tool it lists, with what the project allows."""
        Authz.require_admin(principal)
        choice = await self._db(lambda s: self._choice(s, project_id))
        listed = await self._listed()
        status = self.hub.status
        rows: list[ToolChoiceView] = []
        for server, tools in listed.items():
            up = server in status and status[server].ok
            reason = "" if up or server not in status else status[server].error or ""
            whole = choice is None or server in choice
            label = f"{server} (every tool)"
            rows.append(ToolChoiceView(server, server, "", label, whole, up, reason))
            for tool in tools:
                entry = f"{server}/{tool}"
                on = whole or entry in (choice or ())
                rows.append(ToolChoiceView(entry, server, tool, f"{server}: {tool}", on, up))
        return rows

    async def set_allowed(
        self, principal: Principal | None, project_id: str, entry: str, allowed: bool
    ) -> None:
        """Allow or refuse one entry (a whole server, or one listed tool) for the project."""
        Authz.require_admin(principal)
        listed = await self._listed()
        server, _, tool = entry.partition("/")
        if server not in listed:
            raise InvalidInput(f"No MCP server is configured as {server!r}.")
        if tool and tool not in listed[server]:
            raise InvalidInput(f"The MCP server {server} lists no tool {tool!r} now.")
        own = {f"{server}/{t}" for t in listed[server]}

        def run(session: Session) -> None:
            choice = self._choice(session, project_id)
            entries = set(listed) if choice is None else set(choice)
            if not tool:
                entries -= own | {server}
                if allowed:
                    entries.add(server)
            elif allowed:
                entries.add(entry)
            else:
                if server in entries:  # the whole server, less this tool: its other tools
                    entries = (entries - {server}) | own
                entries.discard(entry)
            agent_crud.set_project_mcp_tools(
                session=session, project_id=project_id, entries=entries
            )

        await self._db(run)

    async def allow_every_server(self, principal: Principal | None, project_id: str) -> None:
        """Back to no choice: every configured server, with every tool it lists."""
        Authz.require_admin(principal)

        def run(session: Session) -> None:
            self._choice(session, project_id)
            agent_crud.set_project_mcp_tools(session=session, project_id=project_id, entries=None)

        await self._db(run)


_built: tuple[AccountService, ProjectTools] | None = None


def get_project_tools() -> ProjectTools:
    """Built from settings on the configured accounts' database; rebuilt if that service is
    replaced (tests configure their own)."""
    global _built
    accounts = get_account_service()
    if _built is None or _built[0] is not accounts:
        from app.settings import get_settings

        settings = get_settings()
        hub = McpHub(load_mcp_servers(settings.mcp_servers), ttl=settings.mcp_cache_seconds)
        _built = (accounts, ProjectTools(accounts.engine, hub))
    return _built[1]


def configure_project_tools(tools: ProjectTools | None) -> None:
    """Use ``tools`` with the configured accounts service (tests); None: build anew."""
    global _built
    _built = None if tools is None else (get_account_service(), tools)
