"""agents and extraction in the chat: conversations in agent mode, agent steps, extractions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'agent_mode',
        sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('conversation_id'),
    )
    op.create_table(
        'agent_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('index', sa.Integer(), nullable=False),
        sa.Column('tool', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('arguments', sa.Text(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id', 'index'),
    )
    op.create_index(op.f('ix_agent_step_message_id'), 'agent_step', ['message_id'], unique=False)
    op.create_table(
        'extraction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('extractor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('data', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_extraction_message_id'), 'extraction', ['message_id'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0007-0009: the older downgrades (0006, 0005) rebuild conversation and message,
        # which needs foreign keys off, and SQLite takes the pragma only before the
        # transaction writes; being the newest revision, this runs first. With them on,
        # dropping conversation while these tables point at it fails ("table is locked").
        op.execute('PRAGMA foreign_keys=OFF')
    # Children first (they reference message and conversation), their indexes with them.
    op.drop_index(op.f('ix_extraction_message_id'), table_name='extraction')
    op.drop_table('extraction')
    op.drop_index(op.f('ix_agent_step_message_id'), table_name='agent_step')
    op.drop_table('agent_step')
    op.drop_table('agent_mode')
