"""OpenAI's moderation endpoint through the real SDK, against the loopback server."""

from __future__ import annotations

import pytest

from app.errors import AuthenticationFailed, Flagged
from app.guards.moderation import ModerationGuard, OfflineModerator, OpenAIModerator, Verdict
from app.llm.base import ChatMessage, ChatRequest
from app.llm.openai_api import OpenAIProvider
from tests.providers.loopback import LoopbackServer, openai_error, openai_moderation


def ask(text: str) -> ChatRequest:
    return ChatRequest(
        "gpt-5.5",
        (ChatMessage("system", "Be kind."), ChatMessage("user", text)),
        metadata={"user_id": "alice"},
    )


async def test_a_flagged_input_is_blocked_with_its_categories(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(openai_moderation({"harassment/threatening": 0.93, "violence": 0.7}))
    logged: list[tuple[Verdict, str]] = []

    async def sink(verdict: Verdict, action: str, metadata: dict[str, str]) -> None:
        logged.append((verdict, action))

    guard = ModerationGuard(OpenAIModerator(openai_provider), mode="block", sink=sink)
    with pytest.raises(Flagged) as caught:
        await guard.screen(ask("a threatening message"))
    assert caught.value.categories == ("harassment/threatening", "violence")
    assert "harassment/threatening, violence" in caught.value.message
    verdict, action = logged[0]
    assert action == "blocked" and verdict.source == "openai"
    assert verdict.score == pytest.approx(0.93) and verdict.excerpt == "a threatening message"
    sent = server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/moderations")
    assert sent.body == {"model": "omni-moderation-latest", "input": "a threatening message"}


async def test_clean_input_passes_and_log_mode_lets_flagged_input_through(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(openai_moderation({"hate": 0.01}), openai_moderation({"hate": 0.9}))
    guard = ModerationGuard(OpenAIModerator(openai_provider), mode="log")
    clean = await guard.screen(ask("hello"))
    assert clean is not None and not clean.flagged
    flagged = await guard.screen(ask("something hateful"))
    assert flagged is not None and flagged.flagged and flagged.categories == ("hate",)


async def test_an_endpoint_failure_falls_back_to_the_offline_classifier(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(openai_error(401, "invalid_request_error", "invalid_api_key"))
    bare = OpenAIModerator(openai_provider)
    with pytest.raises(AuthenticationFailed):  # mapped in app/llm/openai_api.py
        await bare.classify("hello")
    server.script(openai_error(503, "server_error"))
    backed = OpenAIModerator(openai_provider, fallback=OfflineModerator())
    verdict = await backed.classify("you are a fucking idiot")
    assert verdict.source == "offline" and verdict.flagged
