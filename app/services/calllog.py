"""The call-log sink: writes each :class:`~app.llm.calllog.CallRecord` to the ``call_log`` table.

It lives here because ``app.llm`` never imports ``app.db``. Writes run in a worker thread; a
failed write is logged and dropped, never raised into a chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from sqlalchemy import Engine

from app.db import crud
from app.db.models import CallLog
from app.db.session import session_scope
from app.llm.calllog import CallRecord

log = logging.getLogger(__name__)


async def calls_for_message(engine: Engine, message_id: int) -> list[CallLog]:
    """Every attempt made for one reply, oldest first (failovers and retries included)."""

    def read() -> list[CallLog]:
        with session_scope(engine) as session:
            return list(crud.list_call_logs(session=session, message_id=message_id))

    return await asyncio.to_thread(read)


def to_row(record: CallRecord) -> CallLog:
    return CallLog(**dataclasses.asdict(record))


class DatabaseCallSink:
    """A :class:`~app.llm.calllog.CallSink` that stores records in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, record: CallRecord) -> None:
        with session_scope(self.engine) as session:
            crud.add_call_log(session=session, call=to_row(record))

    async def __call__(self, record: CallRecord) -> None:
        try:
            await asyncio.to_thread(self.write, record)
        except Exception as exc:
            log.error("could not write the call log row: %r", exc)
