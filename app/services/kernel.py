"""What every service shares: a session per use case, the one way to look a conversation up,
the one way to pick a model, and the rule that a streaming conversation's tree holds still.

Nothing here knows about Reflex. Database work runs in worker threads (see
:func:`app.db.session.run_in_session`), one transaction per call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, utcnow
from app.db.session import run_in_session
from app.errors import InvalidInput, NotFound, ProviderError
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.status import BUSY

T = TypeVar("T")

CONVERSATION_GONE = "That conversation does not exist. It may have been deleted."
# How long past the whole-reply limit a row may say "streaming" before it counts as dead.
STALE_MARGIN = 60.0


class Service:
    """A use-case class on one database: :meth:`_db` runs a function in a transaction of
    its own, in a worker thread, so the event loop never waits on the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)


def require_conversation(session: Session, conversation_id: str) -> Conversation:
    """The conversation (not in the trash), or NotFound with the one message users see."""
    conversation = crud.get_conversation(session=session, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound(CONVERSATION_GONE)
    return conversation


def pick_model(models: ModelRegistry, model_id: str | None) -> ModelInfo:
    """The catalogue model ``model_id`` (the default when empty); InvalidInput, saying which
    models exist, for one that is not configured."""
    try:
        info, _ = models.resolve(model_id or models.default_model())
    except ProviderError as exc:
        raise InvalidInput(exc.message) from exc
    return info


def refuse_while_streaming(session: Session, conversation_id: str, call_timeout: float) -> None:
    """Changing the tree while one of its replies streams would pull the branch from under
    it. A reply older than the whole-reply limit is not streaming any more, whatever its
    row says (its process died; start-up marks it)."""
    since = utcnow() - timedelta(seconds=call_timeout + STALE_MARGIN)
    if crud.streaming_reply(session=session, conversation_id=conversation_id, since=since):
        raise InvalidInput(BUSY)
