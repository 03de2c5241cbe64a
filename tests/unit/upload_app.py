"""An upload route parsed the way Reflex's ``/_upload`` parses it (Starlette's multipart form
parser, which spools each file to a temporary file), behind :func:`app.guards.upload_cap`,
served by granian in tests/unit/test_upload_cap.py. ``GET /_stats`` says how many body bytes
reached the route and how many forms it finished parsing."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from app.guards.origins import Message, Receive, Scope, Send
from app.guards.upload_cap import upload_cap

CAP = 200_000
stats = {"bytes_reached_route": 0, "forms_parsed": 0, "file_bytes": 0}


async def upload(request: Request) -> PlainTextResponse:
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    stats["forms_parsed"] += 1
    stats["file_bytes"] += sum(f.size or 0 for f in files)
    await form.close()
    return PlainTextResponse(f"stored {len(files)} files")


async def other(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"read {len(await request.body())} bytes")


async def get_stats(request: Request) -> JSONResponse:
    return JSONResponse(stats)


async def reset(request: Request) -> JSONResponse:
    stats.update(bytes_reached_route=0, forms_parsed=0, file_bytes=0)
    return JSONResponse(stats)


routes = Starlette(
    routes=[
        Route("/_upload", upload, methods=["POST"]),
        Route("/other", other, methods=["POST"]),
        Route("/_stats", get_stats),
        Route("/_reset", reset, methods=["POST"]),
    ]
)


async def counting(scope: Scope, receive: Receive, send: Send) -> None:
    """Counts the body bytes the route is handed (inside the cap)."""

    async def counted() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            stats["bytes_reached_route"] += len(message.get("body", b""))
        return message

    await routes(scope, counted, send)


app = upload_cap(CAP)(counting)
