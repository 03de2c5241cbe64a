"""A small ASGI app behind the security middleware, served by granian in
tests/unit/test_guards_origins.py: Reflex's kind of event websocket (a socket.io server with
the same ``cors_allowed_origins``), a websocket like the live-reply stream, an upload route
and a page."""

from __future__ import annotations

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from app.guards.origins import OriginGuard, allowed_hosts, allowed_origins, security_middleware

ORIGINS = allowed_origins("", 3000)
sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=list(ORIGINS))


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>Parley</p><img src='https://evil.example/x.png'>")


async def upload(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"stored {len(body)} bytes")


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("frame")
    await websocket.close()


inner = Starlette(
    routes=[
        Route("/", page),
        Route("/_upload", upload, methods=["POST"]),
        WebSocketRoute("/_parley/stream/{message_id}", stream),
        Mount("/_event", socketio.ASGIApp(sio, socketio_path="")),
    ]
)
app = security_middleware(OriginGuard(ORIGINS, allowed_hosts("", ORIGINS)))(inner)
