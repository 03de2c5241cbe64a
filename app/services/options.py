"""A conversation's options: its sampling parameters and its system prompt.

- :func:`parse_parameters` checks the Parameters dialog's fields against the model's
  provider rules, which live in the model catalogue (:mod:`app.llm.catalogue`).
- :class:`PostExtras` is what the composer sends with a message: attached files, and a new
  chat's options; :func:`apply_new_chat_options` stores those options when the chat is made.
- :class:`ConversationOptions` reads and sets a saved conversation's parameters and prompt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation
from app.errors import InvalidInput
from app.llm.catalogue import max_tokens_limit, temperature_range
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.kernel import Service, pick_model, require_conversation

PROMPT_GONE = "That system prompt no longer exists. Pick another."


@dataclass(frozen=True, slots=True)
class Parameters:
    temperature: float | None = None  # None: the model's default
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class PostExtras:
    """What the composer sends along with a message."""

    attachment_ids: tuple[str, ...] = ()
    # For a new chat only (a saved conversation's are set as they change):
    parameters: Parameters | None = None
    prompt_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationOptionsView:
    temperature: float | None
    max_tokens: int | None
    prompt_id: int | None


def parse_parameters(temperature: str, max_tokens: str, model: ModelInfo) -> Parameters:
    """Check what the Parameters dialog's fields hold; empty means the model's default."""
    temp_value: float | None = None
    if temperature.strip():
        try:
            temp_value = float(temperature.strip())
        except ValueError:
            raise InvalidInput(
                f"Temperature must be a number, like 0.7; “{temperature.strip()}” is not."
            ) from None
        allowed = temperature_range(model.provider)
        if allowed is None:
            raise InvalidInput(
                f"{model.display_name} takes no temperature (Anthropic's API refuses it). "
                "Leave Temperature empty."
            )
        low, high = allowed
        if not math.isfinite(temp_value) or not low <= temp_value <= high:
            raise InvalidInput(
                f"Temperature for {model.display_name} must be between {low:g} and {high:g}."
            )
    tokens_value: int | None = None
    if max_tokens.strip():
        limit = model.max_output_tokens or max_tokens_limit(model.context_window)
        try:
            tokens_value = int(max_tokens.strip().replace(",", "").replace("_", ""))
        except ValueError:
            raise InvalidInput(
                f"Max tokens must be a whole number, like 1024; “{max_tokens.strip()}” is not."
            ) from None
        if not 1 <= tokens_value <= limit:
            raise InvalidInput(
                f"Max tokens for {model.display_name} must be between 1 and {limit:,}."
            )
    return Parameters(temp_value, tokens_value)


def check_extras(extras: PostExtras, model: ModelInfo) -> None:
    """Checks that need no database: a new chat's parameters against its model."""
    if extras.parameters is not None:
        p = extras.parameters
        parse_parameters(
            "" if p.temperature is None else repr(p.temperature),
            "" if p.max_tokens is None else str(p.max_tokens),
            model,
        )


def apply_new_chat_options(
    *, session: Session, conversation: Conversation, extras: PostExtras, model: ModelInfo
) -> None:
    """Store the parameters and prompt picked for a chat that is being made."""
    if extras.parameters is not None:
        check_extras(extras, model)
        crud.set_conversation_parameters(
            session=session,
            conversation_id=conversation.id,
            temperature=extras.parameters.temperature,
            max_tokens=extras.parameters.max_tokens,
        )
    if extras.prompt_id is not None:
        if crud.get_prompt(session=session, prompt_id=extras.prompt_id) is None:
            raise InvalidInput(PROMPT_GONE)
        crud.set_conversation_prompt(
            session=session, conversation_id=conversation.id, prompt_id=extras.prompt_id
        )
        conversation.prompt_id = extras.prompt_id


class ConversationOptions(Service):
    def __init__(self, engine: Engine, models: ModelRegistry) -> None:
        super().__init__(engine)
        self.models = models

    def check_parameters(self, model_id: str, temperature: str, max_tokens: str) -> Parameters:
        """The Parameters dialog's fields, checked against the model the chat uses."""
        return parse_parameters(temperature, max_tokens, pick_model(self.models, model_id))

    async def get(self, conversation_id: str) -> ConversationOptionsView:
        def read(session: Session) -> ConversationOptionsView:
            row = require_conversation(session, conversation_id)
            return ConversationOptionsView(row.temperature, row.max_tokens, row.prompt_id)

        return await self._db(read)

    async def set_parameters(self, conversation_id: str, parameters: Parameters) -> None:
        def write(session: Session) -> None:
            require_conversation(session, conversation_id)
            crud.set_conversation_parameters(
                session=session,
                conversation_id=conversation_id,
                temperature=parameters.temperature,
                max_tokens=parameters.max_tokens,
            )

        await self._db(write)

    async def set_prompt(self, conversation_id: str, prompt_id: int | None) -> None:
        def write(session: Session) -> None:
            require_conversation(session, conversation_id)
            missing = prompt_id is not None and not crud.get_prompt(
                session=session, prompt_id=prompt_id
            )
            if missing:
                raise InvalidInput(PROMPT_GONE)
            crud.set_conversation_prompt(
                session=session, conversation_id=conversation_id, prompt_id=prompt_id
            )

        await self._db(write)
