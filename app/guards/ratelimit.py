"""Rate limits and concurrency, with the ``limits`` library: requests and tokens per window,
per client IP, per user and per project, and concurrent streams per user.

Storage is in this process by default and Redis (shared by every worker) when a URL is given:
:func:`limits_storage`. Windows are fixed windows (``limits``' ``FixedWindowRateLimiter``):
one counter per key and window, so a token charge of thousands is one ``INCRBY``, and the
window's reset time says exactly when to try again.

The rules:

1. **Concurrency**: a caller (the user, or the IP before accounts) holds one slot per reply in
   flight, at most ``concurrent_streams``. A slot is a counter with a lease (``slot_lease``
   seconds), so a worker that dies mid-stream cannot hold a slot for ever.
2. **Requests**: every window of every scope the caller has is *tested* first and *hit* only
   when all pass, so a refusal at the project level spends none of the user's allowance.
3. **Tokens**: before the call, each token window must have room for the input estimate;
   after it, the tokens really used (input + output, from the reply's usage) are charged.
4. A refusal is :class:`~app.errors.LimitExceeded` with ``retry_after`` in seconds and the
   limit's name; nothing has been sent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from app.errors import LimitExceeded
from app.guards.context import CallContext

Scope = str  # "ip", "user" or "project"
SCOPES: tuple[Scope, ...] = ("ip", "user", "project")
# How long a refused concurrent caller should wait: a reply's end cannot be foreseen.
CONCURRENCY_RETRY = 2.0


def limits_storage(redis_url: str | None, *, prefix: str = "parley-limits") -> Storage:
    """Redis (through redis-py, already a dependency) when a URL is set, else memory."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    return RedisStorage(uri, implementation="redispy", key_prefix=prefix)


async def close_storage(storage: Storage) -> None:
    """Close a Redis storage's connections (memory storage holds none)."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    close = getattr(client, "aclose", None)
    if close is not None:
        await close()


def parse_rule(text: str) -> tuple[RateLimitItem, ...]:
    """``"30/minute; 500/day"`` as limits items; an empty string means no limit."""
    text = text.strip()
    return tuple(parse_many(text)) if text else ()


@dataclass(frozen=True, slots=True)
class LimitRules:
    """Windows per scope, in ``limits``' notation (``"30/minute"``, ``"1000/day"``; several
    joined by ``;``). Empty: no limit of that kind for that scope."""

    requests: dict[Scope, str] = field(default_factory=dict)
    tokens: dict[Scope, str] = field(default_factory=dict)
    concurrent_streams: int = 0  # per user (per IP without a user); 0: unlimited
    slot_lease: int = 3600  # seconds a concurrency slot outlives a dead worker

    def parsed(self, kind: str) -> dict[Scope, tuple[RateLimitItem, ...]]:
        rules = self.requests if kind == "requests" else self.tokens
        return {scope: parse_rule(rules.get(scope, "")) for scope in SCOPES}


def _ids(context: CallContext) -> dict[Scope, str]:
    return {
        scope: value
        for scope, value in (
            ("ip", context.client_ip),
            ("user", context.user_id),
            ("project", context.project_id),
        )
        if value
    }


def _who(context: CallContext) -> str:
    """Whose concurrency slots: the user's, else (before accounts) the IP's."""
    if context.user_id:
        return f"user/{context.user_id}"
    return f"ip/{context.client_ip}" if context.client_ip else ""


@dataclass(slots=True)
class Slot:
    """A held concurrency slot; :meth:`RateLimiter.release` gives it back once."""

    key: str | None
    released: bool = False


class RateLimiter:
    """Applies :class:`LimitRules` to callers, on a ``limits`` storage."""

    def __init__(
        self,
        rules: LimitRules,
        storage: Storage | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.storage = storage or MemoryStorage()
        self.windows = FixedWindowRateLimiter(self.storage)
        self._requests = rules.parsed("requests")
        self._tokens = rules.parsed("tokens")
        self._clock = clock

    # ----- concurrency ----------------------------------------------------------------------

    async def acquire(self, context: CallContext) -> Slot:
        """A concurrency slot for the caller, or :class:`LimitExceeded`."""
        limit = self.rules.concurrent_streams
        who = _who(context)
        if limit <= 0 or not who:
            return Slot(None)
        key = f"streams/{who}"
        held = await self.storage.incr(key, self.rules.slot_lease, amount=1)
        if held > limit:
            await self._give_back(key)
            raise LimitExceeded(
                f"You already have {limit} replies in progress. Wait for one to finish, "
                f"then try again (in about {CONCURRENCY_RETRY:.0f} s).",
                retry_after=CONCURRENCY_RETRY,
                limit="concurrent streams per user",
            )
        return Slot(key)

    async def release(self, slot: Slot) -> None:
        if slot.key is None or slot.released:
            return
        slot.released = True
        await self._give_back(slot.key)

    async def _give_back(self, key: str) -> None:
        left = await self.storage.incr(key, self.rules.slot_lease, amount=-1)
        if left <= 0:  # the lease ran out meanwhile: never go below zero
            await self.storage.clear(key)

    async def streams_in_flight(self, context: CallContext) -> int:
        who = _who(context)
        return max(0, await self.storage.get(f"streams/{who}")) if who else 0

    # ----- windows --------------------------------------------------------------------------

    def _checks(
        self, table: dict[Scope, tuple[RateLimitItem, ...]], context: CallContext
    ) -> Iterable[tuple[Scope, str, RateLimitItem]]:
        for scope, ident in _ids(context).items():
            for item in table[scope]:
                yield scope, ident, item

    async def _refusal(self, kind: str, scope: Scope, ident: str, item: RateLimitItem) -> None:
        stats = await self.windows.get_window_stats(item, kind, scope, ident)
        wait = max(1.0, math.ceil(stats.reset_time - self._clock()))
        name = f"{kind}: {item} per {scope}"  # e.g. "requests: 30 per 1 minute per user"
        raise LimitExceeded(
            f"Rate limit reached ({name}). Try again in {wait:.0f} s.",
            retry_after=wait,
            limit=name,
        )

    async def check_requests(self, context: CallContext) -> None:
        """Count one request against every window, or raise if any is full (none counted)."""
        checks = list(self._checks(self._requests, context))
        for scope, ident, item in checks:
            if not await self.windows.test(item, "requests", scope, ident):
                await self._refusal("requests", scope, ident, item)
        for scope, ident, item in checks:
            await self.windows.hit(item, "requests", scope, ident)

    async def check_tokens(self, context: CallContext, estimate: int) -> None:
        """Raise if a token window has no room for ``estimate`` more tokens."""
        for scope, ident, item in self._checks(self._tokens, context):
            cost = min(max(estimate, 1), item.amount)  # a huge prompt still fits an empty window
            if not await self.windows.test(item, "tokens", scope, ident, cost=cost):
                await self._refusal("tokens", scope, ident, item)

    async def charge_tokens(self, context: CallContext, tokens: int) -> None:
        """Charge the tokens a call really used to every token window."""
        if tokens <= 0:
            return
        for scope, ident, item in self._checks(self._tokens, context):
            await self.windows.hit(item, "tokens", scope, ident, cost=tokens)
