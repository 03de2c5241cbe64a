"""The /data page's state: export links, and an import with its progress.

Thin: the downloads are HTTP routes (``app/web/transfer.py``) authorised by the session
cookie; the import runs :meth:`app.services.transfer.TransferService.import_file`, which
checks the file whole before writing it in one transaction. Every event resolves the
principal from the websocket handshake's cookie; the upload is copied to a temporary file
in 1 MiB chunks (never held whole), then a background event imports it so the tab's other
events do not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

import reflex as rx

from app.errors import NotSignedIn, ParleyError
from app.services.authz import Principal
from app.services.transfer import Progress, get_transfer_service
from app.web.transfer import export_url
from state.access import authorize
from state.keys import writable_project

CHUNK = 1 << 20
UPLOAD_ID = "import_file"


def describe(progress: Progress) -> str:
    if progress.stage == "checking":
        return f"Checking… {progress.done} conversations read."
    if progress.stage == "writing":
        return f"Importing… {progress.done} of {progress.total} conversations."
    return f"Imported {progress.total} conversations ({progress.messages} messages)."


class TransferState(rx.State):
    exports: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)  # label, json, md
    progress: rx.Field[str] = rx.field("")
    uploaded: rx.Field[int] = rx.field(0)  # percent of the upload sent
    busy: rx.Field[bool] = rx.field(False)
    error: rx.Field[str] = rx.field("")
    _pending: str = ""  # the uploaded file on disk, awaiting import (server-side only)

    async def _principal(self) -> Principal:
        """The caller (:func:`state.access.authorize`); raises :class:`NotSignedIn` for nobody."""
        return await authorize(self)

    @rx.event
    async def load(self) -> rx.event.EventSpec | None:
        """on_load: the export links for this user (everything, and each project)."""
        self.error = ""
        try:
            principal = await self._principal()
        except ParleyError:
            self.exports = []
            return rx.redirect("/login?next=/data")
        links = [{"label": "Everything you started", "kind": "all", "id": ""}]
        for n, project_id in enumerate(sorted(principal.roles), 1):
            role = principal.roles[project_id]
            label = f"Project {n} (you are {role})"
            links.append({"label": label, "kind": "project", "id": project_id})
        self.exports = [
            {
                "label": link["label"],
                "json": export_url(link["kind"], link["id"], "json"),
                "md": export_url(link["kind"], link["id"], "md"),
            }
            for link in links
        ]
        return None

    @rx.event
    async def upload_progress(self, progress: dict[str, float]) -> None:
        try:
            await self._principal()
        except ParleyError:
            return
        self.uploaded = round(float(progress.get("progress", 0)) * 100)

    @rx.event
    async def receive(self, files: list[rx.UploadFile]) -> rx.event.EventType[()] | None:
        """The uploaded file, copied to disk in chunks; then the import starts."""
        self.error = self.progress = ""
        try:
            await self._principal()
        except ParleyError as exc:
            self.error = exc.message
            return None
        if len(files) != 1 or self.busy:
            self.error = "Choose one file to import." if not self.busy else "An import is running."
            return None
        handle, name = tempfile.mkstemp(prefix="parley-import-", suffix=".json")
        with os.fdopen(handle, "wb") as out:
            while chunk := await files[0].read(CHUNK):
                out.write(chunk)
        self._pending, self.busy = name, True
        return TransferState.run_import

    @rx.event(background=True)
    async def run_import(self) -> None:
        async with self:
            path, self._pending = self._pending, ""
            try:
                principal: Principal | None = await self._principal()
            except ParleyError as exc:
                self.error, principal = exc.message, None
            if not path or principal is None:  # nothing received (a forged call), or nobody
                self.busy = False
                return
        try:
            project = writable_project(principal)
            if project is None:
                raise NotSignedIn("Log in with an account that may add to a project.")
            async for progress in get_transfer_service().import_file(
                principal, Path(path), project_id=project
            ):
                async with self:
                    self.progress = describe(progress)
        except ParleyError as exc:
            async with self:
                self.error, self.progress = exc.message, "Nothing was imported."
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(Path(path).unlink)
            async with self:
                self.busy = False
