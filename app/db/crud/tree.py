"""The message tree.

Messages form a tree through ``parent_id``: siblings are versions of one turn (regenerated
replies, edited questions), ordered by id. What a conversation shows is the path from its
``current_leaf_id`` up to a root. Recursive CTEs walk the tree in one query on SQLite and
PostgreSQL alike; each walk starts from a ``message`` row so both infer the same types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.db.models import Attachment, Conversation, Message

_PATH_UP = text(
    """
    WITH RECURSIVE path(id, depth) AS (
        SELECT id, 0 FROM message WHERE id = :start AND conversation_id = :conversation_id
        UNION ALL
        SELECT m.parent_id, path.depth + 1
        FROM path JOIN message AS m ON m.id = path.id
        WHERE m.parent_id IS NOT NULL AND path.depth + 1 < :limit
    )
    SELECT id FROM path ORDER BY depth
    """
)

_NEWEST_LEAF = text(
    """
    WITH RECURSIVE down(id, depth) AS (
        SELECT id, 0 FROM message WHERE id = :start
        UNION ALL
        SELECT child.id, down.depth + 1
        FROM down JOIN message AS child ON child.parent_id = down.id
        WHERE child.id = (SELECT MAX(c.id) FROM message AS c WHERE c.parent_id = down.id)
    )
    SELECT id FROM down ORDER BY depth DESC LIMIT 1
    """
)

_SUBTREE = text(
    """
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM message WHERE id = :start
        UNION ALL
        SELECT m.id FROM message AS m JOIN tree ON m.parent_id = tree.id
    )
    SELECT id FROM tree
    """
)


@dataclass(frozen=True, slots=True)
class Versions:
    """Where a message stands among its siblings (the versions of its turn)."""

    index: int  # 1-based, oldest first
    count: int
    previous: int | None  # the older sibling's id
    next: int | None  # the newer sibling's id


def list_path(
    *,
    session: Session,
    conversation_id: str,
    leaf_id: int | None,
    limit: int,
    before_id: int | None = None,
) -> list[Message]:
    """The branch ending at ``leaf_id``: its newest ``limit`` messages, oldest first.

    With ``before_id`` (a message on the path), the page above it: its nearest ``limit``
    ancestors. Messages of other conversations are never followed.
    """
    start = leaf_id
    if before_id is not None:
        above = session.get(Message, before_id)
        start = above.parent_id if above and above.conversation_id == conversation_id else None
    if start is None or limit <= 0:
        return []
    ids = [
        row[0]
        for row in session.execute(
            _PATH_UP, {"start": start, "conversation_id": conversation_id, "limit": limit}
        )
    ]
    rows = session.exec(select(Message).where(col(Message.id).in_(ids))).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in reversed(ids) if i in by_id]


def on_path(*, session: Session, conversation_id: str, leaf_id: int, message_id: int) -> bool:
    """True if ``message_id`` is on the branch ending at ``leaf_id`` (the leaf included)."""
    ids = session.execute(
        _PATH_UP, {"start": leaf_id, "conversation_id": conversation_id, "limit": 1_000_000}
    )
    return any(row[0] == message_id for row in ids)


def sibling_versions(
    *, session: Session, conversation_id: str, message_ids: Sequence[int]
) -> dict[int, Versions]:
    """For each message, its place among its siblings. Root messages' siblings are the
    conversation's other parent-less messages."""
    if not message_ids:
        return {}
    parents = set(
        session.exec(select(Message.parent_id).where(col(Message.id).in_(message_ids))).all()
    )
    known_parents = [p for p in parents if p is not None]
    same_turn = col(Message.parent_id).in_(known_parents)
    if None in parents:
        same_turn = or_(same_turn, col(Message.parent_id).is_(None))
    parent, order = col(Message.parent_id), col(Message.id)
    ranked = (
        sa_select(
            order.label("id"),
            func.row_number().over(partition_by=parent, order_by=order).label("position"),
            func.count().over(partition_by=parent).label("siblings"),
            func.lag(order).over(partition_by=parent, order_by=order).label("previous"),
            func.lead(order).over(partition_by=parent, order_by=order).label("following"),
        )
        .where(col(Message.conversation_id) == conversation_id, same_turn)
        .subquery()
    )
    rows = session.execute(sa_select(ranked).where(ranked.c.id.in_(message_ids))).all()
    return {
        row.id: Versions(int(row.position), int(row.siblings), row.previous, row.following)
        for row in rows
    }


def newest_leaf(*, session: Session, message_id: int) -> int | None:
    """The leaf reached from ``message_id`` by following the newest child at each level
    (the message itself when it has no children). None if it does not exist."""
    row = session.execute(_NEWEST_LEAF, {"start": message_id}).first()
    return None if row is None else int(row[0])


def delete_subtree(*, session: Session, message_id: int) -> list[int]:
    """Delete a message and everything under it; returns the deleted ids (none if missing).

    Explicitly, row by row of the subtree, rather than trusting ON DELETE CASCADE, which
    SQLite honours only with PRAGMA foreign_keys on. Attachment rows of those messages go
    too; their call-log rows stay (spend outlives messages). The conversation's leaf is the
    caller's to move.
    """
    ids = [int(row[0]) for row in session.execute(_SUBTREE, {"start": message_id})]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(Attachment).where(col(Attachment.message_id).in_(chunk)))
    # Deepest first (children have larger ids than their parents), so no row ever points at
    # a deleted parent, whatever the foreign-key settings.
    for start in range(0, len(ids), 500):
        chunk = sorted(ids, reverse=True)[start : start + 500]
        session.execute(delete(Message).where(col(Message.id).in_(chunk)))
    session.expire_all()
    return ids


def set_current_leaf(*, session: Session, conversation_id: str, leaf_id: int | None) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(current_leaf_id=leaf_id)
    )
