"""Every SQLModel table Parley has. Schema changes go through Alembic (``app/db/migrations``).

Timestamps are timezone-aware UTC; sqlmodel's UTC type rejects naive datetimes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


# Full-text search objects that migration 0004 makes with raw SQL, per dialect: FTS5 tables
# (with their shadow tables, named ``<table>_<suffix>``) on SQLite, expression GIN indexes on
# PostgreSQL. No model describes them, so autogenerate must not see them.
SEARCH_TABLES = ("message_fts", "conversation_fts")
SEARCH_INDEXES = ("ix_message_content_fts", "ix_conversation_title_fts")


def is_search_object(name: str | None) -> bool:
    """True for the names of the search objects above (an ``include_name`` filter's test)."""
    if name is None:
        return False
    return (
        name in SEARCH_TABLES
        or name in SEARCH_INDEXES
        or name.startswith(tuple(f"{table}_" for table in SEARCH_TABLES))
    )


def include_name(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Alembic's ``include_name`` hook: compare everything but the search objects."""
    return not (type_ in ("table", "index") and is_search_object(name))


class MessageStatus(StrEnum):
    streaming = "streaming"  # being generated right now
    complete = "complete"
    stopped = "stopped"  # the user pressed Stop; content is the partial reply
    error = "error"  # the provider failed; content is whatever arrived first


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    title: str = Field(default="New chat", max_length=200)
    model: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    # Pinned conversations head the sidebar. The server default fills existing rows.
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Set by delete (soft: undo clears it); purged for good once old enough.
    deleted_at: datetime | None = Field(default=None, index=True)
    # The last message of the branch on screen: messages form a tree (regenerate adds a
    # sibling reply, edit-and-resend a sibling question), and the path from this leaf up to
    # the root is what the user sees and what the model gets as context.
    current_leaf_id: int | None = Field(default=None)
    # Generation parameters for this conversation; None means the model's default.
    temperature: float | None = Field(default=None)
    max_tokens: int | None = Field(default=None)
    # The system prompt from the library, if any. Each reply records the version it used.
    prompt_id: int | None = Field(default=None, foreign_key="prompt.id", ondelete="SET NULL")
    # The project it belongs to (authorisation goes by the project's memberships) and the
    # user who started it. Nullable until every creator passes them (issue 10's wiring):
    # a row without a project is readable by admins only (app/services/authz.py).
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    # The message this one answers or follows; None for a conversation's first message(s).
    # Siblings (same parent) are versions: regenerated replies, edited questions.
    parent_id: int | None = Field(
        default=None, foreign_key="message.id", index=True, ondelete="CASCADE"
    )
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=Text)
    model: str | None = Field(default=None, max_length=200)  # the model that answered
    provider: str | None = Field(default=None, max_length=50)
    requested_model: str | None = Field(default=None, max_length=200)  # the model asked for
    input_tokens: int | None = None
    output_tokens: int | None = None
    status: MessageStatus = Field(default=MessageStatus.complete, sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    # The system prompt version this reply was generated with (None: no system prompt).
    prompt_version_id: int | None = Field(
        default=None, foreign_key="prompt_version.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Prompt(SQLModel, table=True):
    """A named system prompt in the library. Its text lives in versions, never edited."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    archived_at: datetime | None = Field(default=None)  # hidden from the picker; kept for history
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )


class PromptVersion(SQLModel, table=True):
    """One immutable text of a prompt. Saving a changed prompt adds a version."""

    __tablename__ = "prompt_version"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="CASCADE")
    version: int  # 1, 2, 3 ... per prompt
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class AttachmentKind(StrEnum):
    text = "text"  # text or code: its content goes into the model's context
    image = "image"  # sent to vision-capable models


class Attachment(SQLModel, table=True):
    """A file a user attached. Stored under the upload root by ``stored_name`` (generated by
    the server, never the user's file name); ``filename`` is only for display."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # Both None while the file waits in the composer; set when the message is sent.
    conversation_id: str | None = Field(
        default=None, foreign_key="conversation.id", index=True, ondelete="CASCADE"
    )
    message_id: int | None = Field(
        default=None, foreign_key="message.id", index=True, ondelete="CASCADE"
    )
    filename: str = Field(max_length=255)
    stored_name: str = Field(max_length=64, unique=True)
    media_type: str = Field(max_length=100)
    kind: AttachmentKind = Field(sa_type=String(16))
    size: int  # bytes
    created_at: datetime = Field(default_factory=utcnow)
    # Who uploaded it, into which project: a file still waiting in the composer belongs to
    # its uploader alone; once sent, readers of its conversation may read it.
    project_id: str | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="SET NULL", max_length=32
    )


class CallLog(SQLModel, table=True):
    """One row per model call attempt (including failed attempts and cache hits).

    ``cost`` is in US dollars from genai-prices (``price_version`` says which data); NULL means
    the price is unknown, never free. No keys, prompts or provider error texts are stored.
    """

    __tablename__ = "call_log"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=64, index=True)
    project_id: str | None = Field(default=None, max_length=64, index=True)
    conversation_id: str | None = Field(default=None, max_length=32, index=True)
    message_id: int | None = Field(default=None)
    feature: str = Field(default="chat", max_length=32)  # chat, extract, agent, title ...
    prompt_version: str | None = Field(default=None, max_length=64)
    provider: str = Field(max_length=50)
    model: str = Field(max_length=200)  # catalogue id
    provider_model: str = Field(default="", max_length=200)
    requested_model: str | None = Field(default=None, max_length=200)
    input_tokens: int = 0  # all prompt tokens, cache reads and writes included
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal | None = Field(default=None, sa_type=Numeric(18, 9))
    price_version: str | None = Field(default=None, max_length=64)
    latency_ms: int = 0
    ttft_ms: int | None = None
    status: str = Field(max_length=16)  # ok, error, cancelled
    error_type: str | None = Field(default=None, max_length=64)
    attempt: int = 1
    failover_from: str | None = Field(default=None, max_length=200)
    cache_hit: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


# ----- accounts and projects (issue 10) ------------------------------------------------------


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


class UsageSums(SQLModel):
    """The figures every usage rollup sums (not a table). Money is ``cost_nano``: the priced
    rows' cost in billionths of a dollar, an integer, so sums are exact on SQLite too;
    ``unknown`` counts billed rows whose price is unknown."""

    calls: int = 0  # attempts
    requests: int = 0  # first attempts (attempt == 1)
    errors: int = 0
    failovers: int = 0  # attempts on a fallback model
    cache_hits: int = 0
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_read_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_write_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_nano: int = Field(default=0, sa_type=BigInteger)
    unknown: int = 0


# The usage rollups (issue 11). All are kept exact by the writes themselves:
# :func:`app.db.crud.add_call_log` upserts each in the same transaction as the call-log insert
# (never a job that can lag), and :func:`app.db.crud.rebuild_usage_rollups` recomputes them
# from ``call_log`` (migration backfill, bulk loads) with the same rules. ``hour`` / ``day`` are
# whole hours / days since the Unix epoch, UTC. Missing ids are ``''`` (NULLs would never
# conflict in a unique key). Each key leads with the time and, on SQLite, is the table itself
# (WITHOUT ROWID), so a period's rows are one contiguous range.


class UsageHourly(UsageSums, table=True):
    """Per UTC hour x user x project x model x provider x feature: any filter, any scope, and
    any time zone whose offsets are whole hours (each hour lies in one local day)."""

    __tablename__ = "usage_hourly"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)
    model: str = Field(max_length=200, primary_key=True)
    provider: str = Field(max_length=50, primary_key=True)
    feature: str = Field(max_length=32, primary_key=True)


class UsageHourlyModel(UsageSums, table=True):
    """Per UTC hour x model x provider x feature (at most a few dozen rows an hour): the
    headline and the charts of views with no user or project in their filter or scope."""

    __tablename__ = "usage_hourly_model"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    model: str = Field(max_length=200, primary_key=True)
    provider: str = Field(max_length=50, primary_key=True)
    feature: str = Field(max_length=32, primary_key=True)


class UsageDaily(UsageSums, table=True):
    """Per UTC day x user x project: the tables by user and by project (a period's whole UTC
    days from here, its edges from the hourly rollup)."""

    __tablename__ = "usage_daily"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: int = Field(primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)


class UsageDailyConversation(UsageSums, table=True):
    """Per UTC day x conversation (with its user and project, for scopes): the table by
    conversation (whole UTC days from here, the edges from the call log). Calls outside a
    conversation (the API) are not in it."""

    __tablename__ = "usage_daily_conversation"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: int = Field(primary_key=True)
    conversation_id: str = Field(max_length=64, primary_key=True)
    user_id: str = Field(default="", max_length=64, primary_key=True)
    project_id: str = Field(default="", max_length=64, primary_key=True)


class UsageLatencyHourly(SQLModel, table=True):
    """Latency histograms per UTC hour: ``n`` attempts whose milliseconds fall in log bucket
    ``bucket`` (:data:`app.db.crud.latency.BOUNDS`: exact below 16 ms, then 8 buckets an
    octave). ``metric`` 0 is time to first token (attempts that had one), 1 total latency
    (successful attempts). The dashboard's p50/p95 of unfiltered views read these."""

    __tablename__ = "usage_latency_hourly"  # pyright: ignore[reportAssignmentType]
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: int = Field(primary_key=True)
    metric: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True)
    n: int = 0


# The dashboard's raw-row reads (percentiles, the call-log browser) filter by time first.
Index(
    "ix_call_log_created_at_latency",
    CallLog.created_at,  # pyright: ignore[reportArgumentType]
    CallLog.latency_ms,  # pyright: ignore[reportArgumentType]
    CallLog.ttft_ms,  # pyright: ignore[reportArgumentType]
    CallLog.status,  # pyright: ignore[reportArgumentType]
)
# A model filter's exact percentiles (the histograms have no model): read from the index only.
Index(
    "ix_call_log_model_created_at_latency",
    CallLog.model,  # pyright: ignore[reportArgumentType]
    CallLog.created_at,  # pyright: ignore[reportArgumentType]
    CallLog.latency_ms,  # pyright: ignore[reportArgumentType]
    CallLog.ttft_ms,  # pyright: ignore[reportArgumentType]
    CallLog.status,  # pyright: ignore[reportArgumentType]
)


# ----- alerts (issue 11: budgets and alerts) --------------------------------------------------


class Alert(SQLModel, table=True):
    """One alert: a budget threshold crossed (``kind`` "budget") or an hour's spend far above
    its trailing average ("spike"). ``dedupe`` is unique, so a crossing gives one row however
    many calls (or workers) see it: ``budget/<scope>/<subject>/<unit>/<threshold>/<YYYY-MM>``,
    ``spike/<scope>/<subject>/<hour>``. ``scope`` is "user", "project" or "all" (subject '').
    ``delivery``: "none" (no webhook configured), "pending", "delivered" or "failed"."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    scope: str = Field(max_length=16)
    subject_id: str = Field(default="", max_length=64, index=True)
    unit: str = Field(default="usd", max_length=16)  # "usd" or "tokens"
    threshold: float  # the budget fraction crossed, or the spike factor k
    value: Decimal = Field(sa_type=Numeric(24, 9))  # spent this month / the hour's spend
    reference: Decimal = Field(sa_type=Numeric(24, 9))  # the budget / the trailing hourly mean
    message: str = Field(max_length=500)
    dedupe: str = Field(max_length=200, unique=True)
    delivery: str = Field(default="none", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AlertDelivery(SQLModel, table=True):
    """One webhook POST attempt for an alert (the delivery log)."""

    __tablename__ = "alert_delivery"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True, ondelete="CASCADE")
    attempt: int
    status_code: int | None = Field(default=None)  # None: no HTTP answer
    ok: bool = Field(default=False)
    error: str = Field(default="", max_length=300)
    duration_ms: int = 0
    created_at: datetime = Field(default_factory=utcnow)


# ----- agents and extraction (issue 12) ------------------------------------------------------


class AgentMode(SQLModel, table=True):
    """A conversation in agent mode (a row: on), where a send runs the tool loop instead of
    a plain reply. A table of its own, so the conversation table is never altered for it."""

    __tablename__ = "agent_mode"  # pyright: ignore[reportAssignmentType]

    conversation_id: str = Field(
        foreign_key="conversation.id", primary_key=True, ondelete="CASCADE", max_length=32
    )
    updated_at: datetime = Field(default_factory=utcnow)


class AgentStep(SQLModel, table=True):
    """One tool call of an agent run, kept with the reply it led to (shown after a reload)."""

    __tablename__ = "agent_step"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("message_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    index: int  # 1-based over the run
    tool: str = Field(max_length=200)
    arguments: str = Field(default="", sa_type=Text)  # JSON text, as the model sent it
    status: str = Field(max_length=16)  # ok, error, cancelled
    result: str = Field(default="", sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Extraction(SQLModel, table=True):
    """A structured extraction run over a message: the validated value, or why it failed."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    extractor: str = Field(max_length=64)
    data: str | None = Field(default=None, sa_type=Text)  # the value as JSON; None: failed
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


# ----- sharing (issue 13) ---------------------------------------------------------------------


class ShareRole(StrEnum):
    """What a share lets its people do with one conversation (app/services/authz.py)."""

    viewer = "viewer"  # open it, page its history, watch its live reply
    participant = "participant"  # also send, regenerate, edit; the sender pays


class ConversationShare(SQLModel, table=True):
    """A conversation shared by its owner with one named user (``user_id``) or, when
    ``user_id`` is NULL, with every member of the conversation's project. One row per
    (conversation, audience): changing the role updates it, revoking deletes it. A
    project-wide share is unique per conversation in code (NULLs never conflict in a unique
    key); the user shares are unique in the key below."""

    __tablename__ = "conversation_share"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, ondelete="CASCADE", max_length=32
    )
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, ondelete="CASCADE", max_length=32
    )
    role: ShareRole = Field(sa_type=String(16))
    created_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ShareLink(SQLModel, table=True):
    """A read-only link to a conversation: ``/s/<token>``, the token 43 random URL-safe
    characters (256 bits). It shows the conversation as it is when opened, so its address
    never changes as the conversation does. Revoking stamps ``revoked_at`` (the token is dead
    for good; a new link gets a new token). The token is stored as is, not hashed: the owner
    copies the link again from the Share dialog, and it grants reading one conversation only.
    Who may open it: signed-in accounts, and anyone when ``PUBLIC_SHARE_LINKS`` is on."""

    __tablename__ = "share_link"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, ondelete="CASCADE", max_length=32
    )
    created_by: str | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None)
