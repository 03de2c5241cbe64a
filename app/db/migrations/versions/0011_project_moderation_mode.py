"""projects: a moderation mode of their own (off, log or block; NULL follows the global
setting, PARLEY_MODERATION_MODE)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops columns itself): a batch
# rebuild of ``project`` would drop a table that memberships and conversations point at.


def upgrade() -> None:
    op.add_column(
        'project',
        sa.Column('moderation_mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0007-0009: 0006's and 0005's downgrades need foreign keys off, and SQLite takes
        # the pragma only before the transaction writes; a downgrade through them starts here.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_column('project', 'moderation_mode')
