"""Exports as downloads: ``/_parley/export/all.<fmt>``,
``/_parley/export/conversation/<id>.<fmt>`` and ``/_parley/export/project/<id>.<fmt>``, where
``<fmt>`` is ``json`` (every message of every branch) or ``md`` (the branch on screen).

Authorised by the session cookie (like the attachment route): the export's scope is
checked before the first byte, so nobody, another user and an unknown id all get the same
404, never a half-written file. The body is streamed from a generator that pages through
the database (:mod:`app.services.transfer`): memory stays flat whatever the export's size.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from app.errors import NotFound
from app.services.accounts import AccountService
from app.services.transfer import TransferService

PREFIX = "/_parley/export"
_MEDIA = {"json": "application/json", "md": "text/markdown; charset=utf-8"}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Vary": "Cookie",
}


def export_url(kind: str, ident: str = "", fmt: str = "json") -> str:
    """The download path of an export (for links)."""
    return f"{PREFIX}/all.{fmt}" if kind == "all" else f"{PREFIX}/{kind}/{ident}.{fmt}"


def transfer_app(
    service: Callable[[], TransferService], accounts: Callable[[], AccountService]
) -> Starlette:
    async def export(request: Request, kind: str, target: str) -> Response:
        ident, _, fmt = target.rpartition(".")
        if fmt not in _MEDIA or (kind != "all" and not ident):
            return PlainTextResponse("No such export.", status_code=404)
        principal = await accounts().principal_from_cookie(request.headers.get("cookie"))
        transfer = service()
        try:
            scope = await transfer.scope(principal, kind, ident)
        except NotFound:
            return PlainTextResponse("Nothing to export here.", status_code=404)
        body = transfer.export_json(scope) if fmt == "json" else transfer.export_markdown(scope)
        name = scope.filename(fmt)
        headers = {**_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return StreamingResponse(body, media_type=_MEDIA[fmt], headers=headers)

    async def everything(request: Request) -> Response:
        target = str(request.path_params["target"])
        if not target.startswith("all."):
            return PlainTextResponse("No such export.", status_code=404)
        return await export(request, "all", target)

    async def one(request: Request) -> Response:
        kind = str(request.path_params["kind"])
        if kind not in ("conversation", "project"):
            return PlainTextResponse("No such export.", status_code=404)
        return await export(request, kind, str(request.path_params["target"]))

    return Starlette(
        routes=[
            Route(PREFIX + "/{target}", everything, methods=["GET"]),
            Route(PREFIX + "/{kind}/{target}", one, methods=["GET"]),
        ]
    )
