"""Failed sign-ins, limited per client IP and per account name, with the ``limits`` library on
the guards' storage (memory, or Redis when ``REDIS_URL`` is set: every worker counts together).

The rules:

1. Before a password is checked, both windows of the attempt (its IP's and its account
   name's) must have room; if either is full the attempt is refused with
   :class:`~app.errors.LimitExceeded` (``retry_after``: when that window resets) and no
   password is checked, so a refused guess costs no Argon2 work and learns nothing.
2. A failed attempt (wrong password, unknown or disabled account) counts one against both
   windows. A successful one counts nothing: people who type their password right are never
   slowed down, guessing is.
3. The account name is the email as typed, normalised (trimmed, lower-cased), and stored
   only as a SHA-256 prefix in the limiter's keys: an unknown address is limited exactly like
   a known one, so the limit does not tell which accounts exist.
4. Windows are in ``limits``' notation (``"5/minute;30/hour"``); empty means no limit.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections.abc import Callable

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from app.errors import LimitExceeded
from app.guards.ratelimit import parse_rule

NAMESPACE = "login-failures"


def account_key(email: str) -> str:
    """The limiter's key for an account name: a hash of the normalised address."""
    cleaned = unicodedata.normalize("NFKC", email).strip().lower()
    return hashlib.sha256(cleaned.encode()).hexdigest()[:32]


def limited_message(retry_after: float) -> str:
    """What the login page says to a refused attempt."""
    return (
        "Too many failed sign-in attempts. For your account's safety, wait "
        f"{math.ceil(retry_after):.0f} s, then try again."
    )


class LoginLimiter:
    """Applies the per-IP and per-account windows to sign-in attempts."""

    def __init__(
        self,
        *,
        per_ip: str = "",
        per_account: str = "",
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage or MemoryStorage()
        self.windows = FixedWindowRateLimiter(self.storage)
        self._rules: dict[str, tuple[RateLimitItem, ...]] = {
            "ip": parse_rule(per_ip),
            "account": parse_rule(per_account),
        }
        self._clock = clock

    def _checks(self, ip: str, email: str) -> list[tuple[str, str, RateLimitItem]]:
        idents = {"ip": ip, "account": account_key(email) if email.strip() else ""}
        return [
            (scope, ident, item)
            for scope, ident in idents.items()
            if ident
            for item in self._rules[scope]
        ]

    async def check(self, ip: str, email: str) -> None:
        """Raise :class:`LimitExceeded` if this IP or this account name has no attempts
        left in a window; counts nothing."""
        for scope, ident, item in self._checks(ip, email):
            if not await self.windows.test(item, NAMESPACE, scope, ident):
                stats = await self.windows.get_window_stats(item, NAMESPACE, scope, ident)
                wait = max(1.0, math.ceil(stats.reset_time - self._clock()))
                raise LimitExceeded(
                    limited_message(wait),
                    retry_after=wait,
                    limit=f"failed sign-ins: {item} per {scope}",
                )

    async def failed(self, ip: str, email: str) -> None:
        """Count one failed attempt against the IP's and the account name's windows."""
        for scope, ident, item in self._checks(ip, email):
            await self.windows.hit(item, NAMESPACE, scope, ident)
