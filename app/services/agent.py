"""Agent runs and extractions for the chat: the toolbox a user gets, and the one call each.

:meth:`AgentService.run` is what the chat calls for a turn in agent mode: it builds the
toolbox (``calculate``; ``search_conversations`` over the user's own conversations;
``fetch_url`` when the admin turned it on; every reachable MCP server's tools), picks native
tool calling or the text protocol for the model, and streams :mod:`app.agent.loop` events.
:meth:`AgentService.extract` runs a registered extractor over a text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from app.agent import AgentEvent, AgentLimits, FunctionTool, Tool, Toolbox, run_agent
from app.agent.builtin.calculate import CALCULATE
from app.agent.builtin.fetch import Fetcher, fetch_url_tool
from app.agent.mcp import McpHub, McpOAuth, McpServer, ServerStatus
from app.db.crud.search import HIGHLIGHT_END, HIGHLIGHT_START, search_conversations
from app.db.session import session_scope
from app.extract import Extraction, extract
from app.guards import redact
from app.llm.base import ChatMessage
from app.llm.registry import ModelRegistry
from app.settings import Settings

SEARCH_SCAN = 200  # matches read before keeping the owner's; results shown at most: `limit`


class SearchArgs(BaseModel):
    query: str = Field(description='Words to find; "quoted phrase", -exclude, a or b.')
    limit: int = Field(default=5, ge=1, le=20)


def owns(conversation: object, owner_id: str | None) -> bool:
    """Whether ``owner_id`` owns the conversation. Until accounts land, rows carry no owner
    (``user_id`` absent or None): they belong to the single local user, ``owner_id=None``.
    Once they do, only the owner's rows pass; a user never sees an ownerless row."""
    return getattr(conversation, "user_id", None) == owner_id


def search_tool(engine: Engine, owner_id: str | None) -> FunctionTool[SearchArgs]:
    """``search_conversations``: the full-text index, the owner's conversations only."""

    def search(args: SearchArgs) -> str:
        with session_scope(engine) as session:
            matches = search_conversations(session=session, query=args.query, limit=SEARCH_SCAN)
            own = [m for m in matches if owns(m.conversation, owner_id)][: args.limit]
            lines = [
                f"- {m.conversation.title} (id {m.conversation.id}): "
                + m.snippet.replace(HIGHLIGHT_START, "**").replace(HIGHLIGHT_END, "**")
                for m in own
            ]
        return "\n".join(lines) or "No conversation matches."

    async def run(args: SearchArgs) -> str:
        return await asyncio.to_thread(search, args)

    return FunctionTool(
        "search_conversations",
        "Search the user's own past conversations (titles and messages) by words.",
        SearchArgs,
        run,
    )


def load_mcp_servers(path: Path | None) -> list[McpServer]:
    """The MCP servers in the admin's JSON file (none when unset). Their OAuth client
    secrets are redacted from the logs from now on."""
    if path is None:
        return []
    raw = json.loads(path.read_text(encoding="utf-8"))
    servers = [
        McpServer(
            name=item["name"],
            command=tuple(item.get("command", ())),
            env=item.get("env"),
            url=item.get("url"),
            headers=item.get("headers", {}),
            timeout=float(item.get("timeout", 20)),
            allowed_tools=frozenset(item["tools"]) if "tools" in item else None,
            oauth=_oauth(item["oauth"]) if "oauth" in item else None,
        )
        for item in raw
    ]
    redact.install(secret for server in servers for secret in server.secrets())
    return servers


def _oauth(raw: dict[str, object]) -> McpOAuth:
    """``{"client_id", "client_secret", "scopes"?: [..] | "a b", "issuer"?}``."""
    scopes = raw.get("scopes")
    return McpOAuth(
        client_id=str(raw["client_id"]),
        client_secret=str(raw["client_secret"]),
        scopes=" ".join(map(str, scopes)) if isinstance(scopes, list) else _text(scopes),
        issuer=_text(raw.get("issuer")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class AgentService:
    def __init__(self, settings: Settings, engine: Engine, registry: ModelRegistry) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.mcp = McpHub(load_mcp_servers(settings.mcp_servers), ttl=settings.mcp_cache_seconds)
        self.limits = AgentLimits(
            max_iterations=settings.agent_max_iterations,
            max_tokens=settings.agent_max_tokens,
            max_seconds=settings.agent_max_seconds,
            tool_timeout=settings.agent_tool_timeout,
        )

    async def toolbox(
        self, owner_id: str | None, *, mcp_choice: frozenset[str] | None = None
    ) -> Toolbox:
        """The tools of one run: the built-in ones, and the MCP tools the conversation's
        project allows (``mcp_choice``, see :func:`app.agent.mcp.allows`)."""
        tools: list[Tool] = [CALCULATE, search_tool(self.engine, owner_id)]
        if self.settings.agent_fetch_url:
            fetcher = Fetcher(
                max_bytes=self.settings.fetch_max_bytes, timeout=self.settings.fetch_timeout
            )
            tools.append(fetch_url_tool(fetcher))
        tools += await self.mcp.tools(choice=mcp_choice)
        return Toolbox(tools)

    def mcp_status(self) -> list[ServerStatus]:
        return list(self.mcp.status.values())

    async def run(
        self,
        *,
        model_id: str,
        messages: Sequence[ChatMessage],
        owner_id: str | None,
        cancel: asyncio.Event | None = None,
        metadata: dict[str, str] | None = None,
        mcp_choice: frozenset[str] | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """One agent turn: events to stream into the chat and store (``event.as_dict()``).
        ``mcp_choice``: the MCP servers and tools the conversation's project allows."""
        info, provider = self.registry.resolve(model_id)
        async for event in run_agent(
            provider,
            model=info.provider_model,
            messages=messages,
            toolbox=await self.toolbox(owner_id, mcp_choice=mcp_choice),
            limits=self.limits,
            native_tools=info.provider != "local",
            cancel=cancel,
            metadata=metadata,
        ):
            yield event

    async def extract(
        self, *, model_id: str, extractor: str, text: str, metadata: dict[str, str] | None = None
    ) -> Extraction:
        """Run a registered extractor (app/extract/schemas.py) over ``text``."""
        info, provider = self.registry.resolve(model_id)
        return await extract(
            provider,
            model=info.provider_model,
            extractor=extractor,
            text=text,
            mode="json_schema" if info.provider in ("local", "openai-compatible") else "tools",
            max_retries=self.settings.extract_max_retries,
            metadata=metadata,
        )
