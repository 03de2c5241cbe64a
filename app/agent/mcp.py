"""MCP servers as agent tools, through the official ``mcp`` SDK (the only module importing it).

An admin configures servers (:class:`McpServer`): a stdio command, or a Streamable HTTP URL
with headers (an ``Authorization`` bearer, an API key) or OAuth (:class:`McpOAuth`: the
client credentials grant, machine to machine, as there is no user at a browser to send through
an authorization-code flow for a server the whole installation shares). The SDK's
``ClientCredentialsOAuthProvider`` finds the authorization server from the MCP server's 401
(RFC 9728, then RFC 8414 metadata), gets a token, and keeps it in memory: the hub holds one
provider per server, so every listing and call reuses the token until it expires, then gets a
new one. :class:`McpHub` lists each server's
tools, caches the lists for ``ttl`` seconds, and turns every tool into a :class:`McpTool`
named ``<server>__<tool>`` (unique across servers, and within the providers' name rules).

A project may narrow them (:func:`allows`): the admin picks, per project, whole servers
("server") or single tools ("server/tool"); the agent of a conversation in that project is
offered only those. Without a choice (None) every configured server's tools are offered.

A server that cannot be reached, refuses its credentials (or whose authorization server
does), or does not answer within ``timeout``, is reported in
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
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.auth import OAuthFlowError
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.types import CallToolResult, TextContent

from app.agent.tools import Tool, ToolError
from app.llm.base import ToolSpec

_NAME = re.compile(r"[^A-Za-z0-9_-]")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class McpOAuth:
    """OAuth client credentials for a Streamable HTTP server. ``scopes``: space-separated,
    requested as given (None: what the server advertises); ``issuer``: the authorization
    server the credentials belong to, so they are never sent to another one (None: whichever
    the MCP server names)."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: str | None = None
    issuer: str | None = None


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
    oauth: McpOAuth | None = None

    def __post_init__(self) -> None:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"MCP server {self.name!r}: give either a command or a url")
        if self.oauth is not None and not self.url:
            raise ValueError(f"MCP server {self.name!r}: OAuth needs a url")
        if self.oauth is not None and "authorization" in {h.lower() for h in self.headers}:
            raise ValueError(f"MCP server {self.name!r}: give an Authorization header or oauth")

    def secrets(self) -> list[str]:
        """Values never to show or log: the OAuth client secret."""
        return [self.oauth.client_secret] if self.oauth else []


class _MemoryTokens:
    """The SDK's ``TokenStorage`` in memory: a server's token lives as long as its hub."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class _ClientCredentials(ClientCredentialsOAuthProvider):
    """The SDK's client credentials provider, asking for the admin's scopes when set (the
    SDK otherwise replaces them with the scopes the server advertises)."""

    def __init__(self, url: str, oauth: McpOAuth) -> None:
        with warnings.catch_warnings():
            # Without an issuer the SDK warns (deprecated): allowed, and said in the README.
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__(
                url,
                _MemoryTokens(),
                oauth.client_id,
                oauth.client_secret,
                scopes=oauth.scopes,
                issuer=oauth.issuer,
            )
        self._scopes = oauth.scopes

    async def _perform_authorization(self) -> httpx.Request:
        if self._scopes:
            self.context.client_metadata.scope = self._scopes
        return await super()._perform_authorization()


def oauth_for(server: McpServer) -> httpx.Auth | None:
    """The httpx auth of an OAuth server (None otherwise); keep it to keep its token."""
    if server.oauth is None or server.url is None:
        return None
    return _ClientCredentials(server.url, server.oauth)


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    ok: bool
    tools: int
    error: str | None
    checked_at: float


@asynccontextmanager
async def _session(server: McpServer, auth: httpx.Auth | None) -> AsyncIterator[ClientSession]:
    if server.url:
        timeout = httpx.Timeout(server.timeout, read=server.timeout)
        async with (
            httpx.AsyncClient(headers=dict(server.headers), timeout=timeout, auth=auth) as http,
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


def _describe(exc: BaseException, server: McpServer) -> str:
    """The root cause of an SDK failure (task groups wrap them), with the server's secrets
    taken out (an authorization server may echo what it was sent)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OAuthFlowError):
        text = f"OAuth failed: {text}"
    elif isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 401:
        text = "401 Unauthorized: the server requires authorisation (configure headers or oauth)"
    elif isinstance(exc, httpx.RequestError) and _origin(exc) != _origin_of(server.url):
        text = f"the authorization server at {_origin(exc)} is unreachable: {text}"
    for secret in server.secrets():
        text = text.replace(secret, REDACTED)
    return text


def _origin(exc: httpx.RequestError) -> str | None:
    try:
        url = exc.request.url
    except RuntimeError:  # no request attached
        return None
    return f"{url.scheme}://{url.netloc.decode()}"


def _origin_of(url: str | None) -> str | None:
    if url is None:
        return None
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"


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
    auth: httpx.Auth | None = field(default=None, repr=False, compare=False)

    async def call(self, arguments: dict[str, Any]) -> str:
        try:
            async with asyncio.timeout(self.server.timeout):
                async with _session(self.server, self.auth) as session:
                    result = await session.call_tool(self.remote_name, arguments)
        except TimeoutError as exc:
            raise ToolError(
                f"The MCP server {self.server.name} did not answer within "
                f"{self.server.timeout:g} s."
            ) from exc
        except Exception as exc:
            raise ToolError(
                f"The MCP server {self.server.name} failed: {_describe(exc, self.server)}"
            ) from exc
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
        self._auth = {s.name: oauth_for(s) for s in servers}  # OAuth tokens kept per server
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
                async with _session(server, self._auth.get(server.name)) as session:
                    listed = await session.list_tools()
        except Exception as exc:  # a server that is down is reported, never raised
            reason = (
                f"no answer within {server.timeout:g} s"
                if isinstance(exc, TimeoutError)
                else _describe(exc, server)
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
                self._auth.get(server.name),
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
