"""A real OAuth-protected MCP server and its authorization server, for the MCP OAuth tests.

Run ``python oauth_server.py AUTH_PORT MCP_PORT ORPHAN_PORT DEAD_PORT CLIENTS``; CLIENTS is a JSON
object ``{"client_id": ["secret", token_seconds], ...}``. All listen on 127.0.0.1:

- the authorization server (port AUTH_PORT): RFC 8414 metadata at
  ``/.well-known/oauth-authorization-server``, a ``/token`` endpoint for the
  ``client_credentials`` grant (client_secret_basic or client_secret_post) that issues random
  bearer tokens bound to the requested ``resource``, and ``/stats`` (the token requests seen);
- the MCP server (port MCP_PORT, path ``/mcp``): the SDK's FastMCP over Streamable HTTP with
  ``AuthSettings``, so it answers 401 without a token and serves its RFC 9728 protected
  resource metadata; its TokenVerifier accepts only tokens the authorization server issued
  (unexpired, with the scope "tools", for this resource);
- the same MCP server again (port ORPHAN_PORT, path ``/mcp``), naming as its authorization
  server ``http://127.0.0.1:DEAD_PORT``, where nothing listens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import time
from dataclasses import dataclass
from urllib.parse import unquote

import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCOPE = "tools"


@dataclass
class Issued:
    client_id: str
    expires_at: float
    scopes: list[str]
    resource: str | None


def authorization_server(issuer: str, clients: dict[str, tuple[str, int]]) -> Starlette:
    issued: dict[str, Issued] = {}
    requests: list[dict[str, str | None]] = []

    async def metadata(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": [SCOPE],
            }
        )

    def client_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return unquote(user), unquote(password)
        return form.get("client_id"), form.get("client_secret")

    async def token(request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id, secret = client_of(request, form)
        requests.append({"client_id": client_id, "scope": form.get("scope")})
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        known = clients.get(client_id or "")
        if known is None or not secrets.compare_digest(known[0], secret or ""):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "unknown client or bad secret"},
                status_code=401,
                headers={"WWW-Authenticate": "Basic"},
            )
        scopes = (form.get("scope") or SCOPE).split()
        access = secrets.token_urlsafe(24)
        issued[access] = Issued(
            client_id or "", time.time() + known[1], scopes, form.get("resource")
        )
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": known[1],
                "scope": " ".join(scopes),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse({"token_requests": requests})

    app = Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", metadata),
            Route("/token", token, methods=["POST"]),
            Route("/stats", stats),
        ]
    )
    app.state.issued = issued
    return app


class Verifier:
    """Accepts the tokens the authorization server issued, until they expire."""

    def __init__(self, issued: dict[str, Issued]) -> None:
        self.issued = issued

    async def verify_token(self, token: str) -> AccessToken | None:
        found = self.issued.get(token)
        if found is None or found.expires_at < time.time():
            return None
        return AccessToken(
            token=token,
            client_id=found.client_id,
            scopes=found.scopes,
            expires_at=int(found.expires_at),
            resource=found.resource,
        )


def mcp_server(issuer: str, url: str, issued: dict[str, Issued]) -> FastMCP:
    server = FastMCP(
        "vault",
        token_verifier=Verifier(issued),
        auth=AuthSettings(
            issuer_url=issuer,  # pyright: ignore[reportArgumentType]
            resource_server_url=url,  # pyright: ignore[reportArgumentType]
            validate_token_resource=True,
            required_scopes=[SCOPE],
        ),
    )

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def whoami() -> str:
        """The OAuth client this call was made as."""
        token = get_access_token()
        return token.client_id if token else "nobody"

    return server


async def main(ports: list[int], clients: dict[str, tuple[str, int]]) -> None:
    auth_port, mcp_port, orphan_port, dead_port = ports
    issuer = f"http://127.0.0.1:{auth_port}"
    auth = authorization_server(issuer, clients)
    issued = auth.state.issued
    mcp = mcp_server(issuer, f"http://127.0.0.1:{mcp_port}/mcp", issued)
    orphan = mcp_server(
        f"http://127.0.0.1:{dead_port}", f"http://127.0.0.1:{orphan_port}/mcp", issued
    )
    apps = ((auth, auth_port), (mcp.streamable_http_app(), mcp_port))
    apps += ((orphan.streamable_http_app(), orphan_port),)
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        for app, port in apps
    ]
    await asyncio.gather(*(s.serve() for s in servers))


if __name__ == "__main__":
    raw = json.loads(sys.argv[5])
    asyncio.run(
        main([int(a) for a in sys.argv[1:5]], {k: (v[0], int(v[1])) for k, v in raw.items()})
    )
