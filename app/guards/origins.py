"""Origin and Host checks, and security headers, as one ASGI middleware.

- **Origin** (cross-site websocket hijacking, cross-site uploads): a websocket handshake, or an
  HTTP request with a state-changing method, whose ``Origin`` header is not an allowed origin
  is refused (HTTP 403; a websocket is denied before it is accepted). A request with no
  ``Origin`` is not from a page on another site (browsers always send one on these
  requests), so it passes.
- **Host** (DNS rebinding): a request whose ``Host`` is not an allowed host is refused (HTTP
  400). A rebinding attack reaches 127.0.0.1 under the attacker's own name, which fails here.
- **Headers** on every HTTP response: a Content-Security-Policy whose ``img-src`` is only
  ``'self'`` (plus ``data:`` and ``blob:``, which the composer's previews use), so a remote
  image in model output cannot load even if one is rendered; ``X-Content-Type-Options``;
  ``Referrer-Policy``.

The allowed origins come from one setting (``PARLEY_ALLOWED_ORIGINS``); unset, they are the
served origin: ``http://localhost:<port>`` and ``http://127.0.0.1:<port>``, the port being the
one Reflex serves the frontend on. The same list goes to Reflex's ``cors_allowed_origins``
(rxconfig.py), which its socket.io server checks on the event websocket.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = (
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped, no path."""
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower().rstrip("/")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep it as it is, so it matches nothing
        return origin.strip().lower().rstrip("/")
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(explicit: str, frontend_port: int | str) -> tuple[str, ...]:
    """The origins from the setting (comma-separated), else the served origin."""
    listed = [normalise_origin(o) for o in explicit.split(",") if o.strip()]
    if listed:
        return tuple(dict.fromkeys(listed))
    return tuple(normalise_origin(f"http://{h}:{frontend_port}") for h in LOOPBACK_HOSTS)


def allowed_hosts(explicit: str, origins: Iterable[str]) -> frozenset[str]:
    """Host names (without port) that may appear in ``Host``: the setting's, else those of
    the allowed origins plus the loopback names."""
    listed = {h.strip().lower() for h in explicit.split(",") if h.strip()}
    if listed:
        return frozenset(listed)
    hosts = {urlsplit(o).hostname or "" for o in origins} | {"localhost", "127.0.0.1", "::1"}
    return frozenset(h for h in hosts if h)


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:3000`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class OriginGuard:
    """The decisions, usable by any route or websocket as well as by the middleware."""

    def __init__(self, origins: Iterable[str], hosts: Iterable[str]) -> None:
        self.origins = frozenset(normalise_origin(o) for o in origins)
        self.hosts = frozenset(h.lower() for h in hosts)

    def origin_ok(self, origin: str | None) -> bool:
        return origin is None or normalise_origin(origin) in self.origins

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host_name(host) in self.hosts

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) if the request must be refused, else None."""
        headers = _headers(scope)
        if not self.host_ok(headers.get("host")):
            return 400, "This host name is not served here."
        origin = headers.get("origin")
        changes = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if changes and not self.origin_ok(origin):
            return 403, "Requests from this origin are not allowed."
        return None


def served_guard(explicit_origins: str, explicit_hosts: str) -> OriginGuard:
    """The guard for this process: the settings' origins and hosts, else the served origin,
    whose port ``reflex run`` exports as ``REFLEX_FRONTEND_PORT`` (3000 by default)."""
    origins = allowed_origins(explicit_origins, os.environ.get("REFLEX_FRONTEND_PORT", "3000"))
    return OriginGuard(origins, allowed_hosts(explicit_hosts, origins))


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = key.decode("latin-1").lower()
        if name not in out:  # the first of a repeated header counts
            out[name] = value.decode("latin-1")
    return out


def security_middleware(guard: OriginGuard) -> Callable[[ASGIApp], ASGIApp]:
    """An ``api_transformer`` for ``rx.App``: wraps the whole backend (event websocket,
    stream websocket, uploads, attachments, the served frontend)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            refused = guard.refusal(scope)
            if refused is not None:
                await _refuse(scope, send, *refused)
                return
            if scope["type"] == "websocket":
                await app(scope, receive, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    present = {k.lower() for k, _ in message.get("headers", ())}
                    extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                    message["headers"] = [*message.get("headers", ()), *extra]
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return wrap


async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
    body = reason.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    if scope["type"] == "websocket":
        # Deny the handshake with an HTTP response (the websocket denial-response extension),
        # or a plain close before accept, which servers send as 403.
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
