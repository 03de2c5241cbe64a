"""Users, sessions, projects, memberships, invitations, budgets, moderation log, API keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from app.db.models.base import new_id, utcnow


class Role(StrEnum):
    """A member's role in a project: what they may do with its conversations and prompts."""

    owner = "owner"  # everything, including managing members
    member = "member"  # read everything in the project; write what they start, and prompts
    viewer = "viewer"  # read only


class User(SQLModel, table=True):
    """An account. ``password_hash`` is an Argon2 hash (pwdlib), None for accounts that sign
    in only through OpenID Connect. The first account on a fresh install is an admin."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(max_length=254, unique=True)  # stored lower-cased
    display_name: str = Field(default="", max_length=100)
    password_hash: str | None = Field(default=None, max_length=255)
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # OpenID Connect identity: (issuer, subject) is unique when set.
    oidc_issuer: str | None = Field(default=None, max_length=255)
    oidc_subject: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = Field(default=None)  # a disabled account cannot sign in

    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)


class FirstAdmin(SQLModel, table=True):
    """The first account's claim, written in the very transaction that signs it up. One row,
    id 1: of two simultaneous first sign-ups only one can insert it (the other's insert fails
    on the primary key, on SQLite and PostgreSQL alike, and it signs up again as an ordinary
    account), so a fresh install gets exactly one admin from sign-up."""

    __tablename__ = "first_admin"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (CheckConstraint("id = 1", name="ck_first_admin_singleton"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    user_id: str = Field(foreign_key="user.id", max_length=32, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so
    a copy of the database signs nobody in."""

    __tablename__ = "auth_session"  # pyright: ignore[reportAssignmentType]

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: str = Field(foreign_key="user.id", index=True, ondelete="CASCADE", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = Field(default=None)


class Project(SQLModel, table=True):
    """What conversations, prompts and attachments belong to; members see it by role."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    moderation_mode: str | None = Field(default=None, max_length=8)  # off/log/block; None: global
    # The MCP servers and tools its agent runs may use: a JSON list of "server" (every tool
    # of it) and "server/tool" entries; None: every server the admin configured.
    mcp_tools: str | None = Field(default=None, sa_type=Text)


class Membership(SQLModel, table=True):
    project_id: str = Field(
        foreign_key="project.id", primary_key=True, ondelete="CASCADE", max_length=32
    )
    user_id: str = Field(
        foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE", max_length=32
    )
    role: Role = Field(sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A sign-up code an admin made (sign-up mode "invite"). Only the code's SHA-256 is
    stored; a code signs up one account, before it expires."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    code_hash: str = Field(max_length=64, unique=True)
    created_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    used_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )


# ----- guards: budgets and the moderation log (app/guards) ------------------------------------


class Budget(SQLModel, table=True):
    """A monthly budget of one user or one project; overrides the defaults in settings.
    A NULL limit means no limit of that unit."""

    __table_args__ = (UniqueConstraint("scope", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)  # "user" or "project"
    subject_id: str = Field(max_length=64)  # the user's or project's id
    cost_limit: Decimal | None = Field(default=None, sa_type=Numeric(18, 9))  # USD per month
    token_limit: int | None = Field(default=None)  # input + output tokens per month
    updated_at: datetime = Field(default_factory=utcnow)


class ModerationLog(SQLModel, table=True):
    """One row per input that moderation flagged (in "log" and in "block" mode)."""

    __tablename__ = "moderation_log"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=64, index=True)
    project_id: str | None = Field(default=None, max_length=64, index=True)
    conversation_id: str | None = Field(default=None, max_length=32)
    source: str = Field(max_length=32)  # "openai" or "offline"
    action: str = Field(max_length=16)  # "blocked" or "logged"
    categories: str = Field(default="", max_length=500)  # comma-separated
    score: float | None = Field(default=None)
    excerpt: str = Field(default="", max_length=200)  # the start of the flagged text
    created_at: datetime = Field(default_factory=utcnow, index=True)


# ----- gateway: API keys (issue 14) -----------------------------------------------------------


class ApiKey(SQLModel, table=True):
    """A key for the OpenAI/Anthropic-compatible API, scoped to one project. The key itself
    (``pk-`` and 40 random characters) is shown once; only its SHA-256 is stored, with its
    first characters (``prefix``) so people can tell their keys apart. ``models`` is a
    comma-separated list of catalogue ids the key may use; empty means every model."""

    __tablename__ = "api_key"  # pyright: ignore[reportAssignmentType]

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    name: str = Field(max_length=100)
    user_id: str = Field(foreign_key="user.id", index=True, ondelete="CASCADE", max_length=32)
    project_id: str = Field(foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32)
    models: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None)
    last_used_at: datetime | None = Field(default=None)


# ----- usage rollups (issue 11: the token-spend dashboard) ----------------------------------
