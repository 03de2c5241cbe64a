"""Sends through the guards, as a tab makes them: a burst of concurrent sends from one user
on real limits storage (Redis), and a refused send that keeps its text and files."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.models import Conversation, Message, User
from app.guards import CallContext, Guards, ModelLimits, guard
from app.guards.ratelimit import LimitRules, RateLimiter, close_storage, limits_storage
from app.llm.registry import ModelInfo, ModelRegistry
from tests.redis_server import require_redis
from tests.state.harness import Backend, Tab, backend, reply, send, tab
from tests.state.test_composer_state import composer, upload, uploads

__all__ = ["backend", "tab", "uploads"]


@pytest.fixture
async def limiter() -> AsyncIterator[RateLimiter]:
    """Two replies at once per user and 4 requests a minute, on Redis (a fresh key prefix)."""
    storage = limits_storage(require_redis(), prefix=f"parley-test-{uuid.uuid4().hex}")
    yield RateLimiter(LimitRules(requests={"user": "4/minute"}, concurrent_streams=2), storage)
    await close_storage(storage)


@pytest.fixture(autouse=True)
def guarded(backend: Backend, limiter: RateLimiter) -> None:
    """The backend's model behind the guards, as the wiring puts it."""
    registry = ModelRegistry(default="fake")
    registry.register(
        ModelInfo("fake", "Fake", "fake", "fake-1", max_output_tokens=1000),
        guard(backend.provider, [ModelLimits("fake", "fake", "fake-1", 1000)], Guards(limiter)),
    )
    backend.service.models = registry


def conversations(engine: Engine, user_id: str, count: int) -> list[str]:
    with Session(engine) as session:
        session.add(User(id=user_id, email=f"{user_id}@example.org"))
        session.flush()
        rows = [Conversation(title=f"c{i}", model="fake", user_id=user_id) for i in range(count)]
        session.add_all(rows)
        session.commit()
        return [r.id for r in rows]


def saved_user_messages(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [m.content for m in session.exec(select(Message).where(Message.role == "user"))]


async def another_tab(tab: Tab) -> Tab:
    """Another tab on the same backend (its own client token), hydrated as open_tab does."""
    other = dataclasses.replace(tab, token=uuid.uuid4().hex, path="/")
    async with other.manager.modify_state(BaseStateToken(ident=other.token, cls=State)) as root:
        root.router_data = root._update_router_vars(other.router_data(), {})
        root._clean()
    return other


def cleared(tab: Tab, text: str) -> bool:
    """Whether the server asked a browser to clear ``text`` from its composer."""
    return any(json.dumps(text) in script for script in tab.wire.scripts())


async def test_a_burst_of_sends_from_one_user(tab: Tab, backend: Backend, engine: Engine) -> None:
    """Six tabs of one user send at once: two replies stream (the concurrency limit), the
    other four are refused before anything is saved, each saying when to try again, and
    their text stays in their boxes. Then the request window (4 a minute) holds."""
    ids = conversations(engine, "u1", 6)
    backend.script(*[reply("slow reply " * 5, delay=0.05) for _ in range(6)])
    tabs = [tab, *[await another_tab(tab) for _ in ids[1:]]]
    for t, cid in zip(tabs, ids, strict=True):
        await t.visit(f"/c/{cid}")
    await asyncio.gather(*(t.run(send(f"burst {i}")) for i, t in enumerate(tabs)))
    notices = [(await t.chat()).notice for t in tabs]
    accepted = [i for i, n in enumerate(notices) if not n]
    refused = [i for i, n in enumerate(notices) if n]
    assert len(accepted) == 2 and len(refused) == 4
    for i in refused:
        assert "replies in progress" in notices[i] and "try again" in notices[i]
        assert not cleared(tab, f"burst {i}")  # the box keeps its text
    assert all(cleared(tab, f"burst {i}") for i in accepted)
    assert sorted(saved_user_messages(engine)) == sorted(f"burst {i}" for i in accepted)
    assert len(backend.provider.requests) == 2
    # The replies have ended (run waits for the chain): two more sends go, then the
    # minute's window is full.
    await tabs[refused[0]].run(send("again"))
    await tabs[refused[1]].run(send("again"))
    assert [(await tabs[i].chat()).notice for i in refused[:2]] == ["", ""]
    await tabs[refused[2]].run(send("one too many"))
    notice = (await tabs[refused[2]].chat()).notice
    assert notice.startswith("Rate limit reached (requests: 4 per 1 minute per user)")
    assert "one too many" not in saved_user_messages(engine)


async def test_a_refused_send_keeps_its_text_and_files(
    tab: Tab, backend: Backend, engine: Engine, limiter: RateLimiter
) -> None:
    (cid,) = conversations(engine, "u2", 1)
    for _ in range(4):  # the minute's window, spent elsewhere
        await limiter.check_requests(_context("u2"))
    await tab.visit(f"/c/{cid}")
    await upload(tab, ("notes.md", b"# notes\n"))
    mark = len(tab.wire.updates)
    await tab.run(send("keep me"))
    chat = await tab.chat()
    assert chat.notice.startswith("Rate limit reached") and "Try again in" in chat.notice
    assert tab.wire.scripts(mark) == []  # no clear: "keep me" stays in the box
    state = await composer(tab)
    assert [a.filename for a in state.attachments] == ["notes.md"]
    assert saved_user_messages(engine) == [] and backend.provider.requests == []


def _context(user_id: str) -> CallContext:
    return CallContext(user_id=user_id)
