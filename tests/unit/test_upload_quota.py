"""Files waiting to be sent have a per-user quota, and the sweep deletes what nobody can send
or read any more: on a real database (SQLite and PostgreSQL) and a real upload directory."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.models import Attachment, User
from app.errors import NotFound
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.attachments import AttachmentLimits, AttachmentService
from app.services.chat import ChatService
from app.services.options import PostExtras

LIMITS = AttachmentLimits(text_max_bytes=1000, image_max_bytes=1000, pending_max_bytes=2500)


@dataclass(frozen=True)
class Uploader:
    user_id: str | None
    project_id: str | None = None


def add_user(engine: Engine, email: str) -> str:
    with Session(engine) as session:
        user = User(email=email)
        session.add(user)
        session.commit()
        return user.id


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def service(engine: Engine, root: Path) -> AttachmentService:
    return AttachmentService(engine, root, LIMITS)


def chat_with(engine: Engine, service: AttachmentService) -> ChatService:
    provider = ScriptedProvider([ScriptedReply.of("one"), ScriptedReply.of("two")])
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "f"), provider)
    return ChatService(engine, registry, attachments=service)


async def test_pending_bytes_over_the_quota_are_refused_naming_the_file_and_the_fix(
    engine: Engine, service: AttachmentService, root: Path
) -> None:
    alice = Uploader(add_user(engine, "alice@example.com"))
    bob = Uploader(add_user(engine, "bob@example.com"))
    result = await service.add_many(
        [(f"{n}.txt", 900, _reader(b"a" * 900)) for n in ("one", "two", "three")], owner=alice
    )
    assert [v.filename for v in result.added] == ["one.txt", "two.txt"]
    assert result.errors == [
        "three.txt (900 bytes) would bring your files waiting to be sent to 2.7 KB; the limit "
        "is 2.5 KB. Send the files already attached, or remove some, then attach it again."
    ]
    assert len(os.listdir(root)) == 2  # the refused file's bytes were removed again

    # The quota is per user: Bob's composer is not Alice's.
    assert (await service.add("bob.txt", b"b" * 900, owner=bob)).filename == "bob.txt"
    # Removing a waiting file frees its bytes.
    await service.remove_pending(result.added[0].id)
    assert (await service.add("three.txt", b"a" * 900, owner=alice)).size == 900


async def test_sent_files_no_longer_count_against_the_quota(
    engine: Engine, service: AttachmentService
) -> None:
    owner = Uploader(None)  # a single-user install: unowned files share one quota
    first = await service.add("one.txt", b"a" * 900, owner=owner)
    second = await service.add("two.txt", b"a" * 900, owner=owner)
    await chat_with(engine, service).post_message(
        None, "with files", extras=PostExtras((first.id, second.id))
    )
    for name in ("three.txt", "four.txt"):
        assert (await service.add(name, b"a" * 900, owner=owner)).filename == name


async def test_the_sweep_deletes_files_of_deleted_messages_and_old_pending_ones(
    engine: Engine, service: AttachmentService, root: Path
) -> None:
    chat = chat_with(engine, service)
    kept = await service.add("kept.txt", b"kept")
    gone = await service.add("gone.txt", b"its message is deleted")
    await chat.post_message(None, "kept", extras=PostExtras((kept.id,)))
    posted = await chat.post_message(None, "deleted", extras=PostExtras((gone.id,)))
    await chat.stream_reply(posted.reply.id)
    old = await service.add("old pending.txt", b"never sent")
    with Session(engine) as session:  # attached two days ago
        row = session.get(Attachment, old.id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(days=2)
        session.add(row)
        session.commit()
    await asyncio.to_thread(_age_files, root, 2 * 86400)  # all of it two days old ...
    fresh = await service.add("fresh pending.txt", b"just attached")
    _, gone_path = await service.get(gone.id)
    await chat.delete_message(posted.user.id)
    assert gone_path.exists()  # the row went with its message; the file waits for the sweep

    deleted = await service.sweep(datetime.now(UTC) - timedelta(days=1))
    assert deleted == 2  # the deleted message's file and the pending one over a day old
    assert not gone_path.exists()
    assert {(await service.get(i))[0].filename for i in (kept.id, fresh.id)} == {
        "kept.txt",
        "fresh pending.txt",
    }
    assert len(os.listdir(root)) == 2
    with pytest.raises(NotFound):
        await service.get(old.id)


def _reader(data: bytes):
    async def read() -> bytes:
        return data

    return read


def _age_files(root: Path, seconds: float) -> None:
    for path in root.iterdir():
        stamp = path.stat().st_mtime - seconds
        os.utime(path, (stamp, stamp))
