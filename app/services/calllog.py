"""The call-log sink: writes each :class:`~app.llm.calllog.CallRecord` to the ``call_log`` table.

It lives here because ``app.llm`` never imports ``app.db``. Writes run in a worker thread; a
failed write is logged and dropped, never raised into a chat.

A chat reply's records are held instead (:meth:`DatabaseCallSink.hold`) and written by the
chat service in the transaction that saves the reply (:func:`write_held`), so a reply costs
one database round trip at its end, not one per attempt plus one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

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


class DatabaseCallSink:
    """A :class:`~app.llm.calllog.CallSink` that stores records in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held: dict[int, list[CallRecord]] = {}  # message id -> records not written yet

    def hold(self, message_id: int) -> None:
        """Keep the records of reply ``message_id`` until :meth:`release` (the chat service
        writes them with the reply); later records are written as they come."""
        self._held.setdefault(message_id, [])

    def release(self, message_id: int) -> list[CallRecord]:
        return self._held.pop(message_id, [])

    def write(self, record: CallRecord) -> None:
        with session_scope(self.engine) as session:
            row = crud.add_call_log(session=session, call=to_row(record))
            _check_budgets(session, [row])  # alerts commit with the row that crossed

    async def __call__(self, record: CallRecord) -> None:
        held = self._held.get(record.message_id) if record.message_id is not None else None
        if held is not None:
            held.append(record)
            return
        try:
            await asyncio.to_thread(self.write, record)
        except Exception as exc:
            log.error("could not write the call log row: %r", exc)
