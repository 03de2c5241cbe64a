"""MCP servers behind OAuth: a real FastMCP server that requires a bearer token, and a real
authorization server (tests/unit/mcp/oauth_server.py), reached through the SDK's client
credentials provider: the tools work, the token is reused and renewed when it expires, and
bad credentials, a dead authorization server or no OAuth at all leave the server out with a
reason (never the secret)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.agent.mcp import McpHub, McpOAuth, McpServer, McpTool
from app.guards import redact
from app.services.agent import load_mcp_servers
from tests.unit.test_mcp_tools import free_port

SCRIPT = Path(__file__).parent / "mcp" / "oauth_server.py"
SECRET = "s3cret-parley-0123456789"
BRIEF_SECRET = "brief-secret-9876543210"
CLIENTS = {"parley": [SECRET, 3600], "brief": [BRIEF_SECRET, 1]}


@dataclass(frozen=True)
class Lab:
    url: str  # the MCP server
    issuer: str  # the authorization server
    orphan: str  # the MCP server again, naming an authorization server that is down

    def token_requests(self) -> list[dict[str, str | None]]:
        return httpx.get(f"{self.issuer}/stats", timeout=5).json()["token_requests"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    ports = [free_port() for _ in range(4)]
    process = subprocess.Popen([sys.executable, str(SCRIPT), *map(str, ports), json.dumps(CLIENTS)])
    lab = Lab(
        f"http://127.0.0.1:{ports[1]}/mcp",
        f"http://127.0.0.1:{ports[0]}",
        f"http://127.0.0.1:{ports[2]}/mcp",
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(lab.url, timeout=1)
                httpx.get(f"{lab.issuer}/stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the OAuth MCP servers did not start")
        yield lab
    finally:
        process.terminate()
        process.wait(10)


def server(lab: Lab, name: str, client_id: str, secret: str, **oauth: str) -> McpServer:
    return McpServer(
        name, url=lab.url, timeout=10, oauth=McpOAuth(client_id, secret, issuer=lab.issuer, **oauth)
    )


def by_name(tools: Sequence[object]) -> dict[str, McpTool]:
    return {t.spec.name: t for t in tools if isinstance(t, McpTool)}


def requests_of(lab: Lab, client_id: str) -> list[dict[str, str | None]]:
    return [r for r in lab.token_requests() if r["client_id"] == client_id]


async def test_tools_are_listed_and_called_with_one_token(lab: Lab) -> None:
    before = len(requests_of(lab, "parley"))
    hub = McpHub([server(lab, "vault", "parley", SECRET)])
    tools = by_name(await hub.tools())
    assert sorted(tools) == ["vault__add", "vault__whoami"]
    assert hub.status["vault"].ok and hub.status["vault"].tools == 2
    assert await tools["vault__add"].call({"a": 2, "b": 40}) == "42"
    assert await tools["vault__whoami"].call({}) == "parley"  # the token's client
    # the listing and both calls (each its own session) used one token
    assert len(requests_of(lab, "parley")) == before + 1
    # and so do calls at once, and a refreshed listing
    answers = await asyncio.gather(*(tools["vault__add"].call({"a": i, "b": 1}) for i in range(3)))
    assert answers == ["1", "2", "3"]
    await hub.tools(refresh=True)
    assert len(requests_of(lab, "parley")) == before + 1


async def test_an_expired_token_is_replaced(lab: Lab) -> None:
    hub = McpHub([server(lab, "brief", "brief", BRIEF_SECRET)])  # tokens last 1 s
    tools = by_name(await hub.tools())
    assert len(requests_of(lab, "brief")) == 1
    await asyncio.sleep(1.5)
    assert await tools["brief__whoami"].call({}) == "brief"
    assert len(requests_of(lab, "brief")) == 2


async def test_the_configured_scopes_are_requested(lab: Lab) -> None:
    hub = McpHub([server(lab, "scoped", "parley", SECRET, scopes="tools extra")])
    await hub.tools()
    assert hub.status["scoped"].ok
    assert requests_of(lab, "parley")[-1]["scope"] == "tools extra"


async def test_a_wrong_secret_leaves_the_server_out_without_showing_it(lab: Lab) -> None:
    wrong = "wrong-secret-abcdef123456"
    hub = McpHub([server(lab, "bad", "parley", wrong), server(lab, "vault", "parley", SECRET)])
    assert sorted(by_name(await hub.tools())) == ["vault__add", "vault__whoami"]
    status = hub.status["bad"]
    assert not status.ok and status.error
    assert "OAuth failed" in status.error and "invalid_client" in status.error
    assert wrong not in status.error and SECRET not in status.error


async def test_an_unknown_client_another_issuer_and_a_dead_authorization_server(
    lab: Lab,
) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"
    orphan_oauth = McpOAuth("parley", SECRET)  # no issuer: the MCP server's choice is used
    hub = McpHub(
        [
            server(lab, "stranger", "nobody", SECRET),
            McpServer("elsewhere", url=lab.url, oauth=McpOAuth("parley", SECRET, issuer=elsewhere)),
            McpServer("orphan", url=lab.orphan, timeout=10, oauth=orphan_oauth),
        ]
    )
    assert await hub.tools() == []
    assert "invalid_client" in (hub.status["stranger"].error or "")
    # the MCP server names an authorization server other than the configured one: the
    # credentials are not sent there
    assert "issuer mismatch" in (hub.status["elsewhere"].error or "")
    orphan = hub.status["orphan"].error or ""
    assert "authorization server at http://127.0.0.1:" in orphan and "unreachable" in orphan
    assert all(SECRET not in (s.error or "") for s in hub.status.values())


async def test_without_oauth_the_protected_server_is_unavailable(lab: Lab) -> None:
    hub = McpHub([McpServer("open", url=lab.url, timeout=10)])
    assert await hub.tools() == []
    error = hub.status["open"].error or ""
    assert "401" in error and "requires authorisation" in error


def test_the_oauth_block_is_read_from_the_servers_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": "vault",
                    "url": "https://vault.example/mcp",
                    "oauth": {
                        "client_id": "parley",
                        "client_secret": SECRET,
                        "scopes": ["tools", "read"],
                        "issuer": "https://id.example",
                    },
                }
            ]
        )
    )
    (vault,) = load_mcp_servers(path)
    assert vault.oauth == McpOAuth("parley", SECRET, "tools read", "https://id.example")
    assert SECRET not in repr(vault)
    assert redact.redact(f"sent {SECRET}") == "sent [redacted]"  # never logged
    with pytest.raises(ValueError, match="OAuth needs a url"):
        McpServer("x", command=("true",), oauth=McpOAuth("a", "b"))
    with pytest.raises(ValueError, match="an Authorization header or oauth"):
        McpServer("x", url="http://x/mcp", headers={"authorization": "b"}, oauth=McpOAuth("a", "b"))
