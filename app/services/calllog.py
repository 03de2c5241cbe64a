"""The call-log sink: writes each :class:`~app.llm.calllog.CallRecord` to the ``call_log`` table.

It lives here because ``app.llm`` never imports ``app.db``. Writes run in the sink's own
writer thread, never in the event loop's shared thread pool: under many concurrent calls,
call-log commits (which a database serialises) would otherwise hold the pool's few threads
while new calls wait there for their guards' reads before their first token. Records that
arrive while a batch is being written go together in the next transaction (one commit, one
budget-alert check). The caller still awaits its own record's write, so a call's row exists
when its stream ends. A failed batch is written again row by row; a row that cannot be
written is logged and dropped, never raised into a chat.

A chat reply's records are held instead (:meth:`DatabaseCallSink.hold`) and written by the
chat service in the transaction that saves the reply (:func:`write_held`), so a reply costs
one database round trip at its end, not one per attempt plus one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import CallLog
from app.db.session import session_scope
from app.llm.calllog import CallRecord
from app.services.alerts import check_budgets

log = logging.getLogger(__name__)


async def calls_for_message(engine: Engine, message_id: int) -> list[CallLog]:
    """Every attempt made for one reply, oldest first (failovers and retries included)."""

    def read() -> list[CallLog]:
        with session_scope(engine) as session:
            return list(crud.list_call_logs(session=session, message_id=message_id))

    return await asyncio.to_thread(read)


def to_row(record: CallRecord) -> CallLog:
    return CallLog(**dataclasses.asdict(record))


def _check_budgets(session: Session, rows: list[CallLog]) -> None:
    """The budget-threshold alerts, under a savepoint: a failed check is logged, and never
    loses the call-log rows."""
    try:
        with session.begin_nested():
            check_budgets(session, rows)
    except Exception as exc:
        log.error("could not check the budget alerts: %r", exc)


def write_held(session: Session, records: list[CallRecord]) -> None:
    """Add ``records`` in the caller's transaction, under a savepoint: rows that cannot be
    written are logged and dropped, and the caller's own writes stay."""
    if not records:
        return
    try:
        with session.begin_nested():
            rows = [crud.add_call_log(session=session, call=to_row(r)) for r in records]
            _check_budgets(session, rows)  # alerts commit with the rows that crossed
    except Exception as exc:
        log.error("could not write the call log rows: %r", exc)


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
MAX_BATCH = 200


def _wake(loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]) -> None:
    def resolve() -> None:
        if not done.done():  # the caller may have been cancelled meanwhile
            done.set_result(None)

    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
        loop.call_soon_threadsafe(resolve)


class DatabaseCallSink:
    """A :class:`~app.llm.calllog.CallSink` that stores records in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held: dict[int, list[CallRecord]] = {}  # message id -> records not written yet
        self._lock = threading.Lock()
        self._pending: list[tuple[CallRecord, _Waiter]] = []
        self._writing = False  # a writer thread is running; it exits when nothing is pending

    def hold(self, message_id: int) -> None:
        """Keep the records of reply ``message_id`` until :meth:`release` (the chat service
        writes them with the reply); later records are written as they come."""
        self._held.setdefault(message_id, [])

    def release(self, message_id: int) -> list[CallRecord]:
        return self._held.pop(message_id, [])

    def write(self, *records: CallRecord) -> None:
        """Write ``records`` in one transaction (raises if any cannot be written)."""
        with session_scope(self.engine) as session:
            rows = [crud.add_call_log(session=session, call=to_row(r)) for r in records]
            _check_budgets(session, rows)  # alerts commit with the rows that crossed

    def _write_batch(self, records: list[CallRecord]) -> None:
        try:
            self.write(*records)
            return
        except Exception as exc:
            if len(records) == 1:
                log.error("could not write the call log row: %r", exc)
                return
        for record in records:  # one bad row must not lose the others
            try:
                self.write(record)
            except Exception as exc:
                log.error("could not write the call log row: %r", exc)

    def _drain(self) -> None:
        """The writer thread: batches until nothing is pending."""
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                    if not batch:
                        self._writing = False
                        return
                try:
                    self._write_batch([record for record, _ in batch])
                finally:
                    for _, (loop, done) in batch:
                        _wake(loop, done)
        except BaseException:  # never leave the sink thinking a writer runs
            with self._lock:
                self._writing = False
            raise

    async def __call__(self, record: CallRecord) -> None:
        held = self._held.get(record.message_id) if record.message_id is not None else None
        if held is not None:
            held.append(record)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._pending.append((record, (loop, done)))
            start, self._writing = not self._writing, True
        if start:
            threading.Thread(target=self._drain, name="call-log writer", daemon=True).start()
        await done
