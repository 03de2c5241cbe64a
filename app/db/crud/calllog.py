"""The call log: one row per attempt at an LLM call.

What it sums to is :mod:`app.db.crud.spend`'s. Each insert also adds the row to the hourly
usage rollup, in the same transaction (:mod:`app.db.crud.rollups`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.db.crud.rollups import add_to_rollup
from app.db.models import CallLog


def add_call_log(*, session: Session, call: CallLog) -> CallLog:
    session.add(call)
    session.flush()
    add_to_rollup(session=session, call=call)
    return call


def list_call_logs(
    *,
    session: Session,
    limit: int = 100,
    conversation_id: str | None = None,
    message_id: int | None = None,
) -> Sequence[CallLog]:
    """Oldest first, optionally for one conversation or one message."""
    query = select(CallLog).order_by(col(CallLog.id)).limit(limit)
    if conversation_id is not None:
        query = query.where(col(CallLog.conversation_id) == conversation_id)
    if message_id is not None:
        query = query.where(col(CallLog.message_id) == message_id)
    return session.exec(query).all()
