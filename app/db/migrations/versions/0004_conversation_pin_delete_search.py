"""conversation pin, soft delete and full-text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Search objects are raw SQL, per dialect, and no model describes them (autogenerate skips
them by name: see ``app.db.models.SEARCH_OBJECTS``):

- SQLite: ``message_fts``, an external-content FTS5 table over ``message.content`` (rowid =
  message id), and ``conversation_fts``, a plain FTS5 table of (title, conversation_id).
  Triggers keep both in step with every insert, delete (cascades included) and update of
  the indexed text.
- PostgreSQL: GIN expression indexes on ``to_tsvector('simple', ...)`` of message content
  and conversation title, which PostgreSQL keeps current by itself. Queries must use the
  very same expression (``app.db.crud.search_conversations`` does).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# conversation_fts.conversation_id is indexed (not UNINDEXED) so that a trigger can find a
# conversation's row by MATCH, not by scanning every row; user queries are confined to
# {title}. The rowid of a table without an INTEGER PRIMARY KEY (conversation) may change on
# VACUUM, so it cannot key an external-content table.
_BY_ID = """conversation_fts MATCH ('conversation_id : "' || replace({row}.id, '"', '""') || '"')
        AND conversation_id = {row}.id"""

SQLITE_UP = (
    "CREATE VIRTUAL TABLE message_fts USING fts5(content, content='message', content_rowid='id')",
    "CREATE VIRTUAL TABLE conversation_fts USING fts5(title, conversation_id)",
    """CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
        INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
        INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER message_fts_update AFTER UPDATE OF content ON message BEGIN
        INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER conversation_fts_insert AFTER INSERT ON conversation BEGIN
        INSERT INTO conversation_fts(title, conversation_id) VALUES (new.title, new.id);
    END""",
    f"""CREATE TRIGGER conversation_fts_delete AFTER DELETE ON conversation BEGIN
        DELETE FROM conversation_fts WHERE {_BY_ID.format(row="old")};
    END""",
    f"""CREATE TRIGGER conversation_fts_update AFTER UPDATE OF title ON conversation BEGIN
        UPDATE conversation_fts SET title = new.title WHERE {_BY_ID.format(row="new")};
    END""",
    # Index what is already there.
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
    "INSERT INTO conversation_fts(title, conversation_id) SELECT title, id FROM conversation",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS conversation_fts_update",
    "DROP TRIGGER IF EXISTS conversation_fts_delete",
    "DROP TRIGGER IF EXISTS conversation_fts_insert",
    "DROP TRIGGER IF EXISTS message_fts_update",
    "DROP TRIGGER IF EXISTS message_fts_delete",
    "DROP TRIGGER IF EXISTS message_fts_insert",
    "DROP TABLE IF EXISTS conversation_fts",
    "DROP TABLE IF EXISTS message_fts",
)
POSTGRES_UP = (
    "CREATE INDEX ix_message_content_fts ON message USING gin (to_tsvector('simple', content))",
    "CREATE INDEX ix_conversation_title_fts ON conversation USING gin (to_tsvector('simple', title))",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS ix_conversation_title_fts",
    "DROP INDEX IF EXISTS ix_message_content_fts",
)


def upgrade() -> None:
    # Plain (not batch) operations: on SQLite, batch mode would rebuild the conversation
    # table, and dropping the old copy with foreign keys on deletes every message (CASCADE).
    op.add_column('conversation', sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('conversation', sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_conversation_deleted_at'), 'conversation', ['deleted_at'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, ()):
        op.execute(statement)

    # Native ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the reason given in upgrade().
    op.drop_index(op.f('ix_conversation_deleted_at'), table_name='conversation')
    op.drop_column('conversation', 'deleted_at')
    op.drop_column('conversation', 'pinned')
