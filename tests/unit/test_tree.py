"""The message tree's CRUD (paths, versions, newest leaf, subtree delete) and call-log spend,
on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import crud
from app.db.models import Attachment, AttachmentKind, CallLog, Message
from app.db.session import session_scope


@dataclass
class Tree:
    """A conversation with branches (ids by name), and an unrelated conversation.

    q1 ─ a1 ─ q2 ─ a2a
    │    │       └ a2b ─ q3 ─ a3      (a2b regenerated a2a)
    │    └ a1b                        (a1b regenerated a1)
    q1b ─ a1c                         (q1b edited q1)
    """

    conversation_id: str
    other_id: str
    ids: dict[str, int]

    def names(self, rows: list[Message]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[row.id] for row in rows if row.id is not None]


SHAPE = [
    ("q1", None, "user"),
    ("a1", "q1", "assistant"),
    ("q2", "a1", "user"),
    ("a2a", "q2", "assistant"),
    ("a1b", "q1", "assistant"),
    ("a2b", "q2", "assistant"),
    ("q1b", None, "user"),
    ("q3", "a2b", "user"),
    ("a1c", "q1b", "assistant"),
    ("a3", "q3", "assistant"),
]


@pytest.fixture
def tree(engine: Engine) -> Tree:
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        conversation = crud.create_conversation(session=session, title="tree", model="fake")
        other = crud.create_conversation(session=session, title="other", model="fake")
        for name, parent, role in SHAPE:
            row = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role=role,
                content=f"text of {name}",
                parent_id=ids[parent] if parent else None,
            )
            assert row.id is not None
            ids[name] = row.id
        stray = crud.add_message(
            session=session, conversation_id=other.id, role="user", content="elsewhere"
        )
        assert stray.id is not None
        ids["stray"] = stray.id
        crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=ids["a3"])
        return Tree(conversation.id, other.id, ids)


def path(engine: Engine, tree: Tree, leaf: str, limit: int, before: str | None = None) -> list[str]:
    with Session(engine) as session:
        rows = crud.list_path(
            session=session,
            conversation_id=tree.conversation_id,
            leaf_id=tree.ids[leaf],
            limit=limit,
            before_id=tree.ids[before] if before else None,
        )
        return tree.names(rows)


def test_the_path_runs_from_the_root_to_the_leaf(engine: Engine, tree: Tree) -> None:
    assert path(engine, tree, "a3", 50) == ["q1", "a1", "q2", "a2b", "q3", "a3"]
    assert path(engine, tree, "a2a", 50) == ["q1", "a1", "q2", "a2a"]
    assert path(engine, tree, "a1c", 50) == ["q1b", "a1c"]
    assert path(engine, tree, "q1", 50) == ["q1"]


def test_the_path_pages_newest_first_then_above_a_message(engine: Engine, tree: Tree) -> None:
    assert path(engine, tree, "a3", 2) == ["q3", "a3"]
    assert path(engine, tree, "a3", 2, before="q3") == ["q2", "a2b"]
    assert path(engine, tree, "a3", 3, before="q2") == ["q1", "a1"]
    assert path(engine, tree, "a3", 3, before="q1") == []
    assert path(engine, tree, "a3", 0) == []


def test_the_path_never_leaves_its_conversation(engine: Engine, tree: Tree) -> None:
    with Session(engine) as session:
        assert (
            crud.list_path(
                session=session,
                conversation_id=tree.conversation_id,
                leaf_id=tree.ids["stray"],
                limit=10,
            )
            == []
        )
        assert (
            crud.list_path(
                session=session, conversation_id=tree.conversation_id, leaf_id=None, limit=10
            )
            == []
        )


def test_versions_count_siblings_and_link_neighbours(engine: Engine, tree: Tree) -> None:
    ids = tree.ids
    wanted = ["q1", "a1", "q2", "a2a", "a2b", "q3", "a1b", "q1b", "a1c"]
    with Session(engine) as session:
        versions = crud.sibling_versions(
            session=session,
            conversation_id=tree.conversation_id,
            message_ids=[ids[n] for n in wanted],
        )
    # Root messages are versions of each other (q1b is an edited q1).
    assert versions[ids["q1"]] == crud.Versions(1, 2, None, ids["q1b"])
    assert versions[ids["q1b"]] == crud.Versions(2, 2, ids["q1"], None)
    assert versions[ids["a1"]] == crud.Versions(1, 2, None, ids["a1b"])
    assert versions[ids["a1b"]] == crud.Versions(2, 2, ids["a1"], None)
    assert versions[ids["a2a"]] == crud.Versions(1, 2, None, ids["a2b"])
    assert versions[ids["a2b"]] == crud.Versions(2, 2, ids["a2a"], None)
    assert versions[ids["q2"]] == crud.Versions(1, 1, None, None)
    assert versions[ids["q3"]] == crud.Versions(1, 1, None, None)
    assert versions[ids["a1c"]] == crud.Versions(1, 1, None, None)
    with Session(engine) as session:
        # The other conversation's parent-less message is no version of q1.
        alone = crud.sibling_versions(
            session=session, conversation_id=tree.other_id, message_ids=[ids["stray"]]
        )
        assert alone == {ids["stray"]: crud.Versions(1, 1, None, None)}
        assert (
            crud.sibling_versions(
                session=session, conversation_id=tree.conversation_id, message_ids=[]
            )
            == {}
        )


def test_the_newest_leaf_follows_the_newest_child(engine: Engine, tree: Tree) -> None:
    ids = tree.ids
    with Session(engine) as session:

        def leaf(name: str) -> int | None:
            return crud.newest_leaf(session=session, message_id=ids[name])

        assert leaf("q1") == ids["a1b"]  # a1b is newer than a1
        assert leaf("a1") == ids["a3"]  # then a2b, newer than a2a
        assert leaf("q2") == ids["a3"]
        assert leaf("a2a") == ids["a2a"]
        assert leaf("a3") == ids["a3"]
        assert leaf("q1b") == ids["a1c"]
        assert crud.newest_leaf(session=session, message_id=10**9) is None


def test_deleting_a_message_takes_its_subtree_and_nothing_else(engine: Engine, tree: Tree) -> None:
    ids = tree.ids
    with session_scope(engine) as session:
        attached = Attachment(
            conversation_id=tree.conversation_id,
            message_id=ids["q3"],
            filename="notes.txt",
            stored_name="stored-notes",
            media_type="text/plain",
            kind=AttachmentKind.text,
            size=5,
        )
        kept = Attachment(
            conversation_id=tree.conversation_id,
            message_id=ids["q1"],
            filename="kept.txt",
            stored_name="stored-kept",
            media_type="text/plain",
            kind=AttachmentKind.text,
            size=4,
        )
        session.add(attached)
        session.add(kept)
    with session_scope(engine) as session:
        deleted = crud.delete_subtree(session=session, message_id=ids["a1"])
    assert sorted(deleted) == sorted(ids[n] for n in ("a1", "q2", "a2a", "a2b", "q3", "a3"))
    with Session(engine) as session:
        left = session.exec(select(Message.id).order_by(col(Message.id))).all()
        assert left == sorted(ids[n] for n in ("q1", "a1b", "q1b", "a1c", "stray"))
        names = session.exec(select(Attachment.filename)).all()
        assert names == ["kept.txt"]
        # The full-text index forgot the deleted messages (kept in step by triggers or indexes).
        assert crud.search_conversations(session=session, query="a2b", limit=5) == []
        hits = crud.search_conversations(session=session, query="a1b", limit=5)
        assert [h.message_id for h in hits] == [ids["a1b"]]
    with session_scope(engine) as session:
        assert crud.delete_subtree(session=session, message_id=ids["a1"]) == []
        assert crud.delete_subtree(session=session, message_id=ids["a1c"]) == [ids["a1c"]]


def _call(conversation_id: str, message_id: int | None, **values: object) -> CallLog:
    fields: dict[str, object] = {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "status": "ok",
        "input_tokens": 10,
        "output_tokens": 5,
        "ttft_ms": 100,
    }
    fields.update(values)
    return CallLog.model_validate(fields)


def test_spend_sums_the_call_log_per_message_and_per_conversation(
    engine: Engine, tree: Tree
) -> None:
    ids, cid = tree.ids, tree.conversation_id
    calls = [
        _call(cid, ids["a2a"], cost=Decimal("0.001")),
        # A 529 before any output, no usage: not billed, so its NULL cost is no unknown.
        _call(cid, ids["a2b"], status="error", input_tokens=0, output_tokens=0, ttft_ms=None),
        _call(cid, ids["a2b"], cost=Decimal("0.002"), attempt=2),
        # Output arrived, then no price: unknown.
        _call(cid, ids["a3"], provider="openai-compatible", cost=None),
        _call(cid, None, feature="title", cost=Decimal("0.0005")),
        _call(tree.other_id, ids["stray"], cost=Decimal("9")),
        # The built-in model: free, and known to be.
        _call(cid, ids["a1c"], provider="local", cost=Decimal(0)),
    ]
    with session_scope(engine) as session:
        for call in calls:
            crud.add_call_log(session=session, call=call)
    with Session(engine) as session:
        spend = crud.spend_by_message(
            session=session, message_ids=[ids[n] for n in ("q2", "a2a", "a2b", "a3", "a1c")]
        )
        total = crud.conversation_spend(session=session, conversation_id=cid)
    assert spend == {
        ids["a2a"]: crud.Spend(1, Decimal("0.001"), 0),
        ids["a2b"]: crud.Spend(2, Decimal("0.002"), 0),
        ids["a3"]: crud.Spend(1, Decimal(0), 1),
        ids["a1c"]: crud.Spend(1, Decimal(0), 0),
    }
    assert total == crud.Spend(6, Decimal("0.0035"), 1)
    # Deleting messages keeps what they cost in the conversation's total.
    with session_scope(engine) as session:
        crud.delete_subtree(session=session, message_id=ids["q2"])
    with Session(engine) as session:
        assert crud.conversation_spend(session=session, conversation_id=cid) == total
        assert crud.conversation_spend(session=session, conversation_id="none") == crud.Spend()
        assert crud.spend_by_message(session=session, message_ids=[]) == {}
