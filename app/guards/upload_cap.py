"""A cap on upload request bodies, enforced while they stream in.

Reflex's ``/_upload`` route parses the multipart body with Starlette's form parser, which
spools every file to a temporary file before the event handler sees a byte of it; the
handler's size checks come too late to spare the disk. This ASGI middleware sits in front of
that route and refuses a body over the cap:

- by its ``Content-Length`` (what browsers send), before one byte of it is read: HTTP 413;
- otherwise (a chunked body, or one longer than it claimed) by counting the bytes as they
  are received: once past the cap it answers 413 and tells the route the client has gone
  (``http.disconnect``), so the parser stops and closes what it spooled so far, which is never
  more than the cap plus one received chunk.

The cap is the whole request (every file of one upload with its framing). The per-file limits
and the per-user quota of files waiting to be sent are the attachment service's to check.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from app.guards.origins import (
    SECURITY_HEADERS,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)

UPLOAD_PATHS = ("/_upload",)  # Reflex's upload route (constants.Endpoint.UPLOAD)


def too_large_message(cap: int) -> str:
    return (
        f"This upload is over {cap / 1_000_000:.1f} MB, the most one upload may carry. "
        "Attach fewer or smaller files at a time."
    )


def _content_length(scope: Scope) -> int | None:
    """The declared length, None if absent, -1 if it is not a number."""
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def upload_cap(
    max_bytes: int | Callable[[], int], paths: Collection[str] = UPLOAD_PATHS
) -> Callable[[ASGIApp], ASGIApp]:
    """An ``api_transformer`` for ``rx.App``: requests to ``paths`` (POST) whose body is over
    ``max_bytes`` are refused with 413 before their body is read whole."""

    def cap_now() -> int:
        return max_bytes() if callable(max_bytes) else max_bytes

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if (
                scope["type"] != "http"
                or scope.get("method") != "POST"
                or scope.get("path") not in paths
            ):
                await app(scope, receive, send)
                return
            cap = cap_now()
            declared = _content_length(scope)
            if declared == -1:
                await _respond(send, 400, "The Content-Length header is not a number.")
                return
            if declared is not None and declared > cap:
                await _respond(send, 413, too_large_message(cap))
                return

            received = 0
            started = False  # has a response begun (the route's or the refusal)?
            refused = False

            async def counted_receive() -> Message:
                nonlocal received, started, refused
                if refused:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > cap:
                        refused = True
                        if not started:
                            started = True
                            await _respond(send, 413, too_large_message(cap))
                        return {"type": "http.disconnect"}
                return message

            async def guarded_send(message: Message) -> None:
                nonlocal started
                if refused:
                    return  # the refusal has answered; what the route says now is dropped
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            await app(scope, counted_receive, guarded_send)

        return middleware

    return wrap
