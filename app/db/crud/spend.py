"""What replies cost: sums over the call log, per message and per conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, not_
from sqlmodel import Session, col, select

from app.db.models import CallLog


@dataclass(frozen=True, slots=True)
class Spend:
    """Call-log spend: the priced attempts' sum, and how many attempts have no known price."""

    calls: int = 0
    known: Decimal = Decimal(0)  # US dollars
    unknown: int = 0  # attempts whose cost is unknown and may have been billed


# An attempt that failed before any output, with no usage reported (a 429, a 529, a refused
# connection...) was not billed: its NULL cost means "nothing to price", not "unknown".
_UNBILLED = and_(
    col(CallLog.status) == "error",
    col(CallLog.ttft_ms).is_(None),
    col(CallLog.input_tokens) == 0,
    col(CallLog.output_tokens) == 0,
)
_SPEND_COLUMNS = (
    func.count(),
    func.coalesce(func.sum(col(CallLog.cost)), 0),
    func.coalesce(
        func.sum(case((and_(col(CallLog.cost).is_(None), not_(_UNBILLED)), 1), else_=0)), 0
    ),
)
_CENT_BILLIONTHS = Decimal("0.000000001")  # call_log.cost is NUMERIC(18, 9)


def _spend(calls: object, known: object, unknown: object) -> Spend:
    return Spend(
        int(calls or 0),  # pyright: ignore[reportArgumentType]
        Decimal(str(known or 0)).quantize(_CENT_BILLIONTHS),
        int(unknown or 0),  # pyright: ignore[reportArgumentType]
    )


def spend_by_message(*, session: Session, message_ids: Sequence[int]) -> dict[int, Spend]:
    """Each message's call-log spend: every attempt made for it (failovers, retries)."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(col(CallLog.message_id), *_SPEND_COLUMNS)
        .where(col(CallLog.message_id).in_(message_ids))
        .group_by(col(CallLog.message_id))
    ).all()
    return {int(row[0]): _spend(row[1], row[2], row[3]) for row in rows}


def conversation_spend(*, session: Session, conversation_id: str) -> Spend:
    """Everything spent on a conversation: every branch, deleted messages and titles too."""
    row = session.execute(
        select(*_SPEND_COLUMNS).where(col(CallLog.conversation_id) == conversation_id)
    ).one()
    return _spend(row[0], row[1], row[2])
