"""Cooldown: a provider that fails repeatedly is skipped for a while.

After ``failures`` failed attempts in a row (each within ``window`` seconds of the first), the
provider cools down for ``period`` seconds: the router skips it and goes to the next model in
the chain. A success resets the count. The state lives in this process
(:class:`LocalCooldown`) or in Redis (:class:`RedisCooldown`), so several Parley processes
share it. A Redis failure never blocks a call: the provider then counts as available.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Cooldown(Protocol):
    async def available(self, provider: str) -> bool:
        """False while ``provider`` is cooling down."""
        ...

    async def failed(self, provider: str) -> bool:
        """Count a failure; True if it started a cooldown."""
        ...

    async def succeeded(self, provider: str) -> None: ...


class LocalCooldown:
    """Per-process cooldown state."""

    def __init__(
        self,
        *,
        failures: int = 3,
        period: float = 30.0,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.period = period
        self.window = window
        self.clock = clock
        self._count: dict[str, tuple[int, float]] = {}  # provider -> (failures, first at)
        self._until: dict[str, float] = {}

    async def available(self, provider: str) -> bool:
        until = self._until.get(provider)
        if until is None:
            return True
        if self.clock() >= until:
            del self._until[provider]
            return True
        return False

    async def failed(self, provider: str) -> bool:
        now = self.clock()
        count, first = self._count.get(provider, (0, now))
        if now - first > self.window:
            count, first = 0, now
        count += 1
        if count >= self.failures:
            self._count.pop(provider, None)
            self._until[provider] = now + self.period
            return True
        self._count[provider] = (count, first)
        return False

    async def succeeded(self, provider: str) -> None:
        self._count.pop(provider, None)


class RedisCooldown:
    """Cooldown state in Redis, shared by every process using the same ``prefix``."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis
        *,
        prefix: str = "parley:cooldown",
        failures: int = 3,
        period: float = 30.0,
        window: float = 60.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.failures = failures
        self.period = period
        self.window = window

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCooldown:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=1.0, decode_responses=True
        )
        return cls(client, **kwargs)

    def _keys(self, provider: str) -> tuple[str, str]:
        return f"{self.prefix}:fails:{provider}", f"{self.prefix}:until:{provider}"

    async def available(self, provider: str) -> bool:
        _, until = self._keys(provider)
        try:
            return not await self.client.exists(until)
        except Exception as exc:
            log.warning("cooldown: Redis unavailable (%s); treating %s as available", exc, provider)
            return True

    async def failed(self, provider: str) -> bool:
        fails, until = self._keys(provider)
        try:
            count = await self.client.incr(fails)
            if int(count) == 1:  # the first failure opens the window
                await self.client.pexpire(fails, max(1, int(self.window * 1000)))
            if int(count) >= self.failures:
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.set(until, "1", px=max(1, int(self.period * 1000)))
                    pipe.delete(fails)
                    await pipe.execute()
                return True
        except Exception as exc:
            log.warning(
                "cooldown: Redis unavailable (%s); failure of %s not counted", exc, provider
            )
        return False

    async def succeeded(self, provider: str) -> None:
        fails, _ = self._keys(provider)
        try:
            await self.client.delete(fails)
        except Exception as exc:
            log.warning("cooldown: Redis unavailable (%s)", exc)

    async def aclose(self) -> None:
        await self.client.aclose()
