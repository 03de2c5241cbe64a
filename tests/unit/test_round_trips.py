"""Database round trips per message: posting is one transaction (with the reply's request),
the reply's save another (with its call-log rows and the saved view)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

from app.db import crud
from app.db.session import session_scope
from app.llm.catalogue import CatalogueEntry, Timeouts
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import Router, Target
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService


def wired(engine: Engine, *replies: ScriptedReply) -> ChatService:
    """A chat service whose model goes through the router to the database call log, as the
    app wires it."""
    entry = CatalogueEntry("fake", "fake", "fake-1", "Fake", 4096, (), Timeouts(5, 5, 60))
    sink = DatabaseCallSink(engine)
    registry = ModelRegistry(default="fake")
    router = Router([Target(entry, ScriptedProvider(list(replies)))], sink=sink)  # type: ignore[list-item]
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), router)
    return ChatService(engine, registry, calls=sink)


@contextmanager
def round_trips(engine: Engine) -> Iterator[list[int]]:
    """Counts connection checkouts (one per transaction) while the block runs."""
    count = [0]

    def checkout(*_: object) -> None:
        count[0] += 1

    event.listen(engine, "checkout", checkout)
    try:
        yield count
    finally:
        event.remove(engine, "checkout", checkout)


async def test_a_message_costs_two_round_trips_with_its_call_log(engine: Engine) -> None:
    service = wired(engine, ScriptedReply.of("first answer"), ScriptedReply.of("second"))
    with round_trips(engine) as trips:
        first = await service.post_message(None, "hello")
        saved = await service.stream_reply(first.reply.id)
    assert trips[0] == 2
    assert (saved.status, saved.content) == ("complete", "first answer")
    with round_trips(engine) as trips:
        second = await service.post_message(first.conversation.id, "again")
        saved = await service.stream_reply(second.reply.id)
    assert trips[0] == 2 and saved.content == "second"
    with session_scope(engine) as session:
        logged = [row.message_id for row in crud.list_call_logs(session=session)]
    assert logged == [first.reply.id, second.reply.id]  # written with each reply's save
    assert saved.cost  # and read back with it


async def test_a_reply_made_elsewhere_loads_its_request_in_one_more(engine: Engine) -> None:
    service = wired(engine, ScriptedReply.of("answer"))
    posted = await service.post_message(None, "hello")
    other = wired(engine, ScriptedReply.of("from the other process"))  # nothing prepared
    with round_trips(engine) as trips:
        saved = await other.stream_reply(posted.reply.id)
    assert trips[0] == 2 and saved.content == "from the other process"
