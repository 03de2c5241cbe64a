"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, ForeignKeyConstraint, inspect
from sqlmodel import SQLModel

from app.db import models  # registers every table


def _fk_key(constraint: ForeignKeyConstraint) -> tuple[str, tuple[str, ...], str]:
    assert constraint.table is not None
    return (
        constraint.table.name,
        tuple(constraint.column_keys),
        constraint.referred_table.name,
    )


def _sqlite_inline_fk_actions(engine: Engine) -> dict[tuple[str, tuple[str, ...], str], str]:
    """Each foreign key's ON DELETE action as SQLite itself reports it."""
    actions: dict[tuple[str, tuple[str, ...], str], str] = {}
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            rows = connection.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")').all()
            for row in rows:  # id, seq, table, from, to, on_update, on_delete, match
                actions[(table, (row[3],), row[2])] = row[6]
    return actions


def _without_sqlite_inline_fk_noise(engine: Engine, diff: list[Any]) -> list[Any]:
    """SQLAlchemy reads a SQLite foreign key's ON DELETE only from table-level clauses, not
    from the inline REFERENCES that ``ALTER TABLE ADD COLUMN`` makes (migration 0005). Such
    a key shows up as remove_fk + add_fk; drop the pair when SQLite's own pragma reports the
    action the model asks for, so a real difference still fails."""
    if engine.dialect.name != "sqlite":
        return diff
    actions = _sqlite_inline_fk_actions(engine)
    removed = {_fk_key(d[1]) for d in diff if d[0] == "remove_fk"}
    matched = {
        _fk_key(d[1])
        for d in diff
        if d[0] == "add_fk"
        and _fk_key(d[1]) in removed
        and actions.get(_fk_key(d[1]), "NO ACTION") == (d[1].ondelete or "NO ACTION").upper()
    }
    return [d for d in diff if not (d[0] in ("add_fk", "remove_fk") and _fk_key(d[1]) in matched)]


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        # include_name hides the full-text search objects, which no model describes.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": models.include_name}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    diff = _without_sqlite_inline_fk_noise(engine, diff)
    assert diff == [], f"app/db/models and the migrations disagree: {diff}"


def test_every_table_exists_after_migrating(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
