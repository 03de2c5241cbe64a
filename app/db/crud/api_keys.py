"""API keys for the gateway: create, find by hash (with what the holder may still do), list,
revoke, and stamp the last use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.db.models import ApiKey, Membership, Role, User


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """A key with its holder's standing now: a disabled account or a lost membership
    makes the key useless without revoking it."""

    key: ApiKey
    user_disabled: bool
    role: Role | None  # the holder's role in the key's project, None when no longer a member


def add_api_key(*, session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key


def get_api_key(*, session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def find_api_key(*, session: Session, key_hash: str) -> KeyOwner | None:
    """The key with this hash, its holder's account state and project role (one query)."""
    query = (
        select(ApiKey, User.disabled_at, Membership.role)
        .join(User, col(User.id) == col(ApiKey.user_id))
        .join(
            Membership,
            (col(Membership.user_id) == col(ApiKey.user_id))
            & (col(Membership.project_id) == col(ApiKey.project_id)),
            isouter=True,
        )
        .where(col(ApiKey.key_hash) == key_hash)
    )
    row = session.exec(query).first()
    if row is None:
        return None
    key, disabled_at, role = row
    return KeyOwner(key, disabled_at is not None, Role(role) if role is not None else None)


def list_api_keys(*, session: Session, user_id: str | None) -> Sequence[ApiKey]:
    """A user's keys, or everyone's (``user_id=None``, for admins); newest first."""
    query = select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))
    if user_id is not None:
        query = query.where(col(ApiKey.user_id) == user_id)
    return session.exec(query).all()


def revoke_api_key(*, session: Session, key_id: str, at: datetime) -> bool:
    """Revoke a live key; False when it does not exist or was already revoked."""
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = at
    session.add(key)
    session.flush()
    return True


def touch_api_key(*, session: Session, key_id: str, at: datetime) -> None:
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = at
        session.add(key)
        session.flush()
