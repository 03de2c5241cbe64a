"""The finish rules: what a reply's status means to a page, in one place.

A saved reply is ``streaming`` while a process generates it, then ends ``complete``,
``stopped`` (the user pressed Stop; the partial text is kept) or ``error`` (the provider
failed; the text that arrived first is kept). A page has at most one reply streaming at a
time: the id of that reply, or :data:`NO_REPLY`.

The states (state/) and the views (components/) ask these functions and constants instead of
comparing status strings themselves, so a new status (or a new rule, such as "a reply the
page was following is gone") changes here only. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Final

from app.db.crud.messages import INTERRUPTED
from app.db.models import MessageStatus

STREAMING: Final = MessageStatus.streaming.value
COMPLETE: Final = MessageStatus.complete.value
STOPPED: Final = MessageStatus.stopped.value
ERROR: Final = MessageStatus.error.value
FINISHED: Final = frozenset({COMPLETE, STOPPED, ERROR})

NO_REPLY: Final = -1  # a page's live reply id when nothing streams
BUSY: Final = "Wait for the current reply to finish, or press Stop."


def is_streaming(status: str) -> bool:
    """The reply is still being generated (by this process or, as far as the row knows,
    another one)."""
    return status == STREAMING


def is_finished(status: str) -> bool:
    """The reply has ended, one way or another: nothing more will be added to it."""
    return status in FINISHED


def is_complete(status: str) -> bool:
    """The reply ended normally (a conversation's title is written after such a reply)."""
    return status == COMPLETE


def is_failed(status: str) -> bool:
    """The reply ended with the provider's error: it can be retried."""
    return status == ERROR


def has_live_reply(live_id: int) -> bool:
    """A page is following a reply as it streams."""
    return live_id != NO_REPLY


def busy_notice(live_id: int) -> str:
    """Why a page refuses to start another reply now ("" when it may): one reply streams
    per page at a time."""
    return BUSY if has_live_reply(live_id) else ""


def was_interrupted(status: str, error: str | None) -> bool:
    """The reply's process died while it streamed, and recovery marked it so."""
    return status == ERROR and error == INTERRUPTED


def is_orphaned(saved_status: str | None) -> bool:
    """A reply a page still follows has no stream any more: it was never saved (``None``),
    or its row says it has finished. With Redis, a page's state outlives the process that was
    streaming; start-up marks such replies as errors, and the page lets go of them."""
    return saved_status is None or not is_streaming(saved_status)
