"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from app.db import models  # registers every table


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        # include_name hides the full-text search objects, which no model describes.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": models.include_name}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], f"app/db/models.py and the migrations disagree: {diff}"


def test_every_table_exists_after_migrating(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
