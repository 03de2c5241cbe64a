"""Alerts and their webhook delivery log; the spend figures the alert checks read.

Spend against a budget follows the budget guard's rule (:mod:`app.guards.store`): the month's
call-log rows of the subject, cache hits excluded, cost in dollars and input + output tokens.
Hourly spend for the spike check reads the hourly rollup (``usage_hourly``), which the
call-log writes keep exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from app.db.crud.usage import Scope
from app.db.models import Alert, AlertDelivery, Budget, CallLog, UsageHourly

Subject = Literal["user", "project"]


def month_spend(
    *, session: Session, scope: Subject, subject_ids: Iterable[str], since: datetime
) -> dict[str, tuple[Decimal, int]]:
    """Each subject's (dollars, tokens) since ``since``; subjects with no spend are absent."""
    ids = sorted(set(subject_ids))
    if not ids:
        return {}
    column = col(CallLog.user_id) if scope == "user" else col(CallLog.project_id)
    rows = session.exec(
        select(  # pyright: ignore[reportCallIssue]
            column,
            func.coalesce(func.sum(CallLog.cost), 0),
            func.coalesce(func.sum(col(CallLog.input_tokens) + col(CallLog.output_tokens)), 0),
        )
        .where(
            column.in_(ids),
            col(CallLog.created_at) >= since,
            col(CallLog.cache_hit).is_(False),
        )
        .group_by(column)
    ).all()
    return {str(r[0]): (Decimal(str(r[1])), int(r[2])) for r in rows}


def subjects_with_spend(*, session: Session, scope: Subject, since: datetime) -> list[str]:
    """Every user (or project) with a call-log row since ``since``."""
    column = col(CallLog.user_id) if scope == "user" else col(CallLog.project_id)
    rows = session.exec(
        select(column).where(col(CallLog.created_at) >= since, column.is_not(None)).distinct()
    ).all()
    return sorted(str(r) for r in rows)


def budgets(
    *, session: Session, scope: Subject, subject_ids: Iterable[str] | None = None
) -> dict[str, Budget]:
    """The budget rows of ``scope`` (of the given subjects only, when given)."""
    query = select(Budget).where(Budget.scope == scope)
    if subject_ids is not None:
        query = query.where(col(Budget.subject_id).in_(sorted(set(subject_ids))))
    return {b.subject_id: b for b in session.exec(query).all()}


def add_alert(*, session: Session, alert: Alert) -> int | None:
    """Insert ``alert`` unless one with its ``dedupe`` key exists; its id, or None if it did."""
    values: dict[str, Any] = {
        k: v for k, v in alert.model_dump().items() if k != "id" and v is not None
    }
    builder = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        builder(Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe"])
        .returning(col(Alert.id))
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def list_alerts(*, session: Session, scope: Scope, limit: int = 50) -> Sequence[Alert]:
    """The newest alerts the scope may see: an admin all; a member their own user's and
    their projects' (never the site-wide ones)."""
    query = select(Alert).order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
    if not scope.admin:
        parts = []
        if scope.user_id:
            parts.append((col(Alert.scope) == "user") & (col(Alert.subject_id) == scope.user_id))
        if scope.project_ids:
            parts.append(
                (col(Alert.scope) == "project")
                & col(Alert.subject_id).in_(sorted(scope.project_ids))
            )
        if not parts:
            return []
        query = query.where(or_(*parts))
    return session.exec(query.limit(limit)).all()


def pending_alerts(*, session: Session, limit: int = 100) -> Sequence[Alert]:
    return session.exec(
        select(Alert).where(Alert.delivery == "pending").order_by(col(Alert.id)).limit(limit)
    ).all()


def set_delivery(*, session: Session, alert_id: int, status: str) -> None:
    session.execute(update(Alert).where(col(Alert.id) == alert_id).values(delivery=status))


def add_delivery(*, session: Session, delivery: AlertDelivery) -> None:
    session.add(delivery)


def deliveries(*, session: Session, alert_id: int) -> Sequence[AlertDelivery]:
    return session.exec(
        select(AlertDelivery)
        .where(AlertDelivery.alert_id == alert_id)
        .order_by(col(AlertDelivery.attempt))
    ).all()


def hourly_cost(
    *, session: Session, by: Literal["user", "project", "all"], first_hour: int, last_hour: int
) -> dict[str, dict[int, int]]:
    """Cost in billionths of a dollar per subject ('' for "all") and per hour, hours in
    ``[first_hour, last_hour]`` (whole hours since the epoch, UTC)."""
    hour, nano = col(UsageHourly.hour), func.sum(col(UsageHourly.cost_nano))
    span = (hour >= first_hour, hour <= last_hour)
    out: dict[str, dict[int, int]] = {}
    if by == "all":
        for h, total in session.exec(select(hour, nano).where(*span).group_by(hour)).all():
            out.setdefault("", {})[int(h)] = int(total or 0)
        return out
    key = col(UsageHourly.user_id) if by == "user" else col(UsageHourly.project_id)
    rows = session.exec(
        select(key, hour, nano).where(*span, key != "").group_by(key, hour)  # pyright: ignore[reportCallIssue]
    ).all()
    for subject, h, total in rows:
        out.setdefault(str(subject), {})[int(h)] = int(total or 0)
    return out
