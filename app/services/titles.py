"""Conversation titles, written by the conversation's own model once the first reply is in.

A new conversation is titled with the start of its first message at once; when the first reply
has finished, :meth:`TitleService.generate` asks the model for a short title and replaces the
provisional one, unless the user renamed the conversation meanwhile. The call goes through the
same router as chat (so failover, cache and the call log apply) with ``feature="title"``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import MessageStatus
from app.db.session import session_scope
from app.errors import ProviderError
from app.llm.base import ChatMessage, ChatRequest, TextDelta, with_error_event
from app.llm.registry import ModelRegistry
from app.services.chat import TITLE_CHARS, title_from
from app.services.context import caller_metadata

PROMPT_VERSION = "title-v1"
INSTRUCTIONS = (
    "You name conversations. Reply with a title of at most six words that says what the "
    "conversation is about. No quotes, no punctuation at the end, nothing else."
)
_PREFIX = re.compile(r"^\s*(title\s*:\s*)", re.IGNORECASE)
# Quotes and markup a model may wrap a title in (curly quotes written as escapes).
_WRAPPERS = "\"'`*_# \u201c\u201d\u2018\u2019"


def clean_title(raw: str, *, max_chars: int = TITLE_CHARS) -> str:
    """The first non-empty line, without a 'Title:' prefix, quotes, markup or a final period."""
    line = next((ln for ln in raw.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip(_WRAPPERS)
    line = " ".join(line.split()).rstrip(".!:;,").strip(_WRAPPERS)
    if len(line) > max_chars:
        line = line[: max_chars - 1].rstrip() + "…"
    return line


@dataclass(frozen=True, slots=True)
class _FirstExchange:
    model: str
    title: str
    question: str
    answer: str
    caller: dict[str, str]  # the conversation's user and project, for the guards and call log


class TitleService:
    def __init__(
        self,
        engine: Engine,
        models: ModelRegistry,
        *,
        excerpt_chars: int = 1500,
        max_tokens: int = 24,
        timeout: float = 30.0,
    ) -> None:
        self.engine = engine
        self.models = models
        self.excerpt_chars = excerpt_chars
        self.max_tokens = max_tokens
        self.timeout = timeout

    def _first_exchange(self, session: Session, conversation_id: str) -> _FirstExchange | None:
        """The first question and its finished answer, if the title is still provisional."""
        conversation = crud.get_conversation(session=session, conversation_id=conversation_id)
        if conversation is None:
            return None
        rows = crud.list_path(  # the branch on screen: a regenerated first reply counts
            session=session,
            conversation_id=conversation_id,
            leaf_id=conversation.current_leaf_id,
            limit=3,
        )
        if len(rows) != 2:
            return None
        question, answer = rows
        if question.role != "user" or answer.role != "assistant":
            return None
        if answer.status != MessageStatus.complete or not answer.content.strip():
            return None
        if conversation.title != title_from(question.content):
            return None  # already generated, or renamed by the user
        return _FirstExchange(
            conversation.model,
            conversation.title,
            question.content,
            answer.content,
            caller_metadata(conversation),
        )

    async def generate(self, conversation_id: str) -> str | None:
        """Title the conversation from its first exchange. Returns the new title, or None when
        there was nothing to do or the model could not help (the provisional title stays)."""

        def read() -> _FirstExchange | None:
            with session_scope(self.engine) as session:
                return self._first_exchange(session, conversation_id)

        exchange = await asyncio.to_thread(read)
        if exchange is None:
            return None
        try:
            info, provider = self.models.resolve(exchange.model or self.models.default_model())
        except ProviderError:
            return None
        cut = self.excerpt_chars
        request = ChatRequest(
            model=info.provider_model,
            messages=(
                ChatMessage("system", INSTRUCTIONS),
                ChatMessage(
                    "user",
                    f"User: {exchange.question[:cut]}\n\nAssistant: {exchange.answer[:cut]}"
                    "\n\nTitle for this conversation:",
                ),
            ),
            temperature=0.0,
            max_tokens=self.max_tokens,
            metadata={
                "feature": "title",
                "conversation_id": conversation_id,
                "prompt_version": PROMPT_VERSION,
                **exchange.caller,
            },
        )
        parts: list[str] = []
        try:
            async with asyncio.timeout(self.timeout):
                async for event in with_error_event(provider.stream(request)):
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
        except TimeoutError:
            return None
        title = clean_title("".join(parts))
        if not title:
            return None

        def write() -> bool:
            with session_scope(self.engine) as session:
                current = crud.get_conversation(session=session, conversation_id=conversation_id)
                if current is None or current.title != exchange.title:
                    return False  # renamed meanwhile: the user's title wins
                crud.rename_conversation(
                    session=session, conversation_id=conversation_id, title=title
                )
                return True

        return title if await asyncio.to_thread(write) else None
