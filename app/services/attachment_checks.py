"""Attachment checks: decide by its content whether an uploaded file may be attached, and as
what. Pure functions, no I/O.

A file is accepted by its content, never by the name or type the browser claims. Images are
PNG, JPEG, GIF or WebP by their magic bytes; anything else must be UTF-8 text without NUL
bytes (its extension only labels it, e.g. the language of its fenced block). A refused file
raises :class:`AttachmentRefused`, whose message names the file, what was wrong and the fix.
The file name a browser sends is only ever displayed (:func:`display_name`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from app.db.models import AttachmentKind
from app.errors import InvalidInput

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
MAX_NAME_CHARS = 255


class AttachmentRefused(InvalidInput):
    """A file that cannot be attached; the message names it and says what to do."""


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    text_max_bytes: int = 1_000_000
    image_max_bytes: int = 5_000_000
    max_files: int = 10  # per message
    # Per user: the bytes of files uploaded but not yet sent, in all their composers.
    pending_max_bytes: int = 100_000_000

    @property
    def max_bytes(self) -> int:
        return max(self.text_max_bytes, self.image_max_bytes)

    @property
    def upload_body_max_bytes(self) -> int:
        """The largest upload request worth reading: ``max_files`` files of the largest
        kind, plus room for the multipart framing (boundaries and part headers)."""
        return self.max_files * (self.max_bytes + PART_FRAMING_BYTES) + UPLOAD_FRAMING_BYTES

    def largest_file(self, upload_cap: int | None = None) -> int:
        """The largest single file the browser should send: the largest kind's limit, and no
        more than a ``max_files``-th of what one upload's cap (``upload_cap``, or
        :attr:`upload_body_max_bytes`) leaves after the framing. So ``max_files`` files
        within it always fit one upload, and the browser, refusing larger files itself with
        their name, size and this limit, never meets a bare HTTP 413. (With the default cap
        this is just the largest kind's limit.)"""
        cap = upload_cap or self.upload_body_max_bytes
        share = (cap - UPLOAD_FRAMING_BYTES) // self.max_files - PART_FRAMING_BYTES
        return max(1, min(self.max_bytes, share))


# Room one upload request needs besides its files' parts (the closing boundary, the event's
# arguments), and each file's part besides its bytes (boundary and headers), as
# :attr:`AttachmentLimits.upload_body_max_bytes` allows for them.
UPLOAD_FRAMING_BYTES = 65536
PART_FRAMING_BYTES = 4096


def refused_in_browser(
    rejected: Sequence[Mapping[str, object]], *, largest: int, max_files: int
) -> list[str]:
    """What to say about files the browser refused to upload (react-dropzone's rejections,
    as ``{"name", "size", "errors": [code, ...]}``): each too-large file with its name, size
    and the limit; too many files at once as one line. Nothing was sent."""
    messages: list[str] = []
    too_many = 0
    for item in rejected[:100]:
        if not isinstance(item, Mapping):
            continue
        name = display_name(str(item.get("name") or ""))
        size = item.get("size")
        codes = item.get("errors")
        codes = [str(c) for c in codes] if isinstance(codes, list) else []
        if "too-many-files" in codes:
            too_many += 1
        elif "file-too-large" in codes and isinstance(size, int | float):
            messages.append(
                f"{name} is {format_size(int(size))}; the limit is {format_size(largest)}. "
                "Nothing was uploaded; attach a smaller file."
            )
        else:
            messages.append(f"{name} could not be attached. Try another file.")
    if too_many:
        messages.insert(
            0,
            f"{too_many} files at once is more than one message can carry: attach at most "
            f"{max_files} at a time.",
        )
    return messages


@dataclass(frozen=True, slots=True)
class Checked:
    """What :func:`classify` found out about an acceptable file."""

    kind: AttachmentKind
    media_type: str
    extension: str  # for the stored name: from IMAGE_TYPES or TEXT_EXTENSIONS, or "txt"


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
