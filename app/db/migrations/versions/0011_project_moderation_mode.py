"""projects: a moderation mode of their own (off, log or block; NULL follows the global
setting, PARLEY_MODERATION_MODE)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0011'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.add_column(
            sa.Column(
                'moderation_mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.drop_column('moderation_mode')
