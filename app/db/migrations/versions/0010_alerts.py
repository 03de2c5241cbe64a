"""alerts: budget-threshold and hourly-spike alerts, and their webhook delivery log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('value', sa.Numeric(precision=24, scale=9), nullable=False),
    sa.Column('reference', sa.Numeric(precision=24, scale=9), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('dedupe', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('delivery', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe'),
    )
    op.create_index(op.f('ix_alert_subject_id'), 'alert', ['subject_id'], unique=False)
    op.create_index(op.f('ix_alert_delivery'), 'alert', ['delivery'], unique=False)
    op.create_index(op.f('ix_alert_created_at'), 'alert', ['created_at'], unique=False)
    op.create_table('alert_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        op.f('ix_alert_delivery_alert_id'), 'alert_delivery', ['alert_id'], unique=False
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # As in 0009: the newest revision's downgrade runs first, so it switches foreign keys
        # off before anything is written (SQLite ignores the pragma inside a written
        # transaction), sparing the cascade deletes of older downgrades' table rebuilds.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_index(op.f('ix_alert_delivery_alert_id'), table_name='alert_delivery')
    op.drop_table('alert_delivery')
    op.drop_index(op.f('ix_alert_created_at'), table_name='alert')
    op.drop_index(op.f('ix_alert_delivery'), table_name='alert')
    op.drop_index(op.f('ix_alert_subject_id'), table_name='alert')
    op.drop_table('alert')
