"""The dashboard's period, query and money text: pure functions, no database.

A viewer picks local dates and an IANA time zone; the database stores UTC. :func:`window`
turns ``[first, last]`` local days into a half-open UTC interval plus the zone's offsets inside
it (found by scanning day by day and bisecting to the second at each change), which is what
the SQL needs to group rows into the viewer's days.

Money rules (as in :mod:`app.services.cost`): an unknown price is never shown as 0; a total
that includes one reads "at least" (``≥ $12.34``); with nothing priced it reads "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.db.crud.usage import UsageFilter, Window
from app.errors import InvalidInput
from app.services.cost import format_usd

MAX_DAYS = 400
FILTER_KEYS = ("user", "project", "model", "provider", "feature", "status")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"Unknown time zone {name!r}; use an IANA name like Europe/Paris."
        ) from exc


def _offset(tz: ZoneInfo, at: int) -> int:
    moment = datetime.fromtimestamp(at, UTC).astimezone(tz)
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset else 0


def window(first: date, last: date, tz_name: str) -> Window:
    """Local days ``first``..``last`` (inclusive) in ``tz_name``, as a UTC window."""
    if last < first:
        raise InvalidInput("The period ends before it starts.")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"Pick a period of at most {MAX_DAYS} days.")
    tz = zone(tz_name)
    start = datetime.combine(first, time(), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    offsets = [(lo, _offset(tz, lo))]
    at = lo
    while at < hi:
        nxt = min(at + 86400, hi)
        if _offset(tz, nxt - 1) == offsets[-1][1]:
            at = nxt
            continue
        # offset(a) is the current one (checked before), offset(b) not: find the change
        a, b = (at - 1 if at > lo else at), nxt - 1
        while b - a > 1:
            mid = (a + b) // 2
            if _offset(tz, mid) == offsets[-1][1]:
                a = mid
            else:
                b = mid
        offsets.append((b, _offset(tz, b)))
        at = b
    return Window(start, end, tuple(offsets))


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """What the page shows: a period of local days, a time zone, and filters (all in the URL)."""

    first: date
    last: date
    tz: str = "UTC"
    filters: UsageFilter = field(default_factory=UsageFilter)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def window(self) -> Window:
        return window(self.first, self.last, self.tz)

    def previous(self) -> UsageQuery:
        """The period of the same length just before this one."""
        return replace(
            self, first=self.first - timedelta(days=self.days), last=self.first - timedelta(days=1)
        )

    @classmethod
    def last_days(cls, days: int, *, tz: str = "UTC", today: date | None = None) -> UsageQuery:
        now = today or datetime.now(zone(tz)).date()
        return cls(now - timedelta(days=days - 1), now, tz)

    @classmethod
    def from_params(cls, params: dict[str, str], *, today: date | None = None) -> UsageQuery:
        """From URL query parameters (``from``, ``to``, ``tz``, and the filter keys); bad
        values raise :class:`InvalidInput` with a message that says which."""
        tz = params.get("tz") or "UTC"
        default = cls.last_days(30, tz=tz, today=today)
        try:
            first = date.fromisoformat(params["from"]) if params.get("from") else default.first
            last = date.fromisoformat(params["to"]) if params.get("to") else default.last
        except ValueError as exc:
            raise InvalidInput("Dates must look like 2026-12-01.") from exc
        values = {k: (params.get(k) or None) for k in FILTER_KEYS}
        filters = UsageFilter(
            user_id=values["user"],
            project_id=values["project"],
            model=values["model"],
            provider=values["provider"],
            feature=values["feature"],
            status=values["status"],
        )
        query = cls(first, last, tz, filters)
        query.window()  # validates the zone and the length
        return query

    def params(self) -> dict[str, str]:
        f = self.filters
        values = {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "tz": self.tz,
            "user": f.user_id,
            "project": f.project_id,
            "model": f.model,
            "provider": f.provider,
            "feature": f.feature,
            "status": f.status,
        }
        return {k: v for k, v in values.items() if v}

    def query_string(self) -> str:
        return urlencode(self.params())


def money(nano: int, unknown: int) -> str:
    """A total as shown: ``$1.23``; ``≥ $1.23`` when some prices are unknown; ``unknown``."""
    amount = Decimal(nano) / Decimal(1_000_000_000)
    if unknown and nano == 0:
        return "unknown"
    text = format_usd(amount)
    return f"≥ {text}" if unknown else text


def change(now: float, before: float) -> str:
    """The change from the previous period: ``+12%``, ``-3%``, ``new`` or ``—`` (no data)."""
    if before == 0:
        return "new" if now else "—"
    pct = (now - before) / before * 100
    return f"{pct:+.0f}%"
