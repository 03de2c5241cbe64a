"""Moderation before any call: the user's new message is classified before it is sent.

Two classifiers:

- :class:`OpenAIModerator`: OpenAI's moderation endpoint (through
  :meth:`app.llm.openai_api.OpenAIProvider.moderate`), used when an OpenAI key is set.
  If the endpoint fails, the offline classifier answers instead (logged), so an outage of
  the moderation API neither blocks every send nor lets input through unchecked.
- :class:`OfflineModerator`: ``alt-profanity-check``, a linear model shipped inside its
  wheel (no download). It knows one category, ``profanity``.

Modes: ``off`` checks nothing; ``log`` lets flagged input through and writes it to the
moderation log; ``block`` writes it to the log and refuses the call with
:class:`~app.errors.Flagged`, naming the categories. A project may set its own mode (the admin
page; ``project.moderation_mode``): a call whose :class:`~app.guards.context.CallContext` has a
project uses that project's mode, read at each call, else the global ``PARLEY_MODERATION_MODE``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from app.errors import Flagged, ProviderError
from app.guards.context import CallContext
from app.llm.base import ChatRequest
from app.llm.openai_api import OpenAIProvider

log = logging.getLogger("parley.guards.moderation")

ModerationMode = Literal["off", "log", "block"]
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Verdict:
    flagged: bool
    categories: tuple[str, ...]
    score: float | None
    source: str  # "openai" or "offline"
    excerpt: str = ""

    @property
    def reason(self) -> str:
        return ", ".join(self.categories) or "flagged"


class Moderator(Protocol):
    source: str

    async def classify(self, text: str) -> Verdict: ...


class OfflineModerator:
    """alt-profanity-check: flags text whose profanity probability reaches ``threshold``."""

    source = "offline"

    def __init__(self, *, threshold: float = 0.8) -> None:
        self.threshold = threshold

    def _probability(self, text: str) -> float:
        from profanity_check import predict_prob  # loads the bundled model on first use

        return float(predict_prob([text])[0])

    async def classify(self, text: str) -> Verdict:
        score = await asyncio.to_thread(self._probability, text)
        flagged = score >= self.threshold
        return Verdict(flagged, ("profanity",) if flagged else (), score, self.source)


class OpenAIModerator:
    """OpenAI's moderation endpoint, with ``fallback`` answering when it fails."""

    source = "openai"

    def __init__(
        self,
        provider: OpenAIProvider,
        *,
        model: str = "omni-moderation-latest",
        fallback: Moderator | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.fallback = fallback

    async def classify(self, text: str) -> Verdict:
        try:
            result = await self.provider.moderate(text, model=self.model)
        except ProviderError as exc:
            if self.fallback is None:
                raise
            log.warning(
                "the moderation endpoint failed (%s); using the offline classifier",
                type(exc).__name__,
            )
            return await self.fallback.classify(text)
        return Verdict(result.flagged, result.categories, result.top_score, self.source)


FlagSink = Callable[[Verdict, str, dict[str, str]], Awaitable[None]]
# A project's own mode, or None to follow the global one (DatabaseGuardStore.moderation_mode).
ProjectMode = Callable[[str], Awaitable[ModerationMode | None]]
MODES: tuple[ModerationMode, ...] = ("off", "log", "block")


def text_to_check(request: ChatRequest) -> str:
    """The new input: the last user message (earlier turns were checked when they were sent)."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""


class ModerationGuard:
    """Applies a moderator in a mode (the project's, when ``project_mode`` knows one);
    flagged input goes to ``sink`` (the moderation log)."""

    def __init__(
        self,
        moderator: Moderator,
        *,
        mode: ModerationMode,
        sink: FlagSink | None = None,
        project_mode: ProjectMode | None = None,
    ) -> None:
        self.moderator = moderator
        self.mode: ModerationMode = mode
        self.sink = sink
        self.project_mode = project_mode

    async def mode_for(self, request: ChatRequest) -> ModerationMode:
        """The call's project's mode if it has one, else the global mode."""
        project_id = CallContext.of(request).project_id
        if project_id and self.project_mode is not None:
            own = await self.project_mode(project_id)
            for mode in MODES:
                if own == mode:
                    return mode
        return self.mode

    async def screen(self, request: ChatRequest) -> Verdict | None:
        """None when off or nothing to check; else the verdict (raises in block mode)."""
        text = text_to_check(request)
        if not text.strip():
            return None
        mode = await self.mode_for(request)
        if mode == "off":
            return None
        verdict = await self.moderator.classify(text)
        if not verdict.flagged:
            return verdict
        verdict = Verdict(
            True, verdict.categories, verdict.score, verdict.source, text[:EXCERPT_CHARS]
        )
        action = "blocked" if mode == "block" else "logged"
        log.warning(
            "moderation %s input (%s, source=%s, user=%s)",
            action,
            verdict.reason,
            verdict.source,
            request.metadata.get("user_id", ""),
        )
        if self.sink is not None:
            try:
                await self.sink(verdict, action, dict(request.metadata))
            except Exception as exc:  # the log must not decide the verdict
                log.error("the moderation log failed: %r", exc)
        if mode == "block":
            raise Flagged(
                f"The message was not sent: moderation flagged it ({verdict.reason}). "
                "Rephrase it and try again.",
                categories=verdict.categories,
            )
        return verdict
