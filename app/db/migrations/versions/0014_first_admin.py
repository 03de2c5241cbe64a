"""accounts: the first admin's claim, one row that only one sign-up can insert (race-free
"first account is admin" on SQLite and PostgreSQL)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    first_admin = op.create_table(
        'first_admin',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint('id = 1', name='ck_first_admin_singleton'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    # An install that has accounts already has had its first sign-up: the claim goes to its
    # earliest admin (else its earliest account), so no later sign-up becomes admin by it.
    user = sa.table(
        'user',
        sa.column('id', sa.String()),
        sa.column('is_admin', sa.Boolean()),
        sa.column('created_at', sa.String()),
    )
    bind = op.get_bind()
    earliest = bind.execute(
        sa.select(user.c.id)
        .order_by(user.c.is_admin.desc(), user.c.created_at, user.c.id)
        .limit(1)
    ).first()
    if earliest is not None:
        op.bulk_insert(
            first_admin, [{'id': 1, 'user_id': earliest.id, 'created_at': datetime.now(UTC)}]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0007-0013: the older downgrades need foreign keys off, and SQLite takes the
        # pragma only before the transaction writes; a downgrade through them starts here.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_table('first_admin')
