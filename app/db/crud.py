"""Keyword-only CRUD over the tables in :mod:`app.db.models`. Each function takes a session."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, delete, func, not_, or_, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.db.models import (
    Attachment,
    CallLog,
    Conversation,
    Message,
    MessageStatus,
    Prompt,
    PromptVersion,
    utcnow,
)


def create_conversation(*, session: Session, title: str, model: str) -> Conversation:
    conversation = Conversation(title=title, model=model)
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(
    *, session: Session, conversation_id: str, include_deleted: bool = False
) -> Conversation | None:
    """The conversation, or None. A deleted one (in the trash) only with ``include_deleted``."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or (conversation.deleted_at is not None and not include_deleted):
        return None
    return conversation


def list_conversations(
    *,
    session: Session,
    limit: int,
    updated_before: datetime | None = None,
    pinned: bool | None = None,
) -> Sequence[Conversation]:
    """Conversations not deleted, newest first; pass the last row's ``updated_at`` to get the
    next page. ``pinned=False`` lists only unpinned ones and ``pinned=True`` only pinned ones;
    the sidebar shows :func:`list_pinned_conversations` above pages of ``pinned=False``.
    """
    query = (
        select(Conversation)
        .where(col(Conversation.deleted_at).is_(None))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    if pinned is not None:
        query = query.where(col(Conversation.pinned).is_(pinned))
    if updated_before is not None:
        query = query.where(col(Conversation.updated_at) < updated_before)
    return session.exec(query).all()


def list_pinned_conversations(*, session: Session) -> Sequence[Conversation]:
    """Every pinned conversation not deleted, newest first. Pins are few: no paging."""
    query = (
        select(Conversation)
        .where(col(Conversation.deleted_at).is_(None), col(Conversation.pinned).is_(True))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    )
    return session.exec(query).all()


def rename_conversation(
    *, session: Session, conversation_id: str, title: str
) -> Conversation | None:
    """Set the title (the caller validates it). None if missing or deleted.

    The order of the sidebar does not change: ``updated_at`` is left alone.
    """
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is not None:
        conversation.title = title
        session.add(conversation)
        session.flush()
    return conversation


def set_pinned(*, session: Session, conversation_id: str, pinned: bool) -> Conversation | None:
    """Pin or unpin. None if missing or deleted."""
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is not None:
        conversation.pinned = pinned
        session.add(conversation)
        session.flush()
    return conversation


def soft_delete_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    """Move to the trash: hidden from lists and search until restored or purged.

    Deleting a deleted conversation changes nothing. None if it does not exist.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, include_deleted=True
    )
    if conversation is not None and conversation.deleted_at is None:
        conversation.deleted_at = utcnow()
        session.add(conversation)
        session.flush()
    return conversation


def restore_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    """Undo a delete. None if the conversation no longer exists (purged)."""
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, include_deleted=True
    )
    if conversation is not None and conversation.deleted_at is not None:
        conversation.deleted_at = None
        session.add(conversation)
        session.flush()
    return conversation


def purge_deleted(*, session: Session, older_than: datetime) -> int:
    """Delete for good the conversations deleted before ``older_than``, with their messages.

    Their call log rows stay: spend history outlives conversations. Returns the count.
    """
    doomed = session.exec(
        select(Conversation.id)
        .where(col(Conversation.deleted_at) < older_than)
        .with_for_update()  # PostgreSQL: a concurrent undo waits, then finds nothing
    ).all()
    for start in range(0, len(doomed), 500):
        ids = doomed[start : start + 500]
        # Messages explicitly, not only by ON DELETE CASCADE, which SQLite honours only on
        # connections with PRAGMA foreign_keys on.
        session.execute(delete(Message).where(col(Message.conversation_id).in_(ids)))
        session.execute(delete(Conversation).where(col(Conversation.id).in_(ids)))
    session.expire_all()
    return len(doomed)


def touch_conversation(*, session: Session, conversation_id: str) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(updated_at=utcnow())
    )


def add_message(
    *,
    session: Session,
    conversation_id: str,
    role: str,
    content: str,
    status: MessageStatus = MessageStatus.complete,
    model: str | None = None,
    provider: str | None = None,
    parent_id: int | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation_id,
        parent_id=parent_id,
        role=role,
        content=content,
        status=status,
        model=model,
        provider=provider,
        requested_model=model,
    )
    session.add(message)
    session.flush()
    return message


def set_conversation_model(*, session: Session, conversation_id: str, model: str) -> None:
    session.execute(
        update(Conversation).where(col(Conversation.id) == conversation_id).values(model=model)
    )


def reset_reply(*, session: Session, message_id: int) -> Message:
    """Empty a finished reply so it can stream again, asking its originally requested model."""
    message = session.get(Message, message_id)
    if message is None:
        raise LookupError(f"message {message_id} does not exist")
    message.content = ""
    message.error = None
    message.status = MessageStatus.streaming
    message.model = message.requested_model or message.model
    message.input_tokens = None
    message.output_tokens = None
    message.updated_at = utcnow()
    session.add(message)
    session.flush()
    return message


def get_message(*, session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def finish_message(
    *,
    session: Session,
    message_id: int,
    content: str,
    status: MessageStatus,
    error: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise LookupError(f"message {message_id} does not exist")
    message.content = content
    message.status = status
    message.error = error
    message.input_tokens = input_tokens
    message.output_tokens = output_tokens
    message.updated_at = utcnow()
    session.add(message)
    session.flush()
    return message


def list_messages(
    *, session: Session, conversation_id: str, limit: int, before_id: int | None = None
) -> Sequence[Message]:
    """The newest ``limit`` messages (older than ``before_id`` if given), oldest first.

    Every branch's messages, interleaved by age: what the user sees is one path through the
    tree, :func:`list_path`.
    """
    query = (
        select(Message)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(col(Message.id) < before_id)
    return list(reversed(session.exec(query).all()))


INTERRUPTED = "Interrupted: the server stopped while this reply was streaming."


def mark_interrupted(*, session: Session) -> int:
    """Messages left 'streaming' by a process that died become errors. Returns the count."""
    result = session.execute(
        update(Message)
        .where(col(Message.status) == MessageStatus.streaming)
        .values(
            status=MessageStatus.error,
            error=INTERRUPTED,
            updated_at=utcnow(),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_message_model(*, session: Session, message_id: int, model: str, provider: str) -> None:
    """Record which model actually answered (a fallback, perhaps)."""
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(model=model, provider=provider, updated_at=utcnow())
    )


def add_call_log(*, session: Session, call: CallLog) -> CallLog:
    session.add(call)
    session.flush()
    return call


def list_call_logs(
    *,
    session: Session,
    limit: int = 100,
    conversation_id: str | None = None,
    message_id: int | None = None,
) -> Sequence[CallLog]:
    """Oldest first, optionally for one conversation or one message."""
    query = select(CallLog).order_by(col(CallLog.id)).limit(limit)
    if conversation_id is not None:
        query = query.where(col(CallLog.conversation_id) == conversation_id)
    if message_id is not None:
        query = query.where(col(CallLog.message_id) == message_id)
    return session.exec(query).all()


# ----- the message tree, and what replies cost ------------------------------------------------
#
# Messages form a tree through ``parent_id``: siblings are versions of one turn (regenerated
# replies, edited questions), ordered by id. What a conversation shows is the path from its
# ``current_leaf_id`` up to a root. Recursive CTEs walk the tree in one query on SQLite and
# PostgreSQL alike; each walk starts from a ``message`` row so both infer the same types.

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


@dataclass(frozen=True, slots=True)
class Spend:
    """Call-log spend: the priced attempts' sum, and how many attempts have no known price."""

    calls: int = 0
    known: Decimal = Decimal(0)  # US dollars
    unknown: int = 0  # attempts whose cost is unknown and may have been billed


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


def streaming_reply(*, session: Session, conversation_id: str, since: datetime) -> int | None:
    """A reply of the conversation streaming now (started or reset after ``since``), if any."""
    return session.exec(
        select(Message.id)
        .where(
            col(Message.conversation_id) == conversation_id,
            col(Message.status) == MessageStatus.streaming,
            col(Message.updated_at) > since,
        )
        .limit(1)
    ).first()


# An attempt that failed before any output, with no usage reported (a 429, a 529, a refused
# connection...) was not billed: its NULL cost means "nothing to price", not "unknown".
_UNBILLED = and_(
    col(CallLog.status) == "error",
    col(CallLog.ttft_ms).is_(None),
    col(CallLog.input_tokens) == 0,
    col(CallLog.output_tokens) == 0,
)
_SPEND_COLUMNS = (
    func.count(),
    func.coalesce(func.sum(col(CallLog.cost)), 0),
    func.coalesce(
        func.sum(case((and_(col(CallLog.cost).is_(None), not_(_UNBILLED)), 1), else_=0)), 0
    ),
)
_CENT_BILLIONTHS = Decimal("0.000000001")  # call_log.cost is NUMERIC(18, 9)


def _spend(calls: object, known: object, unknown: object) -> Spend:
    return Spend(
        int(calls or 0),  # pyright: ignore[reportArgumentType]
        Decimal(str(known or 0)).quantize(_CENT_BILLIONTHS),
        int(unknown or 0),  # pyright: ignore[reportArgumentType]
    )


def spend_by_message(*, session: Session, message_ids: Sequence[int]) -> dict[int, Spend]:
    """Each message's call-log spend: every attempt made for it (failovers, retries)."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(col(CallLog.message_id), *_SPEND_COLUMNS)
        .where(col(CallLog.message_id).in_(message_ids))
        .group_by(col(CallLog.message_id))
    ).all()
    return {int(row[0]): _spend(row[1], row[2], row[3]) for row in rows}


def conversation_spend(*, session: Session, conversation_id: str) -> Spend:
    """Everything spent on a conversation: every branch, deleted messages and titles too."""
    row = session.execute(
        select(*_SPEND_COLUMNS).where(col(CallLog.conversation_id) == conversation_id)
    ).one()
    return _spend(row[0], row[1], row[2])


# ----- full-text search ----------------------------------------------------------------------
#
# SQLite: FTS5 tables kept in step by triggers (migration 0004). PostgreSQL: GIN indexes on
# to_tsvector('simple', ...), queried with websearch_to_tsquery('simple', ...); the
# expressions below must stay identical to the indexed ones or the indexes go unused.
#
# One query language on both, that of websearch_to_tsquery: words are ANDed, "quoted words"
# are phrases, -word excludes, ``or`` between words is OR. User text never reaches FTS5 raw:
# every term is re-quoted, so stray quotes or operators are just words.

HIGHLIGHT_START = "\x02"  # around each matched word in ConversationMatch.snippet
HIGHLIGHT_END = "\x03"
SNIPPET_WORDS = 16
MAX_QUERY_CHARS = 500
MAX_QUERY_TERMS = 16
# Messages ranked per query at most: the newest matching ones. A word found in nearly every
# message would otherwise rank them all (seconds on 100k messages); a rarer word's matches
# all fit, however old. Titles are few and always all ranked.
MAX_RANKED_MESSAGES = 2000

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')  # -"a phrase" (closing quote optional) or a word
_HAS_WORD = re.compile(r"[^\W_]")  # a letter or digit: something a tokenizer would keep


@dataclass(frozen=True, slots=True)
class SearchTerm:
    text: str  # a word or a phrase
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ConversationMatch:
    conversation: Conversation
    snippet: str  # plain text; matched words between HIGHLIGHT_START and HIGHLIGHT_END
    message_id: int | None  # the best matching message; None when only the title matched
    title_match: bool


def parse_search_query(query: str) -> list[list[SearchTerm]]:
    """The query as alternatives (ORed) of terms (ANDed). Empty when nothing is searchable.

    An alternative needs a term that is not negated: pure exclusions match nearly every
    row and no index can serve them, so they are dropped.
    """
    # Control characters (NUL would break PostgreSQL) become spaces.
    query = "".join(c if c.isprintable() else " " for c in query[:MAX_QUERY_CHARS])
    tokens: list[tuple[str, bool, bool]] = []  # (text, negated, quoted)
    for match in _TOKEN.finditer(query):
        if match.group(3) is not None:
            word = match.group(3)
            negated = word.startswith("-") and len(word) > 1
            tokens.append((word[1:] if negated else word, negated, False))
        else:
            tokens.append((match.group(2), bool(match.group(1)), True))
    groups: list[list[SearchTerm]] = [[]]
    for index, (word, negated, quoted) in enumerate(tokens):
        is_or = not quoted and not negated and word.lower() == "or"
        if is_or and groups[-1] and index + 1 < len(tokens):
            groups.append([])
        elif _HAS_WORD.search(word):
            groups[-1].append(SearchTerm(" ".join(word.replace('"', " ").split()), negated))
    kept: list[list[SearchTerm]] = []
    budget = MAX_QUERY_TERMS
    for group in groups:
        group = group[:budget]
        if any(not term.negated for term in group):
            kept.append(group)
            budget -= len(group)
        if budget <= 0:
            break
    return kept


def _fts5_query(groups: list[list[SearchTerm]]) -> str:
    def quoted(term: SearchTerm) -> str:
        return '"' + term.text.replace('"', '""') + '"'

    alternatives = []
    for group in groups:
        expression = "(" + " AND ".join(quoted(t) for t in group if not t.negated) + ")"
        for term in group:
            if term.negated:
                expression += " NOT " + quoted(term)
        alternatives.append("(" + expression + ")")
    return " OR ".join(alternatives)


def _websearch_query(groups: list[list[SearchTerm]]) -> str:
    def quoted(term: SearchTerm) -> str:
        return ("-" if term.negated else "") + '"' + term.text + '"'

    return " or ".join(" ".join(quoted(t) for t in group) for group in groups)


_SQLITE_SEARCH = text(
    """
    WITH newest AS MATERIALIZED (
        SELECT rowid AS mid, bm25(message_fts) AS score FROM message_fts
        WHERE message_fts MATCH :query ORDER BY rowid DESC LIMIT :scan
    ),
    hits AS MATERIALIZED (
        SELECT m.conversation_id AS cid, newest.mid, newest.score
        FROM newest CROSS JOIN message AS m ON m.id = newest.mid
    ),
    best AS (SELECT cid, mid, MIN(score) AS score FROM hits GROUP BY cid),
    titles AS MATERIALIZED (
        SELECT conversation_id AS cid, bm25(conversation_fts, 1.0, 0.0) AS score,
               highlight(conversation_fts, 0, :start, :end) AS snippet
        FROM conversation_fts
        WHERE conversation_fts MATCH :title_query
    ),
    found AS (SELECT cid FROM best UNION SELECT cid FROM titles)
    SELECT c.id, best.mid, titles.cid IS NOT NULL AS title_match,
           CASE WHEN best.mid IS NULL THEN titles.snippet ELSE (
               SELECT snippet(message_fts, 0, :start, :end, '…', :words) FROM message_fts
               WHERE message_fts MATCH :query AND message_fts.rowid = best.mid
           ) END AS snippet
    FROM found
    JOIN conversation AS c ON c.id = found.cid
    LEFT JOIN best ON best.cid = c.id
    LEFT JOIN titles ON titles.cid = c.id
    WHERE c.deleted_at IS NULL
    ORDER BY title_match DESC, titles.score, best.score IS NULL, best.score, c.updated_at DESC
    LIMIT :limit
    """
)

_POSTGRES_SEARCH = text(
    """
    WITH newest AS (
        SELECT m.id, m.conversation_id, m.content FROM message AS m
        WHERE to_tsvector('simple', m.content) @@ websearch_to_tsquery('simple', :query)
        ORDER BY m.id DESC LIMIT :scan
    ),
    best AS (
        SELECT DISTINCT ON (m.conversation_id) m.conversation_id AS cid, m.id AS mid,
               ts_rank(to_tsvector('simple', m.content),
                       websearch_to_tsquery('simple', :query), 1) AS score
        FROM newest AS m
        ORDER BY m.conversation_id, score DESC, m.id DESC
    ),
    titles AS (
        SELECT c.id AS cid,
               ts_rank(to_tsvector('simple', c.title),
                       websearch_to_tsquery('simple', :query), 1) AS score
        FROM conversation AS c
        WHERE to_tsvector('simple', c.title) @@ websearch_to_tsquery('simple', :query)
    ),
    found AS (SELECT cid FROM best UNION SELECT cid FROM titles),
    ranked AS (
        SELECT c.id, c.title, best.mid, titles.cid IS NOT NULL AS title_match,
               row_number() OVER (ORDER BY titles.cid IS NOT NULL DESC,
                                  titles.score DESC NULLS LAST,
                                  best.score DESC NULLS LAST,
                                  c.updated_at DESC) AS position
        FROM found
        JOIN conversation AS c ON c.id = found.cid
        LEFT JOIN best ON best.cid = c.id
        LEFT JOIN titles ON titles.cid = c.id
        WHERE c.deleted_at IS NULL
        ORDER BY position
        LIMIT :limit
    )
    SELECT r.id, r.mid, r.title_match,
           CASE WHEN r.mid IS NULL
                THEN ts_headline('simple', r.title, websearch_to_tsquery('simple', :query),
                                 :title_options)
                ELSE ts_headline('simple', m.content, websearch_to_tsquery('simple', :query),
                                 :options)
           END AS snippet
    FROM ranked AS r
    LEFT JOIN message AS m ON m.id = r.mid
    ORDER BY r.position
    """
)


def search_conversations(*, session: Session, query: str, limit: int) -> list[ConversationMatch]:
    """Conversations not deleted whose title or messages match ``query``, best first.

    Title matches rank first, then by how well the best message matches, then newest.
    Matching is by whole words, case-insensitive. A query with nothing searchable in it
    (empty, punctuation, only exclusions) matches nothing; no query raises.
    """
    groups = parse_search_query(query)
    if not groups or limit <= 0:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        fts = _fts5_query(groups)
        params: dict[str, object] = {
            "query": fts,
            "title_query": "{title} : (" + fts + ")",
            "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END,
            "words": SNIPPET_WORDS,
            "scan": MAX_RANKED_MESSAGES,
            "limit": limit,
        }
        statement = _SQLITE_SEARCH
    elif dialect == "postgresql":
        marks = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, ShortWord=0"
        params = {
            "query": _websearch_query(groups),
            "options": f"{marks}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
            'MaxFragments=2, FragmentDelimiter=" … "',
            "title_options": f"{marks}, HighlightAll=true",
            "scan": MAX_RANKED_MESSAGES,
            "limit": limit,
        }
        statement = _POSTGRES_SEARCH
    else:
        raise NotImplementedError(f"full-text search is not implemented for {dialect}")
    rows = session.execute(statement, params).all()
    ids = [row[0] for row in rows]
    found = session.exec(select(Conversation).where(col(Conversation.id).in_(ids))).all()
    by_id = {conversation.id: conversation for conversation in found}
    return [
        ConversationMatch(by_id[id_], snippet or "", mid, bool(title_match))
        for id_, mid, title_match, snippet in rows
        if id_ in by_id
    ]


# ----- attachments, prompts and conversation parameters (issue 4, parts 5 and 6) ------------


def add_attachment(*, session: Session, attachment: Attachment) -> Attachment:
    session.add(attachment)
    session.flush()
    session.refresh(attachment)
    return attachment


def get_attachment(*, session: Session, attachment_id: str) -> Attachment | None:
    return session.get(Attachment, attachment_id)


def delete_pending_attachment(*, session: Session, attachment_id: str) -> Attachment | None:
    """Delete an attachment not yet sent with a message; returns the deleted row."""
    row = session.get(Attachment, attachment_id)
    if row is None or row.message_id is not None:
        return None
    session.delete(row)
    session.flush()
    return row


def delete_pending_attachments(*, session: Session, older_than: datetime) -> list[Attachment]:
    """Delete attachments never sent with a message, uploaded before ``older_than``."""
    rows = list(
        session.exec(
            select(Attachment).where(
                col(Attachment.message_id).is_(None), col(Attachment.created_at) < older_than
            )
        ).all()
    )
    for row in rows:
        session.delete(row)
    session.flush()
    return rows


def list_attachment_stored_names(*, session: Session) -> list[str]:
    return list(session.exec(select(Attachment.stored_name)).all())


def claim_attachment(
    *, session: Session, attachment_id: str, conversation_id: str, message_id: int
) -> None:
    session.execute(
        update(Attachment)
        .where(col(Attachment.id) == attachment_id)
        .values(conversation_id=conversation_id, message_id=message_id)
    )


def list_message_attachments(
    *, session: Session, message_ids: Sequence[int]
) -> Sequence[Attachment]:
    """The attachments of these messages, in the order they were attached."""
    if not message_ids:
        return []
    query = (
        select(Attachment)
        .where(col(Attachment.message_id).in_(list(message_ids)))
        .order_by(col(Attachment.created_at), col(Attachment.id))
    )
    return session.exec(query).all()


def set_conversation_parameters(
    *, session: Session, conversation_id: str, temperature: float | None, max_tokens: int | None
) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(temperature=temperature, max_tokens=max_tokens)
    )


def set_conversation_prompt(
    *, session: Session, conversation_id: str, prompt_id: int | None
) -> None:
    session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(prompt_id=prompt_id)
    )


def set_message_prompt_version(
    *, session: Session, message_id: int, prompt_version_id: int | None
) -> None:
    session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(prompt_version_id=prompt_version_id)
    )


def create_prompt(*, session: Session, name: str) -> Prompt:
    prompt = Prompt(name=name)
    session.add(prompt)
    session.flush()
    return prompt


def get_prompt(*, session: Session, prompt_id: int) -> Prompt | None:
    return session.get(Prompt, prompt_id)


def list_prompts(*, session: Session, include_archived: bool = False) -> Sequence[Prompt]:
    query = select(Prompt).order_by(func.lower(Prompt.name), col(Prompt.id))
    if not include_archived:
        query = query.where(col(Prompt.archived_at).is_(None))
    return session.exec(query).all()


def update_prompt(
    *, session: Session, prompt_id: int, name: str | None = None, archived: bool | None = None
) -> Prompt | None:
    prompt = session.get(Prompt, prompt_id)
    if prompt is None:
        return None
    if name is not None:
        prompt.name = name
    if archived is not None:
        prompt.archived_at = utcnow() if archived else None
    prompt.updated_at = utcnow()
    session.add(prompt)
    session.flush()
    return prompt


def add_prompt_version(*, session: Session, prompt_id: int, body: str) -> PromptVersion:
    """Append version N+1 (the unique (prompt_id, version) makes a racing writer fail)."""
    latest = latest_prompt_version(session=session, prompt_id=prompt_id)
    version = PromptVersion(
        prompt_id=prompt_id, version=(latest.version if latest else 0) + 1, body=body
    )
    session.add(version)
    session.flush()
    return version


def latest_prompt_version(*, session: Session, prompt_id: int) -> PromptVersion | None:
    query = (
        select(PromptVersion)
        .where(col(PromptVersion.prompt_id) == prompt_id)
        .order_by(col(PromptVersion.version).desc())
        .limit(1)
    )
    return session.exec(query).first()


def list_prompt_versions(*, session: Session, prompt_id: int) -> Sequence[PromptVersion]:
    query = (
        select(PromptVersion)
        .where(col(PromptVersion.prompt_id) == prompt_id)
        .order_by(col(PromptVersion.version).desc())
    )
    return session.exec(query).all()


def get_prompt_version(*, session: Session, version_id: int) -> PromptVersion | None:
    return session.get(PromptVersion, version_id)


def prompt_version_labels(
    *, session: Session, version_ids: Sequence[int]
) -> dict[int, tuple[str, int]]:
    """Version id -> (prompt name, version number), for reply captions."""
    if not version_ids:
        return {}
    query = (
        select(PromptVersion.id, Prompt.name, PromptVersion.version)
        .join(Prompt, col(Prompt.id) == col(PromptVersion.prompt_id))
        .where(col(PromptVersion.id).in_(list(version_ids)))
    )
    return {vid: (name, number) for vid, name, number in session.exec(query).all() if vid}
