"""accounts, sessions, projects, memberships, invitations; project and owner on every row

Every conversation, prompt and attachment now belongs to a project and records the user who
made it. Data from before accounts has no owner yet, so this migration makes one project,
"Default", and moves every existing conversation, prompt, attachment and call-log row into
it. It has no members: the first account signed up becomes an admin, the owner of every
project without members (this one), and the owner (``user_id``) of every row that has none
(``app/services/accounts.py``, ``adopt_unowned``). So data from before accounts moves to the
first admin, and nobody else sees it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import importlib.util
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ('conversation', 'prompt', 'attachment')
REFERENCES = (('project_id', 'project', 'CASCADE'), ('user_id', 'user', 'SET NULL'))


def _id() -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=32)


def _add_reference(table: str, column: str, target: str, ondelete: str) -> None:
    """A nullable ``VARCHAR(32)`` column referencing ``target(id)``: plain ALTER with an inline
    REFERENCES on SQLite (a batch rebuild would drop 0004's full-text triggers), a named
    foreign key elsewhere. As in 0005."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            f'ALTER TABLE {table} ADD COLUMN {column} VARCHAR(32) '
            f'REFERENCES "{target}" (id) ON DELETE {ondelete}'
        )
    else:
        op.add_column(table, sa.Column(column, _id(), nullable=True))
        op.create_foreign_key(
            f'fk_{table}_{column}_{target}', table, target, [column], ['id'], ondelete=ondelete
        )
    op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)


def _search_triggers() -> list[str]:
    """0004's CREATE TRIGGER statements on ``conversation`` (SQLite), read from its module:
    the only table with triggers that the downgrade rebuilds."""
    path = Path(__file__).with_name('0004_conversation_pin_delete_search.py')
    spec = importlib.util.spec_from_file_location('parley_migration_0004', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [
        s for s in module.SQLITE_UP
        if s.startswith('CREATE TRIGGER') and ' ON conversation ' in s
    ]


def upgrade() -> None:
    op.create_table('user',
    sa.Column('id', _id(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('oidc_issuer', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('oidc_subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('oidc_issuer', 'oidc_subject'),
    )
    op.create_table('auth_session',
    sa.Column('id', _id(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', _id(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    )
    op.create_index(op.f('ix_auth_session_user_id'), 'auth_session', ['user_id'], unique=False)
    op.create_table('project',
    sa.Column('id', _id(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_table('membership',
    sa.Column('project_id', _id(), nullable=False),
    sa.Column('user_id', _id(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'user_id'),
    )
    op.create_index(op.f('ix_membership_user_id'), 'membership', ['user_id'], unique=False)
    op.create_table('invitation',
    sa.Column('id', _id(), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', _id(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('used_by', _id(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['used_by'], ['user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash'),
    )
    for table in OWNED:
        for column, target, ondelete in REFERENCES:
            _add_reference(table, column, target, ondelete)

    # Data from before accounts: one project owns it all until the first sign-up adopts it.
    project_id = uuid.uuid4().hex
    project = sa.table('project', sa.column('id'), sa.column('name'), sa.column('created_at'))
    op.bulk_insert(
        project, [{'id': project_id, 'name': 'Default', 'created_at': datetime.now(UTC)}]
    )
    for table in (*OWNED, 'call_log'):
        op.get_bind().execute(
            sa.text(f'UPDATE {table} SET project_id = :project WHERE project_id IS NULL'),
            {'project': project_id},
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        # As in 0005: foreign keys off while tables are rebuilt (else dropping the old
        # conversation table would delete its messages), checked after; the rebuild drops
        # 0004's full-text triggers, so they are made again.
        op.execute('PRAGMA foreign_keys=OFF')
    for table in OWNED:
        for column, target, _ in REFERENCES:
            op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
            if not sqlite:
                op.drop_constraint(f'fk_{table}_{column}_{target}', table, type_='foreignkey')
                op.drop_column(table, column)
        if sqlite:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_column('user_id')
                batch_op.drop_column('project_id')
    op.execute('UPDATE call_log SET project_id = NULL, user_id = NULL')
    op.drop_table('invitation')
    op.drop_index(op.f('ix_membership_user_id'), table_name='membership')
    op.drop_table('membership')
    op.drop_table('project')
    op.drop_index(op.f('ix_auth_session_user_id'), table_name='auth_session')
    op.drop_table('auth_session')
    op.drop_table('user')
    if sqlite:
        for statement in _search_triggers():
            op.execute(statement)
        problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').all()
        if problems:
            raise RuntimeError(f'foreign keys broken by the downgrade: {problems[:5]}')
        op.execute('PRAGMA foreign_keys=ON')
