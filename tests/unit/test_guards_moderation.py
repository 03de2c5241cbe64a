"""Moderation with the offline classifier (alt-profanity-check, run for real) and the
moderation log table."""

from __future__ import annotations

import pytest

from app.db.session import get_engine
from app.errors import Flagged
from app.guards import Guards, guard
from app.guards.budgets import ModelLimits
from app.guards.context import CallContext, with_context
from app.guards.moderation import ModerationGuard, OfflineModerator
from app.guards.store import DatabaseGuardStore
from app.llm.base import ChatMessage, ChatRequest, Finish
from app.llm.fake import ScriptedProvider, ScriptedReply

PROFANE = "you are a fucking idiot"
CLEAN = "Could you explain how binary search works?"
ALICE = CallContext(user_id="alice", project_id="p1")


def ask(text: str) -> ChatRequest:
    history = (ChatMessage("user", PROFANE), ChatMessage("assistant", "Let's keep it civil."))
    return with_context(ChatRequest("local", (*history, ChatMessage("user", text))), ALICE)


async def test_the_offline_classifier_flags_profanity_and_passes_clean_text() -> None:
    moderator = OfflineModerator(threshold=0.8)
    rude, polite = await moderator.classify(PROFANE), await moderator.classify(CLEAN)
    assert rude.flagged and rude.categories == ("profanity",) and (rude.score or 0) >= 0.8
    assert not polite.flagged and (polite.score or 1) < 0.5


async def test_block_mode_refuses_logs_and_never_calls_the_model(db_url: str) -> None:
    store = DatabaseGuardStore(get_engine(db_url))
    inner = ScriptedProvider([ScriptedReply.of("fine")])
    moderation = ModerationGuard(OfflineModerator(), mode="block", sink=store.log_flagged)
    provider = guard(
        inner, [ModelLimits("local", "local", "x", 512)], Guards(moderation=moderation)
    )
    with pytest.raises(Flagged, match="profanity"):
        _ = [e async for e in provider.stream(ask(PROFANE))]
    assert inner.requests == []
    # only the new message is checked: the rude turn in the history does not block this one
    events = [e async for e in provider.stream(ask(CLEAN))]
    assert isinstance(events[-1], Finish)
    rows = await store.flagged()
    assert [(r.user_id, r.action, r.source, r.categories) for r in rows] == [
        ("alice", "blocked", "offline", "profanity")
    ]
    assert rows[0].excerpt == PROFANE


async def test_log_mode_lets_it_through_and_off_checks_nothing(db_url: str) -> None:
    store = DatabaseGuardStore(get_engine(db_url))
    logging_guard = ModerationGuard(OfflineModerator(), mode="log", sink=store.log_flagged)
    verdict = await logging_guard.screen(ask(PROFANE))
    assert verdict is not None and verdict.flagged
    assert [r.action for r in await store.flagged()] == ["logged"]
    assert await ModerationGuard(OfflineModerator(), mode="off").screen(ask(PROFANE)) is None
