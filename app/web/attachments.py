"""Attached files, served by attachment id only: ``/_parley/attachment/<id>``.

The id must be one the database knows; the file is then found by its server-generated stored
name, never by a path from the request. Images are served inline (for thumbnails) with their
sniffed type; text files as ``text/plain`` downloads. Every response forbids sniffing and
scripts, so an uploaded file can never run in Parley's origin.

Only a reader of the attachment gets it (``authorize``, from ``app/web/access.py``): nobody,
another user and an unknown id all get the same 404.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.errors import NotFound
from app.services.attachments import AttachmentService

PATH = "/_parley/attachment/{attachment_id}"
_ID = re.compile(r"^[0-9a-f]{32}$")
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "Cache-Control": "private, max-age=3600",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Vary": "Cookie",
}


def attachment_app(
    service: Callable[[], AttachmentService],
    *,
    authorize: Callable[[HTTPConnection, str], Awaitable[bool]],
) -> Starlette:
    async def endpoint(request: Request) -> Response:
        attachment_id = str(request.path_params.get("attachment_id", ""))
        if not _ID.fullmatch(attachment_id) or not await authorize(request, attachment_id):
            return PlainTextResponse("No such attachment.", status_code=404)
        try:
            view, path = await service().get(attachment_id)
        except NotFound:
            return PlainTextResponse("No such attachment.", status_code=404)
        if not path.is_file():
            return PlainTextResponse("That file is missing on the server.", status_code=404)
        inline = view.kind == "image"
        disposition = "inline" if inline else "attachment"
        headers = {
            **_HEADERS,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(view.filename)}",
        }
        media_type = view.media_type if inline else "text/plain; charset=utf-8"
        return FileResponse(path, media_type=media_type, headers=headers)

    return Starlette(routes=[Route(PATH, endpoint, methods=["GET"])])
