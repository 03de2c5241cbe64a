"""The sidebar's use-cases: page, rename, pin, delete with undo, purge, and search.

Nothing here knows about Reflex. Database work runs in worker threads, as in ChatService.

Search snippets are plain text split into segments, ``(text, highlighted)``: the UI renders
each segment as text, marking the highlighted ones (``<mark>``-like styling), so no HTML
from the database is ever rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.crud import Scope
from app.db.models import Conversation, utcnow
from app.errors import InvalidInput, NotFound
from app.services.kernel import CONVERSATION_GONE, Service
from app.services.views import ConversationSummary

TITLE_MAX_CHARS = 200  # Conversation.title's column length

Segment = tuple[str, bool]  # (text, highlighted)


@dataclass(frozen=True, slots=True)
class SidebarPage:
    pinned: list[ConversationSummary]  # every pinned conversation; on the first page only
    conversations: list[ConversationSummary]  # one page of the others, newest first
    next_before: str | None  # pass as ``updated_before`` for the next page; None at the end


@dataclass(frozen=True, slots=True)
class Deleted:
    """A conversation moved to the trash. ``undo_delete(conversation.id)`` brings it back."""

    conversation: ConversationSummary
    deleted_at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    title: str
    snippet: list[Segment]  # the best matching text; highlighted segments matched the query
    updated_at: str  # ISO 8601, UTC
    message_id: int | None  # the best matching message; None when only the title matched
    title_match: bool

    @property
    def snippet_text(self) -> str:
        """The snippet without marks, e.g. for an aria-label."""
        return "".join(text for text, _ in self.snippet)


def snippet_segments(snippet: str) -> list[Segment]:
    """Split text marked with crud.HIGHLIGHT_START/END into segments.

    Tolerates stray or unbalanced marks (they could come from message text itself) and
    drops other control characters, so the result is always safe plain text.
    """
    segments: list[Segment] = []
    highlighted = False
    current: list[str] = []

    def close() -> None:
        text = "".join(current)
        current.clear()
        if not text:
            return
        if segments and segments[-1][1] == highlighted:
            segments[-1] = (segments[-1][0] + text, highlighted)
        else:
            segments.append((text, highlighted))

    for char in snippet:
        if char in (crud.HIGHLIGHT_START, crud.HIGHLIGHT_END):
            close()
            highlighted = char == crud.HIGHLIGHT_START
        elif char in "\n\r\t":
            current.append(" ")
        elif char.isprintable():
            current.append(char)
    close()
    return segments


class ConversationService(Service):
    def __init__(self, engine: Engine, *, page_size: int = 50, search_limit: int = 20) -> None:
        super().__init__(engine)
        self.page_size = page_size  # unpinned conversations per sidebar page
        self.search_limit = search_limit

    @staticmethod
    def _found(row: Conversation | None) -> ConversationSummary:
        if row is None:
            raise NotFound(CONVERSATION_GONE)
        return ConversationSummary.of(row)

    # ----- reading -----------------------------------------------------------------------

    async def sidebar(
        self,
        *,
        limit: int | None = None,
        updated_before: str | None = None,
        scope: Scope | None = None,
    ) -> SidebarPage:
        """Pinned conversations (first page only), then a page of the rest, newest first;
        ``scope``: only those a reader may see (``Principal.scope``)."""
        size = limit or self.page_size
        before = datetime.fromisoformat(updated_before) if updated_before else None

        def read(session: Session) -> SidebarPage:
            pinned = [] if before else crud.list_pinned_conversations(session=session, scope=scope)
            rows = crud.list_conversations(
                session=session, limit=size + 1, updated_before=before, pinned=False, scope=scope
            )
            rows = rows[: size + 1]
            shared = crud.shared_ids(
                session=session, conversation_ids=[r.id for r in [*pinned, *rows]]
            )
            page = [ConversationSummary.of(r, shared=r.id in shared) for r in rows[:size]]
            next_before = page[-1].updated_at if len(rows) > size else None
            pins = [ConversationSummary.of(r, shared=r.id in shared) for r in pinned]
            return SidebarPage(pins, page, next_before)

        return await self._db(read)

    async def search(
        self, query: str, limit: int | None = None, *, scope: Scope | None = None
    ) -> list[SearchHit]:
        """Conversations whose title or messages match, best first (see
        :func:`app.db.crud.search_conversations` for the query language). Whole words,
        case-insensitive; nothing searchable in ``query`` gives no hits, never an error.
        """
        size = limit or self.search_limit
        matches = await self._db(
            lambda s: crud.search_conversations(session=s, query=query, limit=size, scope=scope)
        )
        return [
            SearchHit(
                id=m.conversation.id,
                title=m.conversation.title,
                snippet=snippet_segments(m.snippet),
                updated_at=m.conversation.updated_at.isoformat(),
                message_id=m.message_id,
                title_match=m.title_match,
            )
            for m in matches
        ]

    # ----- writing -----------------------------------------------------------------------

    @staticmethod
    def validate_title(title: str) -> str:
        """Trimmed, with runs of whitespace (newlines too) made one space; 1..200 chars."""
        title = " ".join(title.split())
        if not title:
            raise InvalidInput("Type a title first.")
        if len(title) > TITLE_MAX_CHARS:
            raise InvalidInput(
                f"That title is {len(title):,} characters; the limit is {TITLE_MAX_CHARS}. "
                "Shorten it."
            )
        return title

    async def rename(self, conversation_id: str, title: str) -> ConversationSummary:
        title = self.validate_title(title)
        return self._found(
            await self._db(
                lambda s: crud.rename_conversation(
                    session=s, conversation_id=conversation_id, title=title
                )
            )
        )

    async def set_pinned(self, conversation_id: str, pinned: bool) -> ConversationSummary:
        return self._found(
            await self._db(
                lambda s: crud.set_pinned(session=s, conversation_id=conversation_id, pinned=pinned)
            )
        )

    async def pin(self, conversation_id: str) -> ConversationSummary:
        return await self.set_pinned(conversation_id, True)

    async def unpin(self, conversation_id: str) -> ConversationSummary:
        return await self.set_pinned(conversation_id, False)

    async def delete(self, conversation_id: str) -> Deleted:
        """Move to the trash (soft delete). Deleting twice is harmless."""
        row = await self._db(
            lambda s: crud.soft_delete_conversation(session=s, conversation_id=conversation_id)
        )
        if row is None or row.deleted_at is None:
            raise NotFound(CONVERSATION_GONE)
        return Deleted(ConversationSummary.of(row), row.deleted_at.isoformat())

    async def undo_delete(self, conversation_id: str) -> ConversationSummary:
        """Bring a deleted conversation back, where it was in the sidebar."""
        row = await self._db(
            lambda s: crud.restore_conversation(session=s, conversation_id=conversation_id)
        )
        if row is None:
            raise NotFound("That conversation was deleted for good and cannot be restored.")
        return ConversationSummary.of(row)

    async def purge_deleted(self, *, older_than: timedelta = timedelta(days=30)) -> int:
        """Delete for good what has been in the trash longer than ``older_than``. The count."""
        cutoff = utcnow() - older_than
        return await self._db(lambda s: crud.purge_deleted(session=s, older_than=cutoff))
