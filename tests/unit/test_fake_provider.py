"""The scripted provider behaves like a model where tests rely on it."""

from __future__ import annotations

from app.llm.base import ChatRequest, Finish, TextDelta
from app.llm.fake import ScriptedProvider, ScriptedReply


async def test_the_scripted_provider_stops_at_max_tokens() -> None:
    provider = ScriptedProvider([ScriptedReply.of("abcdefghij", chunk_chars=2)])
    request = ChatRequest(model="fake", messages=(), max_tokens=3)
    events = [e async for e in provider.stream(request)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "abcdef"
    assert events[-1] == Finish("length")
