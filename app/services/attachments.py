"""Attachments, the service: store an uploaded file (checked by
:mod:`app.services.attachment_checks`, written by :mod:`app.services.attachment_store`), tie
it to a message when that message is sent, and read it back for the model or the browser.

Files wait in the composer until sent. What one user may keep waiting is capped
(:attr:`AttachmentLimits.pending_max_bytes`): past it, an upload is refused with the file's name
and the fix (send or remove the files waiting). The hourly sweep (:meth:`AttachmentService.sweep`)
forgets files never sent after a day and deletes files whose message is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Attachment, AttachmentKind
from app.errors import InvalidInput, NotFound
from app.services.attachment_checks import (
    ALLOWED_HINT,
    IMAGE_TYPES,
    TEXT_EXTENSIONS,
    AttachmentLimits,
    AttachmentRefused,
    Checked,
    check_size,
    classify,
    decode_text,
    display_name,
    extension_of,
    format_size,
    is_text,
    language_of,
    sniff_image,
)
from app.services.attachment_store import AttachmentStore, new_stored_name
from app.services.kernel import Service

# The checks are re-exported: callers import them from here as they always have.
__all__ = [
    "ALLOWED_HINT",
    "IMAGE_TYPES",
    "TEXT_EXTENSIONS",
    "AttachmentKind",
    "AttachmentLimits",
    "AttachmentRefused",
    "AttachmentService",
    "AttachmentView",
    "Checked",
    "UploadOwner",
    "UploadResult",
    "check_size",
    "claim",
    "classify",
    "decode_text",
    "display_name",
    "extension_of",
    "format_size",
    "is_text",
    "language_of",
    "sniff_image",
]


class UploadOwner(Protocol):
    """Who uploads a file, into which project (``app.services.authz.Owner`` fits)."""

    @property
    def user_id(self) -> str | None: ...

    @property
    def project_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """An attachment as the browser shows it (a chip: name and size)."""

    id: str
    filename: str
    kind: str  # "text" | "image"
    media_type: str
    size: int
    size_label: str

    @classmethod
    def of(cls, row: Attachment) -> AttachmentView:
        return cls(
            row.id,
            row.filename,
            str(row.kind),
            row.media_type,
            row.size,
            format_size(row.size),
        )


@dataclass(frozen=True, slots=True)
class UploadResult:
    added: list[AttachmentView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one readable message per refused file


# ----- in a transaction (the chat service calls this when a message is posted) -----------


def claim(
    *,
    session: Session,
    attachment_ids: Sequence[str],
    conversation_id: str,
    message_id: int,
    vision: bool,
    model_name: str,
) -> list[Attachment]:
    """Tie pending attachments to a just-saved user message. Raises (so the caller's
    transaction rolls back, saving nothing) if one is missing or already sent, or if an
    image would go to a model that can't see images."""
    rows: list[Attachment] = []
    for attachment_id in dict.fromkeys(attachment_ids):
        row = crud.get_attachment(session=session, attachment_id=attachment_id)
        if row is None or row.message_id is not None:
            raise InvalidInput(
                "An attached file is no longer available. Remove it and attach it again."
            )
        rows.append(row)
    images = [r.filename for r in rows if r.kind == AttachmentKind.image]
    if images and not vision:
        raise InvalidInput(
            f"{model_name} can't see images ({', '.join(images)}). "
            "Pick a model that can, or remove the images."
        )
    for row in rows:
        crud.claim_attachment(
            session=session,
            attachment_id=row.id,
            conversation_id=conversation_id,
            message_id=message_id,
        )
    return rows


# ----- the service ------------------------------------------------------------------------


class AttachmentService(Service):
    """Stores uploads under ``root`` and keeps their rows."""

    def __init__(self, engine: Engine, root: Path, limits: AttachmentLimits | None = None) -> None:
        super().__init__(engine)
        self.store = AttachmentStore(root)
        self.limits = limits or AttachmentLimits()

    @property
    def root(self) -> Path:
        return self.store.root

    def path_of(self, stored_name: str) -> Path:
        """The file for a stored name; only server-generated names are accepted."""
        return self.store.path_of(stored_name)

    def read_bytes(self, stored_name: str) -> bytes:
        return self.store.read_bytes(stored_name)

    def _save_pending(self, session: Session, row: Attachment) -> Attachment:
        """Insert a pending row, refusing it if it takes its uploader past the quota of
        bytes waiting to be sent (the caller's transaction then rolls back)."""
        user_id = row.user_id
        waiting = crud.pending_attachment_bytes(session=session, user_id=user_id)
        quota = self.limits.pending_max_bytes
        if waiting + row.size > quota:
            raise AttachmentRefused(
                f"{row.filename} ({format_size(row.size)}) would bring your files waiting to "
                f"be sent to {format_size(waiting + row.size)}; the limit is "
                f"{format_size(quota)}. Send the files already attached, or remove some, "
                "then attach it again."
            )
        return crud.add_attachment(session=session, attachment=row)

    async def add(
        self,
        filename: str | None,
        data: bytes,
        *,
        pending: int = 0,
        owner: UploadOwner | None = None,
    ) -> AttachmentView:
        """Check and store one file for the composer, as ``owner``'s (whom the caller has
        authorised). Raises :class:`AttachmentRefused`."""
        name = display_name(filename)
        if pending >= self.limits.max_files:
            raise AttachmentRefused(
                f"{name}: a message takes at most {self.limits.max_files} files. "
                "Send these first, or remove one."
            )
        checked = classify(name, data, self.limits)
        stored_name = new_stored_name(checked.extension)
        await asyncio.to_thread(self.store.write, stored_name, data)
        row = Attachment(
            filename=name,
            stored_name=stored_name,
            media_type=checked.media_type,
            kind=checked.kind,
            size=len(data),
            user_id=owner.user_id if owner else None,
            project_id=owner.project_id if owner else None,
        )
        try:
            saved = await self._db(lambda s: self._save_pending(s, row))
        except BaseException:
            await asyncio.to_thread(self.store.delete, stored_name)
            raise
        return AttachmentView.of(saved)

    def copy_to(
        self, session: Session, *, from_message_id: int, conversation_id: str, message_id: int
    ) -> int:
        """Attach copies of one message's files to another (an edited question keeps its
        files), inside the caller's transaction. Each copy is its own file under a new
        server-generated name, so deleting either message never takes the other's files; a
        copy whose transaction rolls back is left unreferenced, for the sweep."""
        rows = crud.list_message_attachments(session=session, message_ids=[from_message_id])
        for row in rows:
            try:
                stored_name = self.store.copy(row.stored_name)
            except OSError:
                continue  # the original file is gone: nothing to copy
            crud.add_attachment(
                session=session,
                attachment=Attachment(
                    conversation_id=conversation_id,
                    message_id=message_id,
                    filename=row.filename,
                    stored_name=stored_name,
                    media_type=row.media_type,
                    kind=row.kind,
                    size=row.size,
                    user_id=row.user_id,
                    project_id=row.project_id,
                ),
            )
        return len(rows)

    async def add_upload(
        self,
        filename: str | None,
        size: int | None,
        read: Callable[[], Awaitable[bytes]],
        *,
        pending: int = 0,
        owner: UploadOwner | None = None,
    ) -> AttachmentView:
        """Like :meth:`add`, for an upload whose size is known before reading it: a file
        over every limit is refused unread."""
        if size is not None and size > self.limits.max_bytes:  # too big for any kind
            limits = self.limits
            raise AttachmentRefused(
                f"{display_name(filename)} is {format_size(size)}; the limit is "
                f"{format_size(limits.text_max_bytes)} for text and "
                f"{format_size(limits.image_max_bytes)} for images. Attach a smaller file."
            )
        return await self.add(filename, await read(), pending=pending, owner=owner)

    async def add_many(
        self,
        files: Sequence[tuple[str | None, int | None, Callable[[], Awaitable[bytes]]]],
        *,
        pending: int = 0,
        owner: UploadOwner | None = None,
    ) -> UploadResult:
        """Store each acceptable file; a refused one is reported and the others go on."""
        result = UploadResult()
        for filename, size, read in files:
            try:
                view = await self.add_upload(
                    filename, size, read, pending=pending + len(result.added), owner=owner
                )
            except AttachmentRefused as exc:
                result.errors.append(exc.message)
            else:
                result.added.append(view)
        return result

    async def remove_pending(self, attachment_id: str) -> None:
        """Forget a file still waiting in the composer (a sent one stays with its message)."""
        row = await self._db(
            lambda s: crud.delete_pending_attachment(session=s, attachment_id=attachment_id)
        )
        if row is not None:
            await asyncio.to_thread(self.store.delete, row.stored_name)

    async def get(self, attachment_id: str) -> tuple[AttachmentView, Path]:
        """An attachment and its file, by id (what the file route serves)."""
        row = await self._db(lambda s: crud.get_attachment(session=s, attachment_id=attachment_id))
        if row is None:
            raise NotFound("That attachment does not exist.")
        return AttachmentView.of(row), self.path_of(row.stored_name)

    async def sweep(self, older_than: datetime) -> int:
        """Housekeeping (at start-up, then hourly): forget files attached but never sent
        before ``older_than``, and delete stored files no row refers to any more (their
        message or conversation was deleted) that are older than that too. Returns how many
        files were deleted."""
        stale = await self._db(
            lambda s: [
                row.stored_name
                for row in crud.delete_pending_attachments(session=s, older_than=older_than)
            ]
        )
        known = set(await self._db(lambda s: crud.list_attachment_stored_names(session=s)))

        def delete() -> int:
            return self.store.delete_all(stale) + self.store.delete_unknown(
                known, modified_before=older_than.timestamp()
            )

        return await asyncio.to_thread(delete)
