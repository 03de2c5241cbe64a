"""Usage aggregates for the token-spend dashboard, in SQL, on SQLite and PostgreSQL.

Each read sums the parts :func:`app.db.crud.usage_source.plan` picks (rollups where they
cover the window, raw rows where none does); every part gives the same numbers as the raw
rows would, so the reads are exact whichever tables answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, literal, over, select
from sqlmodel import Session

from app.db.crud.rollups import NANO
from app.db.crud.usage_source import (
    MEASURES,
    Scope,
    Source,
    Totals,
    UsageFilter,
    Window,
    combined,
    scope_clause,
    sources,
)

__all__ = [
    "DIMENSIONS",
    "MEASURES",
    "SORTS",
    "DayRow",
    "GridRow",
    "Row",
    "Scope",
    "Totals",
    "UsageFilter",
    "Window",
    "breakdown",
    "cost_usd",
    "daily",
    "day_of",
    "grid",
    "options",
    "scope_clause",
    "totals",
]

Dimension = Literal["user", "project", "model", "provider", "feature"]
DIMENSIONS: tuple[Dimension, ...] = ("user", "project", "model", "provider", "feature")
SORTS = ("key", "cost", "calls", "requests", "tokens", "errors", "unknown")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    totals: Totals = field(default_factory=Totals)


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    key: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class GridRow:
    day: date
    model: str
    feature: str
    totals: Totals


def day_of(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))


def totals(*, session: Session, window: Window, filt: UsageFilter, scope: Scope) -> Totals:
    query, _, _ = combined(sources(session, window, filt, scope), filt, scope, lambda s: [])
    return Totals.of(session.execute(query).one())


def daily(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    by: Dimension | None = None,
) -> list[DayRow]:
    """Sums per local day (and per ``by`` value), oldest first."""
    srcs = sources(session, window, filt, scope, by=by, by_day=True)

    def keys(src: Source) -> list[Any]:
        return [src.local_day(), src.dims[by] if by else literal("")]

    query, ks, _ = combined(srcs, filt, scope, keys)
    return [
        DayRow(day_of(r[0]), str(r[1] or ""), Totals.of(r[2:]))
        for r in session.execute(query.order_by(*ks)).all()
    ]


def grid(*, session: Session, window: Window, filt: UsageFilter, scope: Scope) -> list[GridRow]:
    """Sums per (local day, model, feature): one scan from which the headline's totals, the
    per-day charts and the feature breakdown are all added up (they share the window)."""
    srcs = sources(session, window, filt, scope, by_day=True)

    def keys(src: Source) -> list[Any]:
        return [src.local_day(), src.dims["model"], src.dims["feature"]]

    query, _, _ = combined(srcs, filt, scope, keys)
    return [
        GridRow(day_of(r[0]), str(r[1]), str(r[2]), Totals.of(r[3:]))
        for r in session.execute(query).all()
    ]


def ranked_page(
    session: Session,
    srcs: list[Source],
    filt: UsageFilter,
    scope: Scope,
    *,
    by: str,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    extra: Any = (),
) -> tuple[list[Row], int]:
    """One page of sums per ``by`` value, sorted on the server; and how many values there are
    (a window ``COUNT(*) OVER ()`` on the page, so one scan; a second only past the end)."""
    if sort not in SORTS:
        raise ValueError(f"cannot sort by {sort!r}; one of {', '.join(SORTS)}")
    query, ks, named = combined(srcs, filt, scope, lambda s: [s.dims[by]], extra=extra)
    key = ks[0]
    order_by = {
        "key": key,
        "cost": named["cost_nano"],
        "calls": named["calls"],
        "requests": named["requests"],
        "tokens": named["input_tokens"] + named["output_tokens"],
        "errors": named["errors"],
        "unknown": named["unknown"],
    }[sort]
    ordered = order_by.desc() if descending else order_by.asc()
    page = (
        query.add_columns(over(func.count()))
        .order_by(ordered, key.asc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    found = session.execute(page).all()
    rows = [Row(str(r[0] or ""), Totals.of(r[1:-1])) for r in found]
    if found:
        return rows, int(found[0][-1])
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    return rows, int(count)


def breakdown(
    *,
    session: Session,
    window: Window,
    filt: UsageFilter,
    scope: Scope,
    by: Dimension,
    sort: str = "cost",
    descending: bool = True,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Row], int]:
    """One page of sums per ``by`` value, sorted on the server; and how many values there are."""
    srcs = sources(session, window, filt, scope, by=by)
    return ranked_page(
        session,
        srcs,
        filt,
        scope,
        by=by,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def options(
    *, session: Session, scope: Scope, window: Window, limit: int = 200
) -> dict[str, list[str]]:
    """The values each filter can take in the window, sorted: users and projects from the
    daily rollup (and its edges), models, providers and features from the hourly ones."""
    seen: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    none = UsageFilter()
    for dims in (("user", "project"), ("model", "provider", "feature")):
        srcs = sources(session, window, none, scope, by=dims[0])

        def keys(src: Source, dims: tuple[str, ...] = dims) -> list[Any]:
            return [src.dims[d] for d in dims]

        query, _, _ = combined(srcs, none, scope, keys)
        for row in session.execute(query).all():
            for dim, value in zip(dims, row, strict=False):
                if value:
                    seen[dim].add(str(value))
    return {dim: sorted(values)[:limit] for dim, values in seen.items()}


def cost_usd(nano: int) -> Decimal:
    """Billionths of a dollar as a Decimal of dollars (exact)."""
    return Decimal(nano) / NANO
