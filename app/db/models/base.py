"""What every table module shares: UTC timestamps, ids, and the search objects Alembic
leaves alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


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
