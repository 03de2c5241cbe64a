"""sharing: conversations shared with named users or their project's members, as viewer
or participant, and read-only links

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'conversation_share',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('conversation_id', 'user_id'),
    )
    op.create_index(
        op.f('ix_conversation_share_conversation_id'),
        'conversation_share',
        ['conversation_id'],
        unique=False,
    )
    op.create_index(
        op.f('ix_conversation_share_user_id'), 'conversation_share', ['user_id'], unique=False
    )
    op.create_table(
        'share_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token'),
    )
    op.create_index(
        op.f('ix_share_link_conversation_id'), 'share_link', ['conversation_id'], unique=False
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0007-0014: 0006's and 0005's downgrades rebuild conversation and message,
        # which needs foreign keys off, and SQLite takes the pragma only before the
        # transaction writes; being the newest revision, this runs first.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_index(op.f('ix_share_link_conversation_id'), table_name='share_link')
    op.drop_table('share_link')
    op.drop_index(op.f('ix_conversation_share_user_id'), table_name='conversation_share')
    op.drop_index(op.f('ix_conversation_share_conversation_id'), table_name='conversation_share')
    op.drop_table('conversation_share')
