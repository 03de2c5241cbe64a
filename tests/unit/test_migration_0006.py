"""Migration 0006 on a database with data from before accounts, on SQLite and PostgreSQL:
every row moves into one "Default" project, the downgrade loses no conversation or message,
and upgrading again works."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.db.session import alembic_config, get_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        yield url
        get_engine(url).dispose()
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def to(url: str, revision: str, *, down: bool = False) -> None:
    with get_engine(url).begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql)).all()]


def test_data_from_before_accounts_moves_to_one_default_project(empty_url: str) -> None:
    to(empty_url, "0005")
    engine = get_engine(empty_url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO conversation (id, title, model, created_at, updated_at, pinned) "
                "VALUES ('c1', 'old chat', 'local', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"
            )
        )
        c.execute(
            text(
                "INSERT INTO message (conversation_id, role, content, status, created_at, "
                "updated_at) VALUES ('c1', 'user', 'hello', 'complete', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO prompt (name, created_at, updated_at) "
                "VALUES ('terse', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO attachment (id, conversation_id, filename, stored_name, media_type, "
                "kind, size, created_at) VALUES ('a1', 'c1', 'n.txt', 'x.txt', 'text/plain', "
                "'text', 3, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO call_log (feature, provider, model, provider_model, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, status, "
                "attempt, cache_hit, created_at) VALUES ('chat', 'local', 'local', '', 1, 1, 0, 0, "
                "5, 'ok', "
                "1, false, CURRENT_TIMESTAMP)"
            )
        )
    to(empty_url, "head")
    ((project_id, name),) = rows(engine, "SELECT id, name FROM project")
    assert name == "Default"
    for table in ("conversation", "prompt", "attachment", "call_log"):
        assert rows(engine, f"SELECT project_id FROM {table}") == [(project_id,)], table
    assert rows(engine, "SELECT user_id FROM conversation") == [(None,)]  # until the 1st sign-up
    assert rows(engine, 'SELECT count(*) FROM "user"') == [(0,)]

    to(empty_url, "0005", down=True)
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"user", "project", "membership", "auth_session", "invitation"}
    assert "project_id" not in {c["name"] for c in inspect(engine).get_columns("conversation")}
    assert rows(engine, "SELECT content FROM message") == [("hello",)]  # nothing cascaded
    assert rows(engine, "SELECT id FROM attachment") == [("a1",)]
    if engine.dialect.name == "sqlite":  # the title search still follows renames
        with engine.begin() as c:
            c.execute(text("UPDATE conversation SET title = 'renamed chat' WHERE id = 'c1'"))
        hits = rows(
            engine, "SELECT count(*) FROM conversation_fts WHERE conversation_fts MATCH 'renamed'"
        )
        assert hits == [(1,)]
    to(empty_url, "head")
    assert len(rows(engine, "SELECT id FROM project")) == 1


def test_a_fresh_install_has_the_default_project_waiting_for_its_first_admin(
    empty_url: str,
) -> None:
    to(empty_url, "head")
    engine = create_engine(empty_url)
    try:
        assert rows(engine, "SELECT name FROM project") == [("Default",)]
        assert rows(engine, "SELECT count(*) FROM membership") == [(0,)]
    finally:
        engine.dispose()
