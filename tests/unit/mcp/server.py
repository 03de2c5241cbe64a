"""A real MCP server written with the SDK's server side, for the MCP tests.

Run ``python server.py stdio`` or ``python server.py http PORT KEY`` (HTTP requests must send
``x-api-key: KEY``).
"""

from __future__ import annotations

import asyncio
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("lab")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "awake"


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"failed on purpose: {reason}")


def http(port: int, key: str) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.types import ASGIApp, Receive, Scope, Send

    app = server.streamable_http_app()

    class RequireKey:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and Request(scope).headers.get("x-api-key") != key:
                response: Response = JSONResponse({"error": "bad key"}, status_code=401)
                await response(scope, receive, send)
                return
            await self.inner(scope, receive, send)

    uvicorn.run(RequireKey(app), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        http(int(sys.argv[2]), sys.argv[3])
