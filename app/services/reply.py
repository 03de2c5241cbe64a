"""A streamed reply: a pure fold over the provider's events, and the thin driver that runs it.

:func:`fold` is to the chat service what the adapters' ``accumulate`` is to an SDK's chunks:
``fold(reply, event) -> reply``, no I/O, no clock. :class:`Replies` drives it: it iterates
the provider's stream in a task of its own, publishes each text to the live-reply hub as it
arrives, enforces the first-token and whole-reply limits with one timer, and stops at once
when asked (it cancels that task, so a silent provider cannot delay a Stop).

A crash must not lose what was streamed: beside the stream, a checkpoint task wakes once per
``checkpoint_interval`` and, only if the text grew since its last write, saves it (one UPDATE,
off the per-token path). So a process killed mid-reply loses at most the last interval; the
start-up recovery then marks the reply interrupted and keeps that text. The same task renews
the reply's lease: when nothing new arrived for ``renew_every`` seconds (a slow model, a long
tool call) it writes the text again, so the row's ``updated_at`` says a live process owns it.
With several workers, only replies whose lease ran out are taken for interrupted
(:meth:`app.services.chat.ChatService.recover_interrupted`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.db.models import MessageStatus
from app.errors import ProviderError, ProviderTimeout, StreamInterrupted, public_error
from app.llm.base import ErrorEvent, ModelUsed, StreamEvent, TextDelta, Usage

# The text so far as a persistent list: (earlier chunks, newest chunk), None when empty. A
# fold adds a chunk in O(1) without touching earlier snapshots; :attr:`Reply.text` joins them.
Chunks = tuple["Chunks", str] | None
NO_USAGE = Usage()

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a reply's events have said so far."""

    chunks: Chunks = None
    usage: Usage = NO_USAGE
    answered: ModelUsed | None = None  # which model answered: a fallback, perhaps
    error: ProviderError | None = None  # the provider's failure, which ends the reply

    @property
    def text(self) -> str:
        parts: list[str] = []
        node = self.chunks
        while node is not None:
            node, chunk = node
            parts.append(chunk)
        return "".join(reversed(parts))


EMPTY = Reply()


def fold(reply: Reply, event: StreamEvent) -> Reply:
    """The reply after ``event``. Finish and tool calls change nothing a chat keeps."""
    if type(event) is TextDelta:  # the hot path: once per token
        return Reply((reply.chunks, event.text), reply.usage, reply.answered, reply.error)
    if isinstance(event, Usage):
        return Reply(reply.chunks, event, reply.answered, reply.error)
    if isinstance(event, ModelUsed):
        return Reply(reply.chunks, reply.usage, event, reply.error)
    if isinstance(event, ErrorEvent):
        return Reply(reply.chunks, reply.usage, reply.answered, event.error)
    return reply


@dataclass(frozen=True, slots=True)
class Ended:
    """How a reply's stream ended, with what it said."""

    reply: Reply
    status: MessageStatus
    error: str | None = None


# Saves a reply's text so far: (message id, text) -> done. It must write only while the reply
# is still streaming, so a late checkpoint can never overwrite the final save.
Checkpoint = Callable[[int, str], Awaitable[None]]


class Replies:
    """Runs replies in this process, one task each, and stops them on request."""

    def __init__(
        self,
        *,
        first_token_timeout: float,
        call_timeout: float,
        checkpoint: Checkpoint | None = None,
        checkpoint_interval: float = 1.0,
        renew_every: float = 10.0,
    ) -> None:
        self.first_token_timeout = first_token_timeout
        self.call_timeout = call_timeout
        self.checkpoint = checkpoint
        self.checkpoint_interval = checkpoint_interval
        self.renew_every = renew_every
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stop_requests: set[int] = set()
        self._latest: dict[int, Reply] = {}

    def stop(self, message_id: int) -> None:
        """End reply ``message_id`` now (it is saved as stopped, with its text so far); a
        Stop that arrives before the reply starts streaming ends it as it starts."""
        self._stop_requests.add(message_id)
        task = self._running.get(message_id)
        if task is not None:
            task.cancel()

    async def run(
        self,
        message_id: int,
        events: Callable[[], AsyncIterator[StreamEvent]],
        publish: Callable[[str], None],
    ) -> Ended:
        """Fold ``events()`` into a reply, publishing each text as it arrives. Returns how
        it ended: complete, stopped, or error (a provider failure, or a limit). If the
        caller is cancelled (shutdown), the stream is cancelled too and CancelledError
        propagates; :func:`ended_by_cancel` tells what it said until then."""
        if message_id in self._stop_requests:
            self._stop_requests.discard(message_id)
            return Ended(EMPTY, MessageStatus.stopped)
        self._latest[message_id] = EMPTY
        task = asyncio.create_task(self._consume(message_id, events, publish))
        self._running[message_id] = task
        saver = self._start_checkpoints(message_id)
        try:
            await task
            reply = self._latest[message_id]
            if reply.error is not None:
                return Ended(reply, MessageStatus.error, reply.error.message)
            return Ended(reply, MessageStatus.complete)
        except ProviderError as exc:
            return Ended(self._latest[message_id], MessageStatus.error, exc.message)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if message_id in self._stop_requests and not (current and current.cancelling()):
                return Ended(self._latest[message_id], MessageStatus.stopped)
            raise  # the caller itself was cancelled: not a Stop
        finally:
            self._running.pop(message_id, None)
            self._stop_requests.discard(message_id)
            if saver is not None:
                # Let a checkpoint in flight finish (a database thread cannot be cancelled),
                # so the final save comes after it.
                done, checkpoints = saver
                done.set()
                await asyncio.gather(checkpoints, return_exceptions=True)

    def _start_checkpoints(
        self, message_id: int
    ) -> tuple[asyncio.Event, asyncio.Task[None]] | None:
        if self.checkpoint is None or self.checkpoint_interval <= 0:
            return None
        done = asyncio.Event()
        return done, asyncio.create_task(self._checkpoints(message_id, done, self.checkpoint))

    async def _checkpoints(self, message_id: int, done: asyncio.Event, save: Checkpoint) -> None:
        """Every interval until ``done``: save the text if it grew since the last save, or
        if the last save is ``renew_every`` old (the lease)."""
        loop = asyncio.get_running_loop()
        saved: Chunks = None
        saved_at = loop.time()  # the reply's row was written as it started
        while True:
            try:
                await asyncio.wait_for(done.wait(), self.checkpoint_interval)
                return
            except TimeoutError:
                pass
            chunks = self._latest.get(message_id, EMPTY).chunks
            if chunks is saved and loop.time() - saved_at < self.renew_every:
                continue
            saved, saved_at = chunks, loop.time()
            try:
                await save(message_id, Reply(chunks).text)
            except Exception:  # a failed checkpoint must not end the reply
                log.warning("checkpoint of reply %d failed", message_id, exc_info=True)

    def so_far(self, message_id: int) -> Reply:
        """What reply ``message_id`` said until now (until it ended, once it has)."""
        return self._latest.get(message_id, EMPTY)

    def forget(self, message_id: int) -> None:
        """Drop what is kept of a reply that has been saved, and any Stop left for it."""
        self._latest.pop(message_id, None)
        self._stop_requests.discard(message_id)

    async def _consume(
        self,
        message_id: int,
        events: Callable[[], AsyncIterator[StreamEvent]],
        publish: Callable[[str], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first, whole = self.first_token_timeout, self.call_timeout
        reply = EMPTY
        latest = self._latest
        try:
            async with asyncio.timeout_at(started + min(first, whole)) as timer:
                async for event in events():
                    if type(event) is TextDelta:
                        if reply.chunks is None:
                            timer.reschedule(started + whole)
                        publish(event.text)
                    reply = fold(reply, event)
                    latest[message_id] = reply
                    if reply.error is not None:
                        return
        except TimeoutError:
            which, limit = ("whole reply", whole) if reply.chunks else ("first token", first)
            raise ProviderTimeout(f"No {which} within {limit:g} s.") from None
        except (ProviderError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a provider bug must not take the session down
            raise StreamInterrupted(public_error(exc)) from exc


@asynccontextmanager
async def lease_kept(renew: Callable[[], Awaitable[object]], every: float) -> AsyncIterator[None]:
    """Renew a reply's lease every ``every`` seconds while the body runs: for loops other than
    :class:`Replies` that keep a reply streaming (the agent's), whose row would otherwise look
    abandoned to the other workers during a long tool call."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await renew()
            except Exception:  # a failed renewal must not end the reply
                log.warning("renewing a reply's lease failed", exc_info=True)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
