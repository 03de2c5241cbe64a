"""Import and export through the service, on SQLite and PostgreSQL: each format with a small
realistic file, the tree kept, bad files refused naming the record and writing nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.db import crud
from app.db.models import Conversation, Message, MessageStatus, Role
from app.errors import Forbidden, NotFound
from app.services.authz import Principal
from app.services.transfer import Progress, Scope, TransferService
from app.services.transfer_formats import InvalidImport
from tests.unit.test_accounts import PASSWORD, service

FILES = Path(__file__).with_name("transfer_files")
Shape = tuple[tuple[Any, ...], ...]


async def person(engine: Engine, email: str) -> Principal:
    signed = await service(engine).sign_up(email, PASSWORD)
    principal = await service(engine).resolve(signed.token)
    assert principal is not None
    return principal


def project_of(principal: Principal) -> str:
    (project,) = principal.roles
    return project


def build_tree(engine: Engine, principal: Principal) -> str:
    """A question, two versions of the reply, a follow-up on the second; the second branch
    on screen."""
    with Session(engine) as session:
        conversation = Conversation(
            title="Tides", model="m-1", project_id=project_of(principal), user_id=principal.user_id
        )
        session.add(conversation)
        session.flush()

        def add(parent: int | None, role: str, text: str, **extra: Any) -> int:
            message = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role=role,
                content=text,
                parent_id=parent,
                **extra,
            )
            assert message.id is not None
            return message.id

        q1 = add(None, "user", "Why are there two tides a day?")
        add(q1, "assistant", "The moon.", model="m-1", status=MessageStatus.stopped)
        a2 = add(q1, "assistant", "The moon's pull and the earth's spin.", model="m-2")
        leaf = add(add(a2, "user", "And spring tides?"), "assistant", "Sun and moon align.")
        crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=leaf)
        session.commit()
        return conversation.id


def shape(engine: Engine, conversation_id: str) -> tuple[Shape, int | None, str]:
    """The tree without its ids: per message (by id) its parent's position, role, content,
    status, model and times; and the position of the leaf on screen."""
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        messages = session.exec(
            select(Message)
            .where(col(Message.conversation_id) == conversation_id)
            .order_by(col(Message.id))
        ).all()
    position = {m.id: i for i, m in enumerate(messages)}
    rows = tuple(
        (
            None if m.parent_id is None else position[m.parent_id],
            m.role,
            m.content,
            str(m.status),
            m.model,
            m.created_at.astimezone(UTC),
        )
        for m in messages
    )
    leaf = None if conversation.current_leaf_id is None else position[conversation.current_leaf_id]
    return rows, leaf, conversation.title


def conversation_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Conversation.id).order_by(col(Conversation.id))).all())


def message_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Message)).one()


async def run_import(
    transfer: TransferService, principal: Principal, path: Path
) -> tuple[list[Progress], list[str]]:
    before = set(conversation_ids(transfer.engine))
    seen = [
        p async for p in transfer.import_file(principal, path, project_id=project_of(principal))
    ]
    return seen, [c for c in conversation_ids(transfer.engine) if c not in before]


def export_text(transfer: TransferService, scope: Scope, fmt: str = "json") -> str:
    chunks = transfer.export_json(scope) if fmt == "json" else transfer.export_markdown(scope)
    return "".join(chunks)


async def test_json_export_has_every_branch_and_markdown_the_one_on_screen(engine: Engine) -> None:
    ada = await person(engine, "ada@example.com")
    conversation_id = build_tree(engine, ada)
    transfer = TransferService(engine)
    scope = await transfer.scope(ada, "conversation", conversation_id)
    document = json.loads(export_text(transfer, scope))
    assert document["format"] == "parley.export" and document["version"] == 1
    (exported,) = document["conversations"]
    assert exported["title"] == "Tides" and exported["user_id"] == ada.user_id
    messages = exported["messages"]
    assert [m["content"] for m in messages][:3] == [
        "Why are there two tides a day?",
        "The moon.",
        "The moon's pull and the earth's spin.",
    ]
    assert messages[1]["parent_id"] == messages[2]["parent_id"] == messages[0]["id"]
    assert messages[1]["status"] == "stopped" and messages[2]["model"] == "m-2"
    assert exported["current_leaf_id"] == messages[-1]["id"]
    assert datetime.fromisoformat(messages[0]["created_at"]).tzinfo is not None

    markdown = export_text(transfer, scope, "md")
    assert markdown.startswith("# Tides\n")
    assert "The moon's pull" in markdown and "Sun and moon align." in markdown
    assert "The moon.\n" not in markdown  # the other version is not on screen
    assert markdown.index("two tides") < markdown.index("spring tides")


async def test_parley_export_imports_as_the_same_tree_stamped_with_the_importer(
    engine: Engine, tmp_path: Path
) -> None:
    ada, bob = await person(engine, "ada@example.com"), await person(engine, "bob@example.com")
    conversation_id = build_tree(engine, ada)
    transfer = TransferService(engine)
    path = tmp_path / "export.json"
    scope = await transfer.scope(ada, "all")
    path.write_text(export_text(transfer, scope))

    progress, (new_id,) = await run_import(transfer, bob, path)
    assert shape(engine, new_id) == shape(engine, conversation_id)
    with Session(engine) as session:
        imported = session.get(Conversation, new_id)
        assert imported is not None
        assert (imported.user_id, imported.project_id) == (bob.user_id, project_of(bob))
    assert progress[0] == Progress("checking", 1)
    assert progress[-1] == Progress("finished", 1, 1, 5)
    assert Progress("writing", 1, 1, 5) in progress


async def test_chatgpt_export_keeps_versions_and_drops_system_and_tool_turns(
    engine: Engine,
) -> None:
    ada = await person(engine, "ada@example.com")
    transfer = TransferService(engine)
    _, (first, second) = await run_import(transfer, ada, FILES / "chatgpt.json")
    shapes = {shape(engine, c)[2]: shape(engine, c) for c in (first, second)}
    rows, leaf, _ = shapes["Sourdough starter"]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        (None, "user", "How often do I feed a starter?", None),
        (0, "assistant", "Once a day at room temperature.", "gpt-4o"),
        (
            0,
            "assistant",
            "Daily, or weekly if refrigerated.\n\n[attachment not imported]",
            "gpt-4o-mini",
        ),
    ]
    assert leaf == 2  # current_node
    assert rows[0][5] == datetime.fromtimestamp(1717000010.0, UTC)
    rows, leaf, _ = shapes["Tool use"]
    # The code sent to the tool is not conversation; the answer hangs from the question.
    assert [(r[0], r[2]) for r in rows] == [(None, "What is 2**64?"), (0, "18446744073709551616")]
    assert leaf == 1


async def test_claude_export_linear_and_threaded(engine: Engine) -> None:
    ada = await person(engine, "ada@example.com")
    transfer = TransferService(engine)
    _, new = await run_import(transfer, ada, FILES / "claude.json")
    shapes = {shape(engine, c)[2]: shape(engine, c) for c in new}
    rows, leaf, _ = shapes["Haiku about rain"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (None, "user", "Write a haiku about rain."),
        (0, "assistant", "Soft rain on the roof\n\nthe gutters hum"),
    ]
    assert leaf == 1
    rows, leaf, _ = shapes["Branching"]
    # Parents first, versions in file order: b1, b2, b3 (under b2), b4 (b2's sibling).
    assert [(r[0], r[2]) for r in rows] == [
        (None, "Name a colour."),
        (0, "Blue."),
        (1, "Another."),
        (0, "Red."),
    ]
    assert leaf == 3


def chatgpt_node(node_id: str, parent: str | None, role: str | None, text: str) -> dict[str, Any]:
    author = {} if role is None else {"role": role}
    return {
        "id": node_id,
        "parent": parent,
        "children": [],
        "message": {
            "id": node_id,
            "author": author,
            "content": {"content_type": "text", "parts": [text]},
        },
    }


BAD_FILES: list[tuple[object, str]] = [
    (
        [
            {"title": "fine", "mapping": {"a": chatgpt_node("a", None, "user", "hi")}},
            {"title": "broken", "mapping": {"abc": chatgpt_node("abc", None, None, "hi")}},
        ],
        "conversation 2, message 'abc': missing author role",
    ),
    (
        [{"name": "x", "chat_messages": [{"uuid": "q", "text": "hi", "sender": "robot"}]}],
        "conversation 1, message 'q': unknown sender 'robot'",
    ),
    (
        [
            {"name": "ok", "chat_messages": []},
            {
                "name": "x",
                "chat_messages": [
                    {"uuid": "q", "text": "hi", "sender": "human", "created_at": "yesterday"}
                ],
            },
        ],
        "conversation 2, message 'q': bad timestamp 'yesterday'",
    ),
    (
        {
            "format": "parley.export",
            "version": 1,
            "conversations": [
                {
                    "title": "t",
                    "messages": [{"id": 1, "parent_id": 7, "role": "user", "content": "x"}],
                }
            ],
        },
        "conversation 1, message '1': its parent '7' is not in the conversation",
    ),
    ({"format": "something else", "conversations": []}, "must be a Parley export"),
    ([{"title": "neither"}], "conversation 1: neither a ChatGPT conversation"),
]


@pytest.mark.parametrize(("content", "error"), BAD_FILES)
async def test_a_bad_file_names_the_record_and_writes_nothing(
    engine: Engine, tmp_path: Path, content: object, error: str
) -> None:
    ada = await person(engine, "ada@example.com")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InvalidImport) as caught:
        await run_import(TransferService(engine), ada, path)
    assert error in str(caught.value)
    assert conversation_ids(engine) == [] and message_count(engine) == 0


async def test_a_truncated_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    ada = await person(engine, "ada@example.com")
    path = tmp_path / "cut.json"
    text = (FILES / "chatgpt.json").read_text()
    path.write_text(text[: int(len(text) * 0.8)])  # the first conversation is whole
    with pytest.raises(InvalidImport) as caught:
        await run_import(TransferService(engine), ada, path)
    expected = "After conversation 1: the file is not valid JSON: parse error: premature EOF"
    assert str(caught.value) == expected
    assert conversation_ids(engine) == []


async def test_exports_and_imports_are_authorised(engine: Engine, tmp_path: Path) -> None:
    ada, bob = await person(engine, "ada@example.com"), await person(engine, "bob@example.com")
    conversation_id = build_tree(engine, ada)
    transfer = TransferService(engine)
    for who in (bob, None):
        with pytest.raises(NotFound):
            await transfer.scope(who, "conversation", conversation_id)
        with pytest.raises(NotFound):
            await transfer.scope(who, "project", project_of(ada))
    with pytest.raises(NotFound):
        await transfer.scope(None, "all")
    # Bob's "all" holds nothing of Ada's, though the query asks only for his own rows.
    assert (
        json.loads(export_text(transfer, await transfer.scope(bob, "all")))["conversations"] == []
    )

    # A viewer of Ada's project may export it, not import into it.
    with Session(engine) as session:
        crud.set_membership(
            session=session, project_id=project_of(ada), user_id=bob.user_id, role=Role.viewer
        )
        session.commit()
    bob = await person_again(engine, bob)
    scope = await transfer.scope(bob, "project", project_of(ada))
    assert len(json.loads(export_text(transfer, scope))["conversations"]) == 1
    path = tmp_path / "x.json"
    path.write_text((FILES / "claude.json").read_text())
    with pytest.raises(Forbidden):
        async for _ in transfer.import_file(bob, path, project_id=project_of(ada)):
            pass
    assert conversation_ids(engine) == [conversation_id]


async def person_again(engine: Engine, principal: Principal) -> Principal:
    """The same user with their roles as the database has them now."""
    with Session(engine) as session:
        roles = {
            m.project_id: Role(m.role)
            for m, _ in crud.list_memberships(session=session, user_id=principal.user_id)
        }
    return Principal(
        principal.user_id,
        principal.email,
        principal.display_name,
        principal.is_admin,
        principal.session_id,
        roles,
    )
