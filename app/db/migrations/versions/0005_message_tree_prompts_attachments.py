"""message tree, conversation parameters, prompt library, attachments

Messages become a tree (``parent_id``; the conversation remembers the leaf on screen), so
regenerated replies and edited questions keep the versions they replace. Existing
conversations become a single branch: each message's parent is the one before it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_reference(table: str, column: str, target: str, ondelete: str) -> None:
    """Add a nullable integer column referencing ``target(id)``.

    Plain ALTER on SQLite (which takes an inline REFERENCES clause on a nullable column),
    not batch mode: a rebuild drops the tables' full-text triggers (0004), and with foreign
    keys enforced, dropping the old ``conversation`` would take its messages along.
    SQLAlchemy cannot reflect ON DELETE from inline clauses, so
    tests/unit/test_migrations.py checks these with PRAGMA foreign_key_list.
    """
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            f'ALTER TABLE {table} ADD COLUMN {column} INTEGER '
            f'REFERENCES {target} (id) ON DELETE {ondelete}'
        )
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(
            f'fk_{table}_{column}_{target}', table, target, [column], ['id'], ondelete=ondelete
        )


def _search_triggers() -> list[str]:
    """The CREATE TRIGGER statements of 0004 (SQLite), read from that revision's module."""
    path = Path(__file__).with_name('0004_conversation_pin_delete_search.py')
    spec = importlib.util.spec_from_file_location('parley_migration_0004', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [s for s in module.SQLITE_UP if s.startswith('CREATE TRIGGER')]


def upgrade() -> None:
    op.create_table('prompt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('archived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('prompt_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_id', 'version')
    )
    op.create_index(op.f('ix_prompt_version_prompt_id'), 'prompt_version', ['prompt_id'], unique=False)
    op.create_table('attachment',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('stored_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stored_name')
    )
    op.create_index(op.f('ix_attachment_conversation_id'), 'attachment', ['conversation_id'], unique=False)
    op.create_index(op.f('ix_attachment_message_id'), 'attachment', ['message_id'], unique=False)

    op.add_column('conversation', sa.Column('current_leaf_id', sa.Integer(), nullable=True))
    op.add_column('conversation', sa.Column('temperature', sa.Float(), nullable=True))
    op.add_column('conversation', sa.Column('max_tokens', sa.Integer(), nullable=True))
    _add_reference('conversation', 'prompt_id', 'prompt', 'SET NULL')
    _add_reference('message', 'parent_id', 'message', 'CASCADE')
    _add_reference('message', 'prompt_version_id', 'prompt_version', 'SET NULL')
    op.create_index(op.f('ix_message_parent_id'), 'message', ['parent_id'], unique=False)

    # Every existing conversation is one branch: each message follows the one before it,
    # and the newest message is the leaf on screen.
    op.execute(
        """
        UPDATE message SET parent_id = (
            SELECT MAX(earlier.id) FROM message AS earlier
            WHERE earlier.conversation_id = message.conversation_id AND earlier.id < message.id
        )
        """
    )
    op.execute(
        """
        UPDATE conversation SET current_leaf_id = (
            SELECT MAX(m.id) FROM message AS m WHERE m.conversation_id = conversation.id
        )
        """
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute('PRAGMA foreign_keys=OFF')  # see below
    op.drop_index(op.f('ix_message_parent_id'), table_name='message')
    if sqlite:
        # SQLite cannot DROP a column with a REFERENCES clause: these go with a rebuild of
        # each table. Foreign keys are off meanwhile (else dropping the old conversation
        # table would delete its messages; the pragma takes effect because nothing has
        # been written yet in this transaction), checked after, and 0004's full-text
        # triggers, dropped with the old tables, are made again.
        with op.batch_alter_table('message', schema=None) as batch_op:
            batch_op.drop_column('prompt_version_id')
            batch_op.drop_column('parent_id')
        with op.batch_alter_table('conversation', schema=None) as batch_op:
            batch_op.drop_column('prompt_id')
        for statement in _search_triggers():
            op.execute(statement)
        problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').all()
        if problems:
            raise RuntimeError(f'foreign keys broken by the downgrade: {problems[:5]}')
        op.execute('PRAGMA foreign_keys=ON')
    else:
        op.drop_constraint('fk_message_prompt_version_id_prompt_version', 'message', type_='foreignkey')
        op.drop_constraint('fk_message_parent_id_message', 'message', type_='foreignkey')
        op.drop_constraint('fk_conversation_prompt_id_prompt', 'conversation', type_='foreignkey')
        op.drop_column('message', 'prompt_version_id')
        op.drop_column('message', 'parent_id')
        op.drop_column('conversation', 'prompt_id')
    op.drop_column('conversation', 'max_tokens')
    op.drop_column('conversation', 'temperature')
    op.drop_column('conversation', 'current_leaf_id')
    op.drop_index(op.f('ix_attachment_message_id'), table_name='attachment')
    op.drop_index(op.f('ix_attachment_conversation_id'), table_name='attachment')
    op.drop_table('attachment')
    op.drop_index(op.f('ix_prompt_version_prompt_id'), table_name='prompt_version')
    op.drop_table('prompt_version')
    op.drop_table('prompt')
