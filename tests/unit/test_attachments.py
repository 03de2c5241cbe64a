"""Attachments: checks by content, server-generated storage names, limits, and the service on
a real database (SQLite and PostgreSQL) and a real upload directory."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.db.models import Attachment, AttachmentKind, Conversation, Message
from app.errors import InvalidInput, NotFound
from app.services.attachments import (
    AttachmentLimits,
    AttachmentRefused,
    AttachmentService,
    classify,
    display_name,
    format_size,
    language_of,
    sniff_image,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20
GIF = b"GIF89a" + b"\x00" * 20
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8
LIMITS = AttachmentLimits(text_max_bytes=1_000_000, image_max_bytes=2_000_000, max_files=3)


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_images_are_recognised_by_their_magic_bytes_whatever_the_name(
    data: bytes, media_type: str
) -> None:
    assert sniff_image(data) == media_type
    checked = classify("holiday.txt", data, LIMITS)  # the name lies; the content decides
    assert (checked.kind, checked.media_type) == (AttachmentKind.image, media_type)


def test_text_and_code_are_accepted_by_content_and_labelled_by_extension() -> None:
    checked = classify("script.py", "print('héllo')\n".encode(), LIMITS)
    assert (checked.kind, checked.media_type, checked.extension) == (
        AttachmentKind.text,
        "text/plain",
        "py",
    )
    assert language_of("script.py") == "python" and language_of("Makefile") == "makefile"
    # An unknown extension with text content is still text, stored as .txt.
    assert classify("notes.weird", b"plain words", LIMITS).extension == "txt"
    # A BOM is fine.
    assert classify("a.csv", b"\xef\xbb\xbfa,b\n", LIMITS).kind == AttachmentKind.text


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable: NUL bytes
        b"\xff\xfe\x00h\x00i",  # UTF-16
        b"caf\xe9 latin-1",  # not UTF-8
        b"%PDF-1.7\n\x00\x01\x02",
    ],
)
def test_anything_else_is_refused_naming_the_file_and_the_fix(data: bytes) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        classify("report.exe", data, LIMITS)
    assert refused.value.message == (
        "report.exe: this kind of file can't be attached. "
        "Attach text, code, or PNG/JPEG/GIF/WebP images."
    )


def test_size_limits_per_kind_with_readable_sizes() -> None:
    with pytest.raises(AttachmentRefused, match=r"^big\.log is 3\.2 MB; the limit is 1 MB\."):
        classify("big.log", b"x" * 3_200_000, LIMITS)
    with pytest.raises(AttachmentRefused, match=r"^big\.log is 1\.2 MB; the limit is 1 MB\."):
        classify("big.log", b"x" * 1_200_000, LIMITS)
    # Images have their own limit: 1.5 MB passes, 2.5 MB does not.
    assert classify("p.png", PNG + b"\x00" * 1_500_000, LIMITS).kind == AttachmentKind.image
    with pytest.raises(AttachmentRefused, match=r"the limit is 2 MB\. Shrink the image"):
        classify("p.png", PNG + b"\x00" * 2_500_000, LIMITS)
    with pytest.raises(AttachmentRefused, match="empty"):
        classify("empty.txt", b"", LIMITS)
    assert [format_size(n) for n in (1, 999, 1000, 12_345, 1_000_000, 3_250_000)] == [
        "1 byte",
        "999 bytes",
        "1 KB",
        "12.3 KB",
        "1 MB",
        "3.2 MB",
    ]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../x", "x"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\me\\secret.txt", "secret.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("re\u0301sume\u0301.md", "résumé.md"),  # NFC
        ("日本語のメモ.txt", "日本語のメモ.txt"),
        ("line\nbreak\u202e.txt", "linebreak.txt"),  # control and bidi override chars go
    ],
)
def test_display_names_keep_only_a_harmless_last_component(raw: str | None, shown: str) -> None:
    assert display_name(raw) == shown


def test_a_very_long_name_is_shortened_keeping_its_extension() -> None:
    name = display_name("a" * 400 + ".py")
    assert len(name) <= 255 and name.endswith("….py")


def assert_stored_inside(root: Path, stored_name: str, data: bytes) -> None:
    path = root / stored_name
    assert path.read_bytes() == data
    assert path.resolve().parent == root.resolve()
    # Nothing was written outside the root.
    assert [p.name for p in root.parent.iterdir() if not p.name.startswith("parley.db")] == [
        "uploads"
    ]
    assert not Path("/tmp/abs.py").exists()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def service(engine: Engine, root: Path) -> AttachmentService:
    return AttachmentService(engine, root, LIMITS)


@pytest.mark.parametrize(
    "hostile",
    ["../../x.py", "/tmp/abs.py", "..\\..\\win.py", "nul\x00byte.py", "ünï/cødé.py", "x.py/.."],
)
async def test_storage_names_are_generated_and_stay_inside_the_root(
    service: AttachmentService, root: Path, engine: Engine, hostile: str
) -> None:
    view = await service.add(hostile, b"print(1)\n")
    with Session(engine) as session:
        row = session.get(Attachment, view.id)
    assert row is not None
    assert os.listdir(root) == [row.stored_name]
    assert row.stored_name.endswith((".py", ".txt")) and len(row.stored_name) <= 40
    assert "/" not in view.filename and "\x00" not in view.filename
    assert_stored_inside(root, row.stored_name, b"print(1)\n")


async def test_a_refused_file_never_reaches_disk_and_others_go_through(
    service: AttachmentService, root: Path
) -> None:
    async def reader(data: bytes):
        async def read() -> bytes:
            return data

        return read

    result = await service.add_many(
        [
            ("report.exe", 8, await reader(b"MZ\x00\x00\x00\x00\x00\x00")),
            ("ok.md", 4, await reader(b"# ok")),
            ("big.log", 5_000_000, await reader(b"never read")),
            ("pic.png", len(PNG), await reader(PNG)),
        ]
    )
    assert [v.filename for v in result.added] == ["ok.md", "pic.png"]
    assert [e.split(":")[0].split(" is ")[0] for e in result.errors] == ["report.exe", "big.log"]
    assert result.errors[1] == (
        "big.log is 5 MB; the limit is 1 MB for text and 2 MB for images. Attach a smaller file."
    )
    assert len(os.listdir(root)) == 2
    assert {os.path.splitext(name)[1] for name in os.listdir(root)} == {".md", ".png"}


async def test_the_file_count_limit_names_the_file_and_the_fix(service: AttachmentService) -> None:
    with pytest.raises(AttachmentRefused, match=r"^four\.txt: a message takes at most 3 files"):
        await service.add("four.txt", b"4", pending=3)


async def test_removing_a_pending_file_deletes_it_and_paths_are_only_ids(
    service: AttachmentService, root: Path
) -> None:
    view = await service.add("a.txt", b"hello")
    got, path = await service.get(view.id)
    assert got == view and path == root / os.listdir(root)[0]
    await service.remove_pending(view.id)
    assert os.listdir(root) == []
    with pytest.raises(NotFound):
        await service.get(view.id)
    for bad in ("../parley.db", "/etc/passwd", "x" * 32, "0" * 32 + ".py/.."):
        with pytest.raises(NotFound):
            service.path_of(bad)


async def test_claimed_files_join_the_message_and_images_need_a_vision_model(
    engine: Engine, service: AttachmentService
) -> None:
    from app.llm.fake import ScriptedProvider, ScriptedReply
    from app.llm.registry import ModelInfo, ModelRegistry
    from app.services.chat import ChatService
    from app.services.options import PostExtras

    registry = ModelRegistry(default="blind")
    registry.register(ModelInfo("blind", "Blind", "fake", "b"), ScriptedProvider([]))
    registry.register(
        ModelInfo("seer", "Seer", "fake", "s", vision=True),
        ScriptedProvider([ScriptedReply.of("ok")]),
    )
    chat = ChatService(engine, registry, attachments=service)
    text = await service.add("n.txt", b"note")
    image = await service.add("p.png", PNG)

    with pytest.raises(InvalidInput, match=r"^Blind can't see images \(p\.png\)"):
        await chat.post_message(None, "look", extras=PostExtras(attachment_ids=(text.id, image.id)))
    # Nothing was saved: no conversation, no message, and both files are still pending.
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Conversation)).one() == 0
        assert session.exec(select(func.count()).select_from(Message)).one() == 0
        rows = [session.get(Attachment, i) for i in (text.id, image.id)]
        assert [r.message_id for r in rows if r] == [None, None]

    posted = await chat.post_message(
        None, "", model="seer", extras=PostExtras(attachment_ids=(text.id, image.id))
    )
    assert [a.filename for a in posted.user.attachments] == ["n.txt", "p.png"]
    assert posted.conversation.title == "Attached files"  # a message of files only
    assert posted.user.attachments[0].size_label == "4 bytes"
    await chat.stream_reply(posted.reply.id)  # a conversation takes one at a time
    # A sent file cannot be claimed again, or removed from its message.
    with pytest.raises(InvalidInput, match="no longer available"):
        await chat.post_message(posted.conversation.id, "again", extras=PostExtras((text.id,)))
    await service.remove_pending(text.id)
    assert (await service.get(text.id))[0].id == text.id


async def test_an_edited_question_keeps_its_files_as_copies(
    engine: Engine, service: AttachmentService
) -> None:
    from app.llm.fake import ScriptedProvider, ScriptedReply
    from app.llm.registry import ModelInfo, ModelRegistry
    from app.services.chat import ChatService
    from app.services.options import PostExtras

    provider = ScriptedProvider([ScriptedReply.of("one"), ScriptedReply.of("two")])
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "f"), provider)
    chat = ChatService(engine, registry, attachments=service)
    note = await service.add("notes.md", b"remember the milk\n")
    posted = await chat.post_message(None, "summarise", extras=PostExtras((note.id,)))
    await chat.stream_reply(posted.reply.id)

    edited = await chat.edit_and_resend(posted.user.id, "summarise briefly")
    await chat.stream_reply(edited.reply.id)

    assert [a.filename for a in edited.user.attachments] == ["notes.md"]
    assert edited.user.attachments[0].id != note.id  # a copy, not the same row
    assert "remember the milk" in provider.requests[1].messages[-1].content
    # Deleting the old question (and its file) leaves the new one's copy readable.
    await chat.delete_message(posted.user.id)
    copy, path = await service.get(edited.user.attachments[0].id)
    assert path.read_bytes() == b"remember the milk\n" and copy.filename == "notes.md"


def age_files(root: Path, seconds: float) -> None:
    for path in root.iterdir():
        stamp = path.stat().st_mtime - seconds
        os.utime(path, (stamp, stamp))


async def test_sweep_forgets_abandoned_uploads_and_unreferenced_files(
    engine: Engine, service: AttachmentService, root: Path
) -> None:
    from app.llm.fake import ScriptedProvider
    from app.llm.registry import ModelInfo, ModelRegistry
    from app.services.chat import ChatService
    from app.services.options import PostExtras

    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "f"), ScriptedProvider([]))
    chat = ChatService(engine, registry, attachments=service)
    sent = await service.add("sent.txt", b"kept")
    await chat.post_message(None, "with a file", extras=PostExtras((sent.id,)))
    abandoned = await service.add("abandoned.txt", b"never sent")
    with Session(engine) as session:  # uploaded an hour ago
        row = session.get(Attachment, abandoned.id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
        session.add(row)
        session.commit()
    (root / ("f" * 32 + ".txt")).write_bytes(b"orphan")  # its conversation was purged
    await asyncio.to_thread(age_files, root, 3600)
    fresh = await service.add("fresh.txt", b"just uploaded")

    deleted = await service.sweep(datetime.now(UTC) - timedelta(minutes=30))
    assert deleted == 2  # the abandoned upload and the orphan
    remaining = {(await service.get(i))[0].filename for i in (sent.id, fresh.id)}
    assert remaining == {"sent.txt", "fresh.txt"}
    with pytest.raises(NotFound):
        await service.get(abandoned.id)
    assert len(os.listdir(root)) == 2
