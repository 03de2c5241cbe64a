"""guards: monthly budgets and the moderation log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'budget',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('subject_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('cost_limit', sa.Numeric(precision=18, scale=9), nullable=True),
        sa.Column('token_limit', sa.Integer(), nullable=True),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scope', 'subject_id'),
    )
    op.create_table(
        'moderation_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('categories', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('excerpt', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        op.f('ix_moderation_log_user_id'), 'moderation_log', ['user_id'], unique=False
    )
    op.create_index(
        op.f('ix_moderation_log_project_id'), 'moderation_log', ['project_id'], unique=False
    )
    op.create_index(
        op.f('ix_moderation_log_created_at'), 'moderation_log', ['created_at'], unique=False
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # 0006's and 0005's downgrades turn foreign keys off to rebuild tables without cascading, which
        # works only before anything is written in the transaction (SQLite ignores the pragma
        # after that). A downgrade through them runs this one first, in the same
        # transaction, so turn them off here, before writing; they check them after.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_index(op.f('ix_moderation_log_created_at'), table_name='moderation_log')
    op.drop_index(op.f('ix_moderation_log_project_id'), table_name='moderation_log')
    op.drop_index(op.f('ix_moderation_log_user_id'), table_name='moderation_log')
    op.drop_table('moderation_log')
    op.drop_table('budget')
