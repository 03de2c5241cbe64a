"""MCP servers as tools, against a real MCP server (tests/unit/mcp/server.py) over stdio and
Streamable HTTP: listing, calls, a slow and a failing tool, a server that is down, headers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from app.agent import AgentDone, StepFinished, Toolbox, ToolError, run_agent
from app.agent.mcp import McpHub, McpServer, McpTool, tool_name
from app.llm.base import ChatMessage, ToolCall
from app.llm.fake import ScriptedProvider, ScriptedReply

SCRIPT = Path(__file__).parent / "mcp" / "server.py"
KEY = "lab-key-123"
STDIO = McpServer("lab", command=(sys.executable, str(SCRIPT), "stdio"), timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SCRIPT), "http", str(port), KEY])
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the MCP HTTP server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def by_name(tools: Sequence[object]) -> dict[str, McpTool]:
    return {t.spec.name: t for t in tools if isinstance(t, McpTool)}


async def test_stdio_tools_are_listed_and_called() -> None:
    hub = McpHub([STDIO])
    tools = by_name(await hub.tools())
    assert sorted(tools) == ["lab__add", "lab__fail", "lab__slow"]
    add = tools["lab__add"]
    assert add.spec.description == "Add two integers."
    assert add.spec.parameters["required"] == ["a", "b"]
    assert await add.call({"a": 2, "b": 40}) == "42"
    assert hub.status["lab"].ok and hub.status["lab"].tools == 3


async def test_http_tools_work_with_headers(http_url: str) -> None:
    hub = McpHub([McpServer("web", url=http_url, headers={"x-api-key": KEY}, timeout=10)])
    tools = by_name(await hub.tools())
    assert await tools["web__add"].call({"a": 1, "b": 2}) == "3"
    with pytest.raises(ToolError, match="failed on purpose: because"):
        await tools["web__fail"].call({"reason": "because"})


async def test_a_server_that_is_down_is_reported_and_skipped(http_url: str) -> None:
    hub = McpHub(
        [
            McpServer("nokey", url=http_url, timeout=5),
            McpServer("gone", url=f"http://127.0.0.1:{free_port()}/mcp", timeout=5),
            McpServer("broken", command=(sys.executable, "-c", "import sys; sys.exit(3)")),
            McpServer("web", url=http_url, headers={"x-api-key": KEY}, timeout=10),
        ]
    )
    names = sorted(by_name(await hub.tools()))
    assert names == ["web__add", "web__fail", "web__slow"]
    for down in ("nokey", "gone", "broken"):
        status = hub.status[down]
        assert not status.ok and status.error, status
    assert "401" in (hub.status["nokey"].error or "")


async def test_lists_are_cached_and_refreshed() -> None:
    now = [0.0]
    hub = McpHub([STDIO], ttl=60, clock=lambda: now[0])
    await hub.tools()
    first = hub.status["lab"].checked_at
    now[0] = 30.0
    await hub.tools()
    assert hub.status["lab"].checked_at == first  # cached
    now[0] = 61.0
    await hub.tools()
    assert hub.status["lab"].checked_at == 61.0  # refreshed after the ttl
    await hub.tools(refresh=True)
    assert hub.status["lab"].checked_at == 61.0 and hub.status["lab"].ok


async def test_a_slow_tool_times_out_and_a_failing_one_reports_its_error() -> None:
    hub = McpHub([McpServer("lab", command=STDIO.command, timeout=8)])
    tools = by_name(await hub.tools())
    began = time.monotonic()
    with pytest.raises(ToolError, match="did not answer within 8 s"):
        await tools["lab__slow"].call({"seconds": 30})
    assert time.monotonic() - began < 15
    with pytest.raises(ToolError, match="failed on purpose: no"):
        await tools["lab__fail"].call({"reason": "no"})


async def test_the_agent_uses_an_mcp_tool_and_goes_on_after_its_failure() -> None:
    tools = await McpHub([STDIO]).tools()
    provider = ScriptedProvider(
        [
            ScriptedReply(chunks=(), tool_calls=(ToolCall("1", "lab__fail", '{"reason": "x"}'),)),
            ScriptedReply(chunks=(), tool_calls=(ToolCall("2", "lab__add", '{"a": 5, "b": 6}'),)),
            ScriptedReply.of("11"),
        ]
    )
    events = [
        e
        async for e in run_agent(
            provider,
            model="m",
            messages=(ChatMessage("user", "add"),),
            toolbox=Toolbox(tools),
        )
    ]
    steps = [e for e in events if isinstance(e, StepFinished)]
    assert [(s.tool, s.status) for s in steps] == [("lab__fail", "error"), ("lab__add", "ok")]
    assert steps[1].result == "11"
    assert isinstance(events[-1], AgentDone) and events[-1].reason == "answered"


def test_tool_names_fit_the_providers_rules() -> None:
    assert tool_name("my server", "do.it") == "my_server__do_it"
    assert len(tool_name("s" * 50, "t" * 50)) == 64
    with pytest.raises(ValueError, match="either a command or a url"):
        McpServer("bad")
