"""MCP servers as agent tools, through the official ``mcp`` SDK (the only module importing it).

An admin configures servers (:class:`McpServer`): a stdio command, or a Streamable HTTP URL
with headers (an ``Authorization`` bearer, an API key). :class:`McpHub` lists each server's
tools, caches the lists for ``ttl`` seconds, and turns every tool into a :class:`McpTool`
named ``<server>__<tool>`` (unique across servers, and within the providers' name rules).

A project may narrow them (:func:`allows`): the admin picks, per project, whole servers
("server") or single tools ("server/tool"); the agent of a conversation in that project is
offered only those. Without a choice (None) every configured server's tools are offered.

A server that cannot be reached, or does not answer within ``timeout``, is reported in
:attr:`McpHub.status` and left out: the agent goes on without it. Its list is retried on
the next refresh.

Each listing and each call opens its own session (for stdio: its own process). That costs
a process start per call, but holds nothing open between runs, and cancelling the agent
ends the call's session (and process) at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from app.agent.tools import Tool, ToolError
from app.llm.base import ToolSpec

_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class McpServer:
    """One configured server: ``command`` (stdio) or ``url`` (Streamable HTTP)."""

    name: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 20.0  # connect + initialise + list, or one call
    allowed_tools: frozenset[str] | None = None  # None: every tool the server offers

    def __post_init__(self) -> None:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"MCP server {self.name!r}: give either a command or a url")


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    ok: bool
    tools: int
    error: str | None
    checked_at: float


@asynccontextmanager
async def _session(server: McpServer) -> AsyncIterator[ClientSession]:
    if server.url:
        timeout = httpx.Timeout(server.timeout, read=server.timeout)
        async with (
            httpx.AsyncClient(headers=dict(server.headers), timeout=timeout) as http,
            streamable_http_client(server.url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session
    else:
        params = StdioServerParameters(
            command=server.command[0],
            args=list(server.command[1:]),
            env=dict(server.env) if server.env is not None else None,
        )
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def _describe(exc: BaseException) -> str:
    """The root cause of an SDK failure (task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


def result_text(result: CallToolResult) -> str:
    """A tool result's text parts joined; other parts (images, resources) are named."""
    parts = [
        item.text if isinstance(item, TextContent) else f"[{item.type} content]"
        for item in result.content
    ]
    if not parts and result.structuredContent is not None:
        parts.append(str(result.structuredContent))
    return "\n".join(parts)


@dataclass(frozen=True)
class McpTool:
    server: McpServer
    remote_name: str
    spec: ToolSpec

    async def call(self, arguments: dict[str, Any]) -> str:
        try:
            async with asyncio.timeout(self.server.timeout):
                async with _session(self.server) as session:
                    result = await session.call_tool(self.remote_name, arguments)
        except TimeoutError as exc:
            raise ToolError(
                f"The MCP server {self.server.name} did not answer within "
                f"{self.server.timeout:g} s."
            ) from exc
        except Exception as exc:
            raise ToolError(f"The MCP server {self.server.name} failed: {_describe(exc)}") from exc
        if result.isError:
            raise ToolError(result_text(result) or f"{self.remote_name} failed.")
        return result_text(result)


class McpHub:
    """The configured servers' tools, listed concurrently and cached for ``ttl`` seconds."""

    def __init__(
        self,
        servers: list[McpServer],
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.servers = servers
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, list[McpTool]]] = {}
        self.status: dict[str, ServerStatus] = {}
        self._lock = asyncio.Lock()

    async def tools(
        self, *, refresh: bool = False, choice: frozenset[str] | None = None
    ) -> list[Tool]:
        """Every reachable server's tools that ``choice`` allows (a project's, see
        :func:`allows`); unreachable servers are in :attr:`status`."""
        return [
            tool
            for tool in await self.listed(refresh=refresh)
            if allows(choice, tool.server.name, tool.remote_name)
        ]

    async def listed(self, *, refresh: bool = False) -> list[McpTool]:
        """Every reachable server's tools, in the servers' order (cached ``ttl`` seconds)."""
        async with self._lock:
            now = self._clock()
            stale = [
                s
                for s in self.servers
                if refresh or s.name not in self._cache or now - self._cache[s.name][0] > self.ttl
            ]
            await asyncio.gather(*(self._list(server) for server in stale))
        return [tool for s in self.servers for tool in self._cache.get(s.name, (0.0, []))[1]]

    async def _list(self, server: McpServer) -> None:
        now = self._clock()
        try:
            async with asyncio.timeout(server.timeout):
                async with _session(server) as session:
                    listed = await session.list_tools()
        except Exception as exc:  # a server that is down is reported, never raised
            reason = (
                f"no answer within {server.timeout:g} s"
                if isinstance(exc, TimeoutError)
                else _describe(exc)
            )
            self._cache.pop(server.name, None)
            self.status[server.name] = ServerStatus(server.name, False, 0, reason, now)
            return
        tools = [
            McpTool(
                server,
                tool.name,
                ToolSpec(
                    tool_name(server.name, tool.name),
                    tool.description or tool.title or tool.name,
                    dict(tool.inputSchema),
                ),
            )
            for tool in listed.tools
            if server.allowed_tools is None or tool.name in server.allowed_tools
        ]
        self._cache[server.name] = (now, tools)
        self.status[server.name] = ServerStatus(server.name, True, len(tools), None, now)


def allows(choice: frozenset[str] | None, server: str, tool: str) -> bool:
    """Whether a project's ``choice`` lets its agent use ``tool`` of ``server``: the whole
    server ("server") or that tool ("server/tool") is in it; None allows every tool."""
    return choice is None or server in choice or f"{server}/{tool}" in choice


def tool_name(server: str, tool: str) -> str:
    """``server__tool``, limited to the characters and length every provider accepts."""
    return _NAME.sub("_", f"{server}__{tool}")[:64]
