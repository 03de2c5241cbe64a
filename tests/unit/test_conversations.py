"""Rename, pin, delete with undo, purge and full-text search, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlmodel import select

from app.db import crud
from app.db.crud import search as crud_search
from app.db.models import Conversation, Message, MessageStatus, utcnow
from app.db.session import alembic_config, get_engine, session_scope
from app.errors import InvalidInput, NotFound
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService
from app.services.conversations import ConversationService, SearchHit, snippet_segments

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def seed(engine: Engine, title: str, *messages: str, minutes: int = 0) -> str:
    """A conversation last updated ``minutes`` after BASE, holding ``messages`` in order."""
    with session_scope(engine) as session:
        conversation = crud.create_conversation(session=session, title=title, model="fake")
        for index, content in enumerate(messages):
            role = "user" if index % 2 == 0 else "assistant"
            crud.add_message(
                session=session, conversation_id=conversation.id, role=role, content=content
            )
        conversation.updated_at = BASE + timedelta(minutes=minutes)
        session.add(conversation)
        return conversation.id


async def ids_found(service: ConversationService, query: str) -> list[str]:
    return [hit.id for hit in await service.search(query)]


def highlighted(hit: SearchHit) -> list[str]:
    return [text.lower() for text, marked in hit.snippet if marked]


# ----- rename, pin, delete, undo, purge ----------------------------------------------------


async def test_rename_trims_validates_and_keeps_the_sidebar_order(engine: Engine) -> None:
    service = ConversationService(engine)
    first = seed(engine, "First", minutes=1)
    second = seed(engine, "Second", minutes=2)

    renamed = await service.rename(first, "  Trip \n planning\t ideas  ")

    assert renamed.title == "Trip planning ideas"
    assert renamed.updated_at == (BASE + timedelta(minutes=1)).isoformat()
    page = await service.sidebar()
    assert [c.id for c in page.conversations] == [second, first]
    assert (await service.rename(first, "x" * 200)).title == "x" * 200
    for bad in ("", "   \n ", "x" * 201):
        with pytest.raises(InvalidInput) as caught:
            await service.rename(first, bad)
        assert caught.value.message.endswith(("first.", "Shorten it."))
    with pytest.raises(NotFound):
        await service.rename("no-such-id", "Fine")


async def test_pinned_conversations_head_the_sidebar_and_the_rest_page_by_date(
    engine: Engine,
) -> None:
    service = ConversationService(engine)
    ids = [seed(engine, f"c{n}", minutes=n) for n in range(6)]  # c5 is the newest
    await service.pin(ids[0])
    await service.pin(ids[3])

    first = await service.sidebar(limit=2)
    assert [c.id for c in first.pinned] == [ids[3], ids[0]]
    assert [c.id for c in first.conversations] == [ids[5], ids[4]]
    assert first.next_before is not None
    second = await service.sidebar(limit=2, updated_before=first.next_before)
    assert second.pinned == []  # only the first page carries the pins
    assert [c.id for c in second.conversations] == [ids[2], ids[1]]
    assert second.next_before is None  # nothing left

    await service.unpin(ids[3])
    again = await service.sidebar(limit=10)
    assert [c.id for c in again.pinned] == [ids[0]]
    assert [c.id for c in again.conversations] == [ids[5], ids[4], ids[3], ids[2], ids[1]]
    with pytest.raises(NotFound):
        await service.pin("no-such-id")


async def test_list_conversations_keeps_its_paging_and_skips_deleted(engine: Engine) -> None:
    service = ConversationService(engine)
    ids = [seed(engine, f"c{n}", minutes=n) for n in range(4)]
    await service.pin(ids[1])
    await service.delete(ids[2])
    with session_scope(engine) as session:
        everything = crud.list_conversations(session=session, limit=10)
        unpinned = crud.list_conversations(session=session, limit=10, pinned=False)
        older = crud.list_conversations(
            session=session, limit=10, updated_before=BASE + timedelta(minutes=3)
        )
    assert [c.id for c in everything] == [ids[3], ids[1], ids[0]]
    assert [c.id for c in unpinned] == [ids[3], ids[0]]
    assert [c.id for c in older] == [ids[1], ids[0]]


async def test_delete_hides_everywhere_and_undo_brings_it_back(engine: Engine) -> None:
    service = ConversationService(engine)
    older = seed(engine, "Older", "nothing here", minutes=1)
    doomed = seed(engine, "Aardvark facts", "the aardvark eats termites", minutes=2)
    newer = seed(engine, "Newer", minutes=3)
    await service.pin(doomed)

    deleted = await service.delete(doomed)

    assert deleted.conversation.id == doomed and deleted.deleted_at
    page = await service.sidebar()
    assert doomed not in [c.id for c in page.pinned + page.conversations]
    assert await ids_found(service, "aardvark") == []
    with session_scope(engine) as session:
        assert crud.get_conversation(session=session, conversation_id=doomed) is None
        kept = crud.get_conversation(session=session, conversation_id=doomed, include_deleted=True)
        assert kept is not None and kept.deleted_at is not None
    for action in (service.rename(doomed, "New"), service.pin(doomed)):
        with pytest.raises(NotFound):
            await action
    assert (await service.delete(doomed)).deleted_at == deleted.deleted_at  # twice: harmless

    restored = await service.undo_delete(doomed)

    assert restored.updated_at == (BASE + timedelta(minutes=2)).isoformat()
    page = await service.sidebar()
    assert [c.id for c in page.pinned] == [doomed]  # still pinned, in its place
    assert [c.id for c in page.conversations] == [newer, older]
    assert await ids_found(service, "aardvark") == [doomed]
    assert (await service.undo_delete(doomed)).id == doomed  # undo twice: harmless


async def test_a_deleted_conversation_takes_no_new_messages(engine: Engine) -> None:
    registry = ModelRegistry(default="fake")
    provider = ScriptedProvider([ScriptedReply.of("ok")])
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)  # type: ignore[arg-type]
    chat = ChatService(engine, registry)
    posted = await chat.post_message(None, "hello")
    await ConversationService(engine).delete(posted.conversation.id)
    with pytest.raises(NotFound):
        await chat.post_message(posted.conversation.id, "still there?")
    with pytest.raises(NotFound):
        await chat.get_conversation(posted.conversation.id)


async def test_purge_removes_old_deleted_conversations_and_their_messages(
    engine: Engine,
) -> None:
    service = ConversationService(engine)
    old = seed(engine, "Old trash", "walrus one", "walrus two", minutes=1)
    recent = seed(engine, "Recent trash", "walrus three", minutes=2)
    alive = seed(engine, "Alive", "walrus four", minutes=3)
    await service.delete(old)
    await service.delete(recent)
    with session_scope(engine) as session:
        row = session.get(Conversation, old)
        assert row is not None
        row.deleted_at = datetime.now(UTC) - timedelta(days=31)
        session.add(row)

    assert await service.purge_deleted(older_than=timedelta(days=30)) == 1
    assert await service.purge_deleted(older_than=timedelta(days=30)) == 0

    with session_scope(engine) as session:
        assert session.get(Conversation, old) is None
        left = session.exec(select(Message.conversation_id)).all()
    assert sorted(left) == sorted([recent, alive])
    with pytest.raises(NotFound):
        await service.undo_delete(old)
    await service.undo_delete(recent)
    assert sorted(await ids_found(service, "walrus")) == sorted([recent, alive])
    assert_search_index_intact(engine)


# ----- search --------------------------------------------------------------------------------


async def test_search_finds_a_word_from_an_old_message_among_many(engine: Engine) -> None:
    service = ConversationService(engine)
    messages = ["We first talked about the xylophone recital last spring, remember?"]
    messages += [f"Message {n} about ordinary things like lunch and weather." for n in range(59)]
    target = seed(engine, "Long chat", *messages, minutes=1)
    for n in range(5):
        seed(engine, f"Other {n}", "lunch and weather again", minutes=10 + n)

    hits = await service.search("XYLOPHONE")

    assert [h.id for h in hits] == [target]
    hit = hits[0]
    assert highlighted(hit) == ["xylophone"]
    assert "xylophone recital" in hit.snippet_text
    assert hit.title == "Long chat" and not hit.title_match
    assert hit.updated_at == (BASE + timedelta(minutes=1)).isoformat()
    with session_scope(engine) as session:
        first = crud.list_messages(session=session, conversation_id=target, limit=60)[0]
    assert hit.message_id == first.id


async def test_search_ranks_title_matches_first_then_the_better_message(engine: Engine) -> None:
    service = ConversationService(engine)
    passing = seed(
        engine,
        "Weekend plans",
        "We could hike, cook, read, visit the market, and maybe try some "
        "rust later if the weather turns, or paint the fence, or call grandma.",
        minutes=30,  # the newest, so recency alone would put it first
    )
    focused = seed(engine, "Questions", "Rust borrow checker: rust rust lifetimes.", minutes=20)
    titled = seed(engine, "Rust lifetimes", "How do I annotate this?", minutes=10)
    seed(engine, "Unrelated", "Nothing to see.", minutes=40)

    hits = await service.search("rust")

    assert [h.id for h in hits] == [titled, focused, passing]
    assert hits[0].title_match and hits[0].message_id is None
    assert highlighted(hits[0]) == ["rust"]  # the title, highlighted
    assert not hits[1].title_match and "rust" in highlighted(hits[1])
    assert len(await service.search("rust", limit=2)) == 2


async def test_search_query_language_matches_on_both_databases(engine: Engine) -> None:
    service = ConversationService(engine)
    fox = seed(engine, "Fox", "The quick brown fox jumps over the lazy dog", minutes=1)
    cat = seed(engine, "Cat", "A brown cat sleeps all day, quick to wake", minutes=2)
    owl = seed(engine, "Owl", "An owl hoots at night", minutes=3)

    assert set(await ids_found(service, "brown quick")) == {fox, cat}
    assert await ids_found(service, '"quick brown"') == [fox]  # a phrase
    assert await ids_found(service, '"brown quick"') == []
    assert await ids_found(service, "brown -cat") == [fox]  # an exclusion
    assert set(await ids_found(service, "owl or fox")) == {fox, owl}
    assert await ids_found(service, "-brown") == []  # exclusions alone match nothing
    assert await ids_found(service, "jump") == []  # whole words, no stemming


async def test_the_index_follows_inserts_updates_deletes_and_renames(engine: Engine) -> None:
    service = ConversationService(engine)
    conversation = seed(engine, "Airships", "tell me about airships", minutes=1)
    with session_scope(engine) as session:
        reply = crud.add_message(
            session=session,
            conversation_id=conversation,
            role="assistant",
            content="",
            status=MessageStatus.streaming,
        )
        reply_id = reply.id
    assert reply_id is not None
    assert await ids_found(service, "zeppelin") == []

    with session_scope(engine) as session:  # the stream finishes: content changes
        crud.finish_message(
            session=session,
            message_id=reply_id,
            content="The zeppelin was a rigid airship.",
            status=MessageStatus.complete,
        )
    assert await ids_found(service, "zeppelin") == [conversation]

    with session_scope(engine) as session:  # regenerate: the reply empties, then refills
        crud.reset_reply(session=session, message_id=reply_id)
    assert await ids_found(service, "zeppelin") == []
    with session_scope(engine) as session:
        crud.finish_message(
            session=session,
            message_id=reply_id,
            content="Blimps have no rigid frame.",
            status=MessageStatus.complete,
        )
    assert await ids_found(service, "blimps") == [conversation]
    assert await ids_found(service, "zeppelin") == []

    with session_scope(engine) as session:  # a message deleted
        message = session.get(Message, reply_id)
        session.delete(message)
    assert await ids_found(service, "blimps") == []

    await service.rename(conversation, "Dirigibles")
    assert await ids_found(service, "dirigibles") == [conversation]
    assert await ids_found(service, "airships") == [conversation]  # still in a message
    with session_scope(engine) as session:
        crud.add_message(
            session=session, conversation_id=conversation, role="user", content="Hindenburg?"
        )
    assert await ids_found(service, "hindenburg") == [conversation]
    assert_search_index_intact(engine)


async def test_a_streamed_reply_is_searchable_once_saved(engine: Engine) -> None:
    registry = ModelRegistry(default="fake")
    provider = ScriptedProvider([ScriptedReply.of("A quasar is a luminous nucleus.")])
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)  # type: ignore[arg-type]
    chat = ChatService(engine, registry)
    posted = await chat.post_message(None, "what is that bright thing?")
    await chat.stream_reply(posted.reply.id)

    hits = await ConversationService(engine).search("quasar")

    assert [(h.id, h.message_id) for h in hits] == [(posted.conversation.id, posted.reply.id)]


async def test_a_very_common_word_ranks_only_the_newest_matches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crud_search, "MAX_RANKED_MESSAGES", 3)  # read where it is used
    service = ConversationService(engine)
    ids = [seed(engine, f"c{n}", f"common word {n}", minutes=n) for n in range(5)]
    titled = seed(engine, "Common title", minutes=-1)

    found = await ids_found(service, "common")

    assert found[0] == titled  # titles are always ranked
    assert set(found[1:]) == set(ids[2:])  # the three newest messages
    assert await ids_found(service, "word 0") == [ids[0]]  # a rarer query reaches back


HOSTILE = [
    "",
    "   ",
    '"',
    '"unbalanced',
    'unbalanced"',
    '""',
    "AND OR",
    "OR",
    "or or or",
    "NOT",
    "NOT brown",
    "brown NOT",
    "NEAR(brown fox)",
    "brown AND",
    "a:b",
    "content:brown",
    "{title}: brown",
    "title:brown",
    "*",
    "brown*",
    "^brown",
    "(((",
    ")",
    "-",
    "--",
    "- -brown",
    "'; DROP TABLE message; --",
    "\\",
    "brown\x00fox",
    "\u200b",
    "🦀 crab",
    "日本語",
    "x" * 5000,
    " ".join(f"w{n}" for n in range(200)),
    "! & | <-> :*",
]


async def test_hostile_queries_never_raise(engine: Engine) -> None:
    service = ConversationService(engine)
    brown = seed(engine, "Brown title", "The quick brown fox and the lazy dog or cat", minutes=1)

    for query in HOSTILE:
        hits = await service.search(query)  # raises nothing
        if not any(c.isalnum() for c in query):
            assert hits == [], query
    assert await ids_found(service, "NOT brown") == []  # NOT is just a word here
    assert await ids_found(service, "AND OR") == [brown]  # so are AND and OR
    assert await ids_found(service, "brown*") == [brown]  # * is punctuation, not a prefix


async def test_search_with_nothing_searchable_finds_nothing(engine: Engine) -> None:
    service = ConversationService(engine)
    seed(engine, "Anything", "words words words", minutes=1)
    for query in ("", "  ", '"', '""', "-words", "***", "or"):
        assert await service.search(query) == [], query


def test_snippets_become_plain_text_segments() -> None:
    marked = f"one {crud.HIGHLIGHT_START}two{crud.HIGHLIGHT_END} three"
    assert snippet_segments(marked) == [("one ", False), ("two", True), (" three", False)]
    stray = f"a{crud.HIGHLIGHT_END}b{crud.HIGHLIGHT_START}c\x00\nd"
    assert snippet_segments(stray) == [("ab", False), ("c d", True)]
    assert snippet_segments("") == []


def test_queries_are_parsed_into_alternatives_of_terms() -> None:
    groups = crud.parse_search_query('alpha "beta gamma" -delta or epsilon "open')
    assert [[(t.text, t.negated) for t in g] for g in groups] == [
        [("alpha", False), ("beta gamma", False), ("delta", True)],
        [("epsilon", False), ("open", False)],
    ]
    assert crud.parse_search_query("-only -exclusions") == []
    assert sum(len(g) for g in crud.parse_search_query("w " * 100)) == crud.MAX_QUERY_TERMS


# ----- migration 0004 ------------------------------------------------------------------------


def assert_search_index_intact(engine: Engine) -> None:
    """SQLite: FTS5's own consistency check of the external-content index."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO message_fts(message_fts) VALUES ('integrity-check')"))
        connection.execute(
            text("INSERT INTO conversation_fts(conversation_fts) VALUES ('integrity-check')")
        )


def migrate_to(db_url: str, step: str) -> None:
    """Upgrade to head, or downgrade to ``step``, on the engine the app would use."""
    config = alembic_config(db_url)
    with get_engine(db_url).begin() as connection:
        config.attributes["connection"] = connection
        if step == "head":
            command.upgrade(config, "head")
        else:
            command.downgrade(config, step)


async def test_0004_downgrades_and_upgrades_again_keeping_data(db_url: str) -> None:
    engine = get_engine(db_url)
    conversation = seed(engine, "Narwhal notes", "the narwhal tusk is a tooth", minutes=1)

    migrate_to(db_url, "0003")  # through 0005's downgrade and 0004's
    inspector = inspect(engine)
    assert "message_fts" not in inspector.get_table_names()
    assert {c["name"] for c in inspector.get_columns("conversation")}.isdisjoint(
        {"pinned", "deleted_at"}
    )
    with engine.connect() as connection:  # nothing lost: no table was rebuilt
        count = connection.execute(text("SELECT count(*) FROM message")).scalar_one()
    assert count == 1

    migrate_to(db_url, "head")  # existing rows are indexed on the way up
    service = ConversationService(engine)
    assert await ids_found(service, "narwhal") == [conversation]
    assert await ids_found(service, "tooth") == [conversation]
    assert (await service.sidebar()).conversations[0].id == conversation  # pinned = false
    assert_search_index_intact(engine)


async def test_0005_backfills_one_branch_and_keeps_search_working(db_url: str) -> None:
    """0005 rebuilds SQLite's conversation and message tables; their search triggers must
    survive both ways, and old conversations become a single branch."""
    engine = get_engine(db_url)

    migrate_to(db_url, "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversation (id, title, model, created_at, updated_at, pinned) "
                "VALUES ('c1', 'Walrus', 'fake', :now, :now, false)"
            ),
            {"now": utcnow()},
        )
        for content in ("first walrus", "second", "third"):
            connection.execute(
                text(
                    "INSERT INTO message (conversation_id, role, content, status, created_at, "
                    "updated_at) VALUES ('c1', 'user', :content, 'complete', :now, :now)"
                ),
                {"content": content, "now": utcnow()},
            )
    migrate_to(db_url, "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, parent_id FROM message WHERE conversation_id = 'c1' ORDER BY id")
        ).all()
        leaf = connection.execute(
            text("SELECT current_leaf_id FROM conversation WHERE id = 'c1'")
        ).scalar_one()
    assert [parent for _, parent in rows] == [None, rows[0][0], rows[1][0]]
    assert leaf == rows[2][0]
    service = ConversationService(engine)
    assert await ids_found(service, "walrus") == ["c1"]
    with engine.begin() as connection:  # the triggers still index new and changed rows
        connection.execute(
            text("UPDATE message SET content = 'narwhal' WHERE id = :id"), {"id": rows[2][0]}
        )
    assert await ids_found(service, "narwhal") == ["c1"]
    assert_search_index_intact(engine)
