"""API keys for the gateway: create (shown once), list, revoke, and authenticate a request.

- A key is ``pk-`` and 40 URL-safe random characters. The database keeps only its SHA-256
  and its first :data:`PREFIX_CHARS` characters, so a copy of the database calls no model.
- A key belongs to one user and one project; calls made with it are that user's in that
  project (rate limits, budgets, the call log). Creating one needs write access to the
  project (owners and members; viewers cannot spend).
- A key may name the catalogue models it may use; none named means all.
- Revoking is for the key's holder and for admins, who see every key.
- Authenticating also checks the holder now: a disabled account, or one no longer a writer
  in the key's project, gets :class:`Forbidden` though the key is live. Results are kept
  for ``cache_ttl`` seconds so a busy script costs no query per call; a revocation in this
  process takes effect at once, one in another process within ``cache_ttl``.
- The last use is stamped at most once a ``touch_every`` per key.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from cachetools import TTLCache
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import ApiKey, utcnow
from app.db.session import run_in_session
from app.errors import Forbidden, InvalidInput, NotFound, NotSignedIn
from app.services.authz import WRITERS, Authz, Principal

T = TypeVar("T")

KEY_PREFIX = "pk-"
PREFIX_CHARS = 10
MAX_NAME = 100


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """A key as people see it: never the key itself."""

    id: str
    name: str
    prefix: str
    user_id: str
    project_id: str
    models: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            user_id=key.user_id,
            project_id=key.project_id,
            models=parse_models(key.models),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


@dataclass(frozen=True, slots=True)
class NewKey:
    token: str  # shown once
    view: ApiKeyView


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a request's key speaks for."""

    key_id: str
    user_id: str
    project_id: str
    models: frozenset[str]  # empty: every model

    def may_use(self, model: str) -> bool:
        return not self.models or model in self.models


def parse_models(raw: str) -> tuple[str, ...]:
    return tuple(m for m in (part.strip() for part in raw.split(",")) if m)


class ApiKeyService:
    def __init__(
        self,
        engine: Engine,
        *,
        cache_ttl: float = 5.0,
        touch_every: timedelta = timedelta(minutes=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._touch_every = touch_every
        self._cache: TTLCache[str, tuple[ApiKey, bool, bool]] = TTLCache(
            4096, cache_ttl, timer=time.monotonic
        )
        self._touched: dict[str, datetime] = {}

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    async def create(
        self,
        principal: Principal | None,
        *,
        project_id: str,
        name: str,
        expires_at: datetime | None = None,
        models: tuple[str, ...] = (),
    ) -> NewKey:
        Authz.require_project(principal, project_id, write=True)
        assert principal is not None
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise InvalidInput(f"Give the key a name of 1 to {MAX_NAME} characters.")
        if expires_at is not None and expires_at <= self._clock():
            raise InvalidInput("The expiry must be in the future.")
        cleaned = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
        token = new_token()
        key = ApiKey(
            key_hash=hash_key(token),
            prefix=token[:PREFIX_CHARS],
            name=name,
            user_id=principal.user_id,
            project_id=project_id,
            models=",".join(cleaned),
            created_at=self._clock(),
            expires_at=expires_at,
        )
        stored = await self._db(lambda s: crud.add_api_key(session=s, key=key))
        return NewKey(token, ApiKeyView.of(stored))

    async def list_keys(
        self, principal: Principal | None, *, everyone: bool = False
    ) -> list[ApiKeyView]:
        """The caller's keys; ``everyone`` (admins only): every user's."""
        if principal is None:
            raise NotSignedIn()
        if everyone:
            Authz.require_admin(principal)
        user_id = None if everyone else principal.user_id
        keys = await self._db(lambda s: crud.list_api_keys(session=s, user_id=user_id))
        return [ApiKeyView.of(k) for k in keys]

    async def revoke(self, principal: Principal | None, key_id: str) -> None:
        """The holder or an admin revokes a key; anyone else is told it does not exist."""
        if principal is None:
            raise NotSignedIn()
        now = self._clock()

        def run(session: Session) -> str:
            key = crud.get_api_key(session=session, key_id=key_id)
            if key is None or (key.user_id != principal.user_id and not principal.is_admin):
                raise NotFound("That key does not exist.")
            crud.revoke_api_key(session=session, key_id=key_id, at=now)
            return key.key_hash

        key_hash = await self._db(run)
        self._cache.pop(key_hash, None)

    async def authenticate(self, token: str | None) -> KeyHolder:
        """The holder of a key sent with a request. Raises :class:`NotSignedIn` for a
        missing, unknown, revoked or expired key, :class:`Forbidden` when its holder may no
        longer use it."""
        if not token or not token.startswith(KEY_PREFIX):
            raise NotSignedIn("Send a Parley API key (it starts with pk-).")
        key_hash = hash_key(token)
        hit = self._cache.get(key_hash)
        if hit is None:
            found = await self._db(lambda s: crud.find_api_key(session=s, key_hash=key_hash))
            if found is None:
                raise NotSignedIn("That API key is not valid.")
            hit = (found.key, found.user_disabled, found.role in WRITERS)
            self._cache[key_hash] = hit
        key, disabled, writer = hit
        now = self._clock()
        if key.revoked_at is not None:
            raise NotSignedIn("That API key was revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise NotSignedIn("That API key has expired.")
        if disabled:
            raise Forbidden("The account that owns this API key is disabled.")
        if not writer:
            raise Forbidden("The key's owner can no longer spend in its project.")
        last = self._touched.get(key.id) or key.last_used_at
        if last is None or now - last >= self._touch_every:
            self._touched[key.id] = now
            await self._db(lambda s: crud.touch_api_key(session=s, key_id=key.id, at=now))
        return KeyHolder(key.id, key.user_id, key.project_id, frozenset(parse_models(key.models)))


# ----- the process's key service -------------------------------------------------------------

_services: dict[str, ApiKeyService] = {}


def get_api_key_service(engine: Engine) -> ApiKeyService:
    """One service per engine per process, shared by the gateway and the keys page, so a key
    revoked on the page leaves the gateway's cache at once."""
    key = str(engine.url)
    if key not in _services:
        _services[key] = ApiKeyService(engine)
    return _services[key]
