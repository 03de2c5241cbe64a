"""Attachment storage: the files under the upload root, by server-generated names only.

Stored files are named ``<uuid hex>.<extension from a fixed list>``: nothing the user sent
becomes part of a path. :meth:`AttachmentStore.path_of` accepts only names of that shape, so a
name from anywhere else (a forged id, ``../../etc/passwd``, an absolute path, a NUL byte)
never reaches the filesystem. The database rows are the service's job
(:mod:`app.services.attachments`); this module only reads, writes and deletes files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path

from app.errors import NotFound

STORED_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,10}$")


def new_stored_name(extension: str) -> str:
    """A fresh server-generated name; ``extension`` comes from a fixed list, never the user."""
    if not re.fullmatch(r"[a-z0-9]{1,10}", extension):
        raise ValueError(f"not a stored extension: {extension!r}")
    return f"{uuid.uuid4().hex}.{extension}"


class AttachmentStore:
    """The upload root and the files in it (blocking calls: run them off the event loop)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, stored_name: str) -> Path:
        """The file for a stored name; only server-generated names are accepted."""
        if not STORED_NAME.fullmatch(stored_name):
            raise NotFound("That attachment does not exist.")
        return self.root / stored_name

    def write(self, stored_name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path_of(stored_name).open("xb") as out:  # never overwrite
            out.write(data)

    def read_bytes(self, stored_name: str) -> bytes:
        return self.path_of(stored_name).read_bytes()

    def copy(self, stored_name: str) -> str:
        """A copy of a stored file under a new name (same extension); raises OSError if the
        original is gone."""
        new_name = new_stored_name(Path(stored_name).suffix[1:])
        self.write(new_name, self.read_bytes(stored_name))
        return new_name

    def delete(self, stored_name: str) -> None:
        self.path_of(stored_name).unlink(missing_ok=True)

    def delete_all(self, stored_names: Iterable[str]) -> int:
        deleted = 0
        for name in stored_names:
            self.delete(name)
            deleted += 1
        return deleted

    def delete_unknown(self, known: Collection[str], *, modified_before: float) -> int:
        """Delete stored files no row refers to (their message or conversation was deleted)
        last modified before ``modified_before`` (a timestamp), so a file being written for a
        row not yet committed is left alone. Files not named by the server are not touched."""
        if not self.root.is_dir():
            return 0
        deleted = 0
        for path in self.root.iterdir():
            if (
                STORED_NAME.fullmatch(path.name)
                and path.name not in known
                and path.is_file()
                and path.stat().st_mtime < modified_before
            ):
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted
