"""Attachments: check an uploaded file, store it under a server-generated name, tie it to a
message when that message is sent, and read it back for the model or the browser.

The checks are pure functions (:func:`classify`, :func:`display_name`, :func:`check_size`):
a file is accepted by its content, never by the name or type the browser claims. Images are
PNG, JPEG, GIF or WebP by their magic bytes; anything else must be UTF-8 text without NUL
bytes (its extension only labels it, e.g. the language of its fenced block). A refused file
raises :class:`AttachmentRefused`, whose message names the file, what was wrong and the fix,
and never reaches the upload root.

Stored files are named ``<uuid hex>.<extension from a fixed list>``: nothing the user sent
becomes part of a path. :meth:`AttachmentService.path_of` accepts only names of that shape.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Attachment, AttachmentKind
from app.errors import InvalidInput, NotFound
from app.services.authz import Owner
from app.services.kernel import Service

# Known text and code extensions -> the language of a fenced block ("" for plain text).
TEXT_EXTENSIONS: dict[str, str] = {
    "txt": "",
    "log": "",
    "md": "markdown",
    "markdown": "markdown",
    "rst": "rst",
    "py": "python",
    "pyi": "python",
    "ipynb": "json",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "jsx",
    "ts": "typescript",
    "tsx": "tsx",
    "json": "json",
    "jsonl": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "conf": "",
    "env": "",
    "csv": "csv",
    "tsv": "tsv",
    "xml": "xml",
    "svg": "xml",
    "html": "html",
    "htm": "html",
    "css": "css",
    "scss": "scss",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "ps1": "powershell",
    "sql": "sql",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "java": "java",
    "kt": "kotlin",
    "swift": "swift",
    "go": "go",
    "rs": "rust",
    "rb": "ruby",
    "php": "php",
    "pl": "perl",
    "lua": "lua",
    "r": "r",
    "scala": "scala",
    "dart": "dart",
    "ex": "elixir",
    "exs": "elixir",
    "hs": "haskell",
    "ml": "ocaml",
    "vue": "vue",
    "svelte": "svelte",
    "tf": "hcl",
    "proto": "protobuf",
    "graphql": "graphql",
    "diff": "diff",
    "patch": "diff",
    "tex": "latex",
    "dockerfile": "dockerfile",
    "makefile": "makefile",
}

# Image types by their magic bytes -> (media type, stored extension).
IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}

ALLOWED_HINT = "Attach text, code, or PNG/JPEG/GIF/WebP images."
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,10}$")
MAX_NAME_CHARS = 255


class AttachmentRefused(InvalidInput):
    """A file that cannot be attached; the message names it and says what to do."""


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    text_max_bytes: int = 1_000_000
    image_max_bytes: int = 5_000_000
    max_files: int = 10  # per message

    @property
    def max_bytes(self) -> int:
        return max(self.text_max_bytes, self.image_max_bytes)


@dataclass(frozen=True, slots=True)
class Checked:
    """What :func:`classify` found out about an acceptable file."""

    kind: AttachmentKind
    media_type: str
    extension: str  # for the stored name: from IMAGE_TYPES or TEXT_EXTENSIONS, or "txt"


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


# ----- pure checks ------------------------------------------------------------------------


def format_size(size: int) -> str:
    """``532 bytes``, ``12.4 KB``, ``3.2 MB`` (decimal units, as file managers show)."""
    if size < 1000:
        return f"{size} byte" + ("" if size == 1 else "s")
    for unit, scale in (("KB", 1000), ("MB", 1000**2), ("GB", 1000**3)):
        value = size / scale
        if value < 999.95 or unit == "GB":
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    raise AssertionError("unreachable")


def display_name(raw: str | None) -> str:
    """A file name safe to show and store as text: the last path component of what the
    browser sent, without control characters, NFC-normalised, at most 255 characters.
    It is only ever displayed; it never becomes part of a path."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        return "file"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME_CHARS - len(ext) - 2] + "…." + ext
        else:
            name = name[: MAX_NAME_CHARS - 1] + "…"
    return name


def extension_of(name: str) -> str:
    """The lower-case extension of a display name; a whole name for ``Makefile`` and kin."""
    path = PurePosixPath(name.lower())
    if path.suffix:
        return path.suffix[1:]
    return path.name


def language_of(name: str) -> str:
    """The fenced-block language for a text attachment's name ("" when unknown)."""
    return TEXT_EXTENSIONS.get(extension_of(name), "")


def sniff_image(data: bytes) -> str | None:
    """The image media type from the first bytes, or None when it is no supported image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_text(data: bytes) -> bool:
    """UTF-8 (a BOM allowed) with no NUL byte."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def check_size(name: str, size: int, limit: int, kind: str = "file") -> None:
    """Refuse a file over ``limit`` bytes, or an empty one."""
    if size == 0:
        raise AttachmentRefused(f"{name} is empty; there is nothing to attach.")
    if size > limit:
        fix = "Shrink the image" if kind == "image" else "Attach a shorter excerpt"
        raise AttachmentRefused(
            f"{name} is {format_size(size)}; the limit is {format_size(limit)}. {fix}."
        )


def classify(name: str, data: bytes, limits: AttachmentLimits) -> Checked:
    """Decide by content whether ``data`` may be attached, and as what. Raises
    :class:`AttachmentRefused` with a message naming ``name``."""
    media_type = sniff_image(data)
    if media_type is not None:
        check_size(name, len(data), limits.image_max_bytes, "image")
        return Checked(AttachmentKind.image, media_type, IMAGE_TYPES[media_type])
    if not is_text(data):
        raise AttachmentRefused(f"{name}: this kind of file can't be attached. {ALLOWED_HINT}")
    check_size(name, len(data), limits.text_max_bytes, "text")
    ext = extension_of(name)
    stored_ext = ext if ext in TEXT_EXTENSIONS and "." not in ext and len(ext) <= 10 else "txt"
    if not re.fullmatch(r"[a-z0-9]+", stored_ext):
        stored_ext = "txt"
    return Checked(AttachmentKind.text, "text/plain", stored_ext)


def decode_text(data: bytes) -> str:
    return data.decode("utf-8-sig")


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
        self.root = root
        self.limits = limits or AttachmentLimits()

    def path_of(self, stored_name: str) -> Path:
        """The file for a stored name; only server-generated names are accepted."""
        if not _STORED_NAME.fullmatch(stored_name):
            raise NotFound("That attachment does not exist.")
        return self.root / stored_name

    def _write(self, stored_name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path_of(stored_name).open("xb") as out:  # never overwrite
            out.write(data)

    async def add(
        self, filename: str | None, data: bytes, *, pending: int = 0, owner: Owner | None = None
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
        stored_name = f"{uuid.uuid4().hex}.{checked.extension}"
        await asyncio.to_thread(self._write, stored_name, data)
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
            saved = await self._db(lambda s: crud.add_attachment(session=s, attachment=row))
        except BaseException:
            self.path_of(stored_name).unlink(missing_ok=True)
            raise
        return AttachmentView.of(saved)

    def copy_to(
        self, session: Session, *, from_message_id: int, conversation_id: str, message_id: int
    ) -> int:
        """Attach copies of one message's files to another (an edited question keeps its
        files), inside the caller's transaction. Each copy is its own file under a new
        server-generated name, so deleting either message never takes the other's files; a
        copy whose transaction rolls back is left unreferenced, for the start-up sweep."""
        rows = crud.list_message_attachments(session=session, message_ids=[from_message_id])
        for row in rows:
            stored_name = f"{uuid.uuid4().hex}{Path(row.stored_name).suffix}"
            try:
                self._write(stored_name, self.read_bytes(row.stored_name))
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
        owner: Owner | None = None,
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
        owner: Owner | None = None,
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
            await asyncio.to_thread(self.path_of(row.stored_name).unlink, missing_ok=True)

    async def get(self, attachment_id: str) -> tuple[AttachmentView, Path]:
        """An attachment and its file, by id (what the file route serves)."""
        row = await self._db(lambda s: crud.get_attachment(session=s, attachment_id=attachment_id))
        if row is None:
            raise NotFound("That attachment does not exist.")
        return AttachmentView.of(row), self.path_of(row.stored_name)

    def read_bytes(self, stored_name: str) -> bytes:
        return self.path_of(stored_name).read_bytes()

    async def sweep(self, older_than: datetime) -> int:
        """Start-up housekeeping: forget files attached but never sent before ``older_than``,
        and delete stored files no row refers to any more (their conversation was purged)
        that are older than that too. Returns how many files were deleted."""
        stale = await self._db(
            lambda s: [
                row.stored_name
                for row in crud.delete_pending_attachments(session=s, older_than=older_than)
            ]
        )
        known = set(await self._db(lambda s: crud.list_attachment_stored_names(session=s)))

        def delete() -> int:
            deleted = 0
            for name in stale:
                self.path_of(name).unlink(missing_ok=True)
                deleted += 1
            if not self.root.is_dir():
                return deleted
            cutoff = older_than.timestamp()
            for path in self.root.iterdir():
                if (
                    _STORED_NAME.fullmatch(path.name)
                    and path.name not in known
                    and path.is_file()
                    and path.stat().st_mtime < cutoff
                ):
                    path.unlink(missing_ok=True)
                    deleted += 1
            return deleted

        return await asyncio.to_thread(delete)
