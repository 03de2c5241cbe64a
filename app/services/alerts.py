"""Budget and spend alerts: when they fire, what the page shows of them.

Two kinds, each written once however many calls or workers see it (``alert.dedupe`` is
unique; a second insert does nothing):

1. **budget**: after a call-log write, in the same transaction
   (:func:`check_budgets`, called by :mod:`app.services.calllog`), the call's user and
   project are checked against their monthly budgets (the ``budget`` row, else the default in
   settings) with the budget guard's rule for spend. Each threshold (settings'
   ``budget_warn_at`` plus 1.0) that spend has reached gives one alert per subject, unit and
   UTC month. It cannot lag: the alert commits with the call that crossed.
2. **spike**: the last full UTC hour's spend (from the hourly rollup) is over ``k`` times the
   mean of the 24 hours before it, and at least a floor in dollars (so a quiet site's first
   cent is not a spike). Checked site-wide, per user and per project by the periodic task
   (:mod:`app.services.alert_delivery`); one alert per subject and hour.

A new alert is "pending" when a webhook is configured (the delivery task POSTs it, and wakes
as soon as the alert's transaction commits), else "none". Nothing here imports Reflex.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Engine, event
from sqlmodel import Session

from app.db.crud import alerts as crud
from app.db.crud.usage import Scope
from app.db.models import Alert, CallLog
from app.db.session import run_in_session
from app.guards.budgets import Limits, month_start

log = logging.getLogger("parley.alerts")
NANO = Decimal(1_000_000_000)
HOURS = 24  # the trailing window of the spike check


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    thresholds: tuple[float, ...] = (0.8, 0.95, 1.0)
    defaults: dict[str, Limits] = field(default_factory=dict)  # "user"/"project" -> limits
    spike_factor: float = 3.0
    spike_min_usd: Decimal = Decimal(1)
    webhook: bool = False  # new alerts wait for delivery ("pending")

    @classmethod
    def from_settings(cls) -> AlertPolicy:
        from app.settings import get_settings

        s = get_settings()
        return cls(
            thresholds=tuple(sorted({*s.budget_warn_at, 1.0})),
            defaults={
                "user": Limits(s.budget_user_usd, s.budget_user_tokens),
                "project": Limits(s.budget_project_usd, s.budget_project_tokens),
            },
            spike_factor=s.alert_spike_factor,
            spike_min_usd=s.alert_spike_min_usd,
            webhook=bool(s.alert_webhook_url),
        )


_policy: AlertPolicy | None = None
_wake: Callable[[], None] | None = None


def get_policy() -> AlertPolicy:
    global _policy
    if _policy is None:
        _policy = AlertPolicy.from_settings()
    return _policy


def configure(policy: AlertPolicy | None, wake: Callable[[], None] | None = None) -> None:
    """Set the policy (None: from settings on next use) and what a commit of new alerts
    calls (the delivery task's wake-up; thread-safe)."""
    global _policy, _wake
    _policy, _wake = policy, wake


def _add(session: Session, alert: Alert, policy: AlertPolicy) -> int | None:
    alert.delivery = "pending" if policy.webhook else "none"
    new = crud.add_alert(session=session, alert=alert)
    if new is not None:
        log.warning("alert: %s", alert.message)
        if _wake is not None and not event.contains(session, "after_commit", _on_commit):
            event.listen(session, "after_commit", _on_commit, once=True)
    return new


def _on_commit(_session: Session) -> None:
    if _wake is not None:
        _wake()


def _show(unit: str, value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'))}" if unit == "usd" else f"{int(value):,} tokens"


def limits_of(
    session: Session, scope: crud.Subject, subjects: Sequence[str], policy: AlertPolicy
) -> dict[str, Limits]:
    """Each subject's limits (its row, else the default); subjects with none are absent."""
    rows = crud.budgets(session=session, scope=scope, subject_ids=subjects)
    out: dict[str, Limits] = {}
    for subject in subjects:
        row = rows.get(subject)
        limits = Limits(row.cost_limit, row.token_limit) if row else policy.defaults.get(scope)
        if limits is not None and (limits.cost is not None or limits.tokens is not None):
            out[subject] = limits
    return out


def check_budgets(
    session: Session, calls: Sequence[CallLog], policy: AlertPolicy | None = None
) -> list[int]:
    """After ``calls`` are written (in ``session``'s transaction): one alert per threshold
    their subjects' monthly spend has newly reached. Returns the new alerts' ids."""
    policy = policy or get_policy()
    if not calls:
        return []
    now = max(c.created_at for c in calls)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    since, new = month_start(now), []
    period = since.strftime("%Y-%m")
    scopes: tuple[crud.Subject, ...] = ("user", "project")
    for scope in scopes:
        ids = (c.user_id if scope == "user" else c.project_id for c in calls)
        subjects = sorted({s for s in ids if s})
        limits = limits_of(session, scope, subjects, policy)
        spend = crud.month_spend(session=session, scope=scope, subject_ids=limits, since=since)
        for subject, limit in limits.items():
            cost, tokens = spend.get(subject, (Decimal(0), 0))
            token_cap = None if limit.tokens is None else Decimal(limit.tokens)
            figures = (("usd", cost, limit.cost), ("tokens", Decimal(tokens), token_cap))
            for unit, used, cap in figures:
                if cap is None or cap <= 0:
                    continue
                for t in policy.thresholds:
                    if used < cap * Decimal(str(t)):
                        break
                    text = (
                        f"The {scope} {subject} has used {t:.0%} of its monthly "
                        f"{'cost' if unit == 'usd' else 'token'} budget "
                        f"({_show(unit, used)} of {_show(unit, cap)})."
                    )
                    alert = Alert(
                        kind="budget", scope=scope, subject_id=subject, unit=unit,
                        threshold=t, value=used, reference=cap, message=text,
                        dedupe=f"budget/{scope}/{subject}/{unit}/{t:g}/{period}",
                    )  # fmt: skip
                    if (id_ := _add(session, alert, policy)) is not None:
                        new.append(id_)
    return new


def is_spike(last: int, trailing: Sequence[int], *, factor: float, floor: int) -> bool:
    """The jump rule: ``last`` (an hour's spend) > ``factor`` times the mean of ``trailing`` (the
    hours before it, zeros included) and ``last`` ≥ ``floor``."""
    mean = sum(trailing) / len(trailing) if trailing else 0
    return last >= floor and last > factor * mean


def check_spikes(session: Session, now: datetime, policy: AlertPolicy | None = None) -> list[int]:
    """The spike check for the last full UTC hour before ``now``: site-wide, per user, per
    project. Returns the new alerts' ids (a second check of the same hour adds none)."""
    policy = policy or get_policy()
    last = int(now.timestamp()) // 3600 - 1
    floor = int(policy.spike_min_usd * NANO)
    new: list[int] = []
    scopes: tuple[Literal["all", "user", "project"], ...] = ("all", "user", "project")
    for by in scopes:
        cost = crud.hourly_cost(session=session, by=by, first_hour=last - HOURS, last_hour=last)
        for subject, hours in cost.items():
            trailing = [hours.get(h, 0) for h in range(last - HOURS, last)]
            spent = hours.get(last, 0)
            if not is_spike(spent, trailing, factor=policy.spike_factor, floor=floor):
                continue
            mean = Decimal(sum(trailing)) / HOURS / NANO
            at = datetime.fromtimestamp(last * 3600, UTC)
            who = "All usage" if by == "all" else f"The {by} {subject}"
            text = (
                f"{who} spent {_show('usd', Decimal(spent) / NANO)} in the hour from "
                f"{at:%Y-%m-%d %H:00} UTC, over {policy.spike_factor:g} times the trailing "
                f"24-hour mean of {_show('usd', mean)}."
            )
            alert = Alert(
                kind="spike", scope=by, subject_id=subject, unit="usd",
                threshold=policy.spike_factor, value=Decimal(spent) / NANO, reference=mean,
                message=text, dedupe=f"spike/{by}/{subject}/{last}",
            )  # fmt: skip
            if (id_ := _add(session, alert, policy)) is not None:
                new.append(id_)
    return new


# ----- what the page shows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetBar:
    """One progress bar: a subject's spend this month against one of its limits."""

    scope: str
    subject: str
    unit: str
    spent: str
    limit: str
    percent: int  # of the limit, 0-100 (the bar)
    projected: str  # at the month's pace so far, by its end
    projected_percent: int  # may exceed 100
    over: bool  # the projection goes over the limit


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: str
    at: str
    message: str
    delivery: str


def budget_bars(
    session: Session, scope: Scope, now: datetime, policy: AlertPolicy | None = None
) -> list[BudgetBar]:
    """Bars for the subjects the scope may see that have a budget: an admin every budgeted
    user and project (and, with a default budget, every one that spent this month); a member
    their own and their projects'."""
    policy = policy or get_policy()
    since = month_start(now)
    days = calendar.monthrange(since.year, since.month)[1]
    elapsed = max(1, (now.astimezone(UTC) - since).days + 1)
    bars: list[BudgetBar] = []
    for kind in ("user", "project"):
        if scope.admin:
            subjects = set(crud.budgets(session=session, scope=kind))
            if kind in policy.defaults:
                subjects |= set(crud.subjects_with_spend(session=session, scope=kind, since=since))
        elif kind == "user":
            subjects = {scope.user_id} if scope.user_id else set()
        else:
            subjects = set(scope.project_ids)
        limits = limits_of(session, kind, sorted(subjects), policy)
        spend = crud.month_spend(session=session, scope=kind, subject_ids=limits, since=since)
        for subject, limit in sorted(limits.items()):
            cost, tokens = spend.get(subject, (Decimal(0), 0))
            token_cap = None if limit.tokens is None else Decimal(limit.tokens)
            figures = (("usd", cost, limit.cost), ("tokens", Decimal(tokens), token_cap))
            for unit, used, cap in figures:
                if cap is None:
                    continue
                projected = used * days / elapsed
                share = int(used / cap * 100) if cap else 100
                ahead = int(projected / cap * 100) if cap else 100
                bar = BudgetBar(
                    kind, subject, unit, _show(unit, used), _show(unit, cap),
                    min(100, share), _show(unit, projected), ahead, projected > cap,
                )  # fmt: skip
                bars.append(bar)
    return bars


def alert_views(session: Session, scope: Scope, limit: int = 20) -> list[AlertView]:
    rows = crud.list_alerts(session=session, scope=scope, limit=limit)
    return [
        AlertView(
            a.id or 0,
            a.kind,
            (a.created_at if a.created_at.tzinfo else a.created_at.replace(tzinfo=UTC)).strftime(
                "%Y-%m-%d %H:%M UTC"
            ),
            a.message,
            a.delivery,
        )
        for a in rows
    ]


async def for_page(
    engine: Engine, scope: Scope, now: datetime | None = None
) -> tuple[list[BudgetBar], list[AlertView]]:
    """The /usage page's budget bars and newest alerts, for ``scope``."""
    moment = now or datetime.now(UTC)
    return await run_in_session(
        engine, lambda s: (budget_bars(s, scope, moment), alert_views(s, scope))
    )
