"""projects: which MCP servers and tools their agent runs may use (a JSON list of "server"
and "server/tool" entries; NULL: every configured server)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases, as 0011: a batch rebuild of ``project`` would drop a
# table that memberships and conversations point at.


def upgrade() -> None:
    op.add_column('project', sa.Column('mcp_tools', sa.Text(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # As 0011: the downgrades below need foreign keys off, and SQLite takes the pragma
        # only before the transaction writes; a downgrade through them starts here.
        op.execute('PRAGMA foreign_keys=OFF')
    op.drop_column('project', 'mcp_tools')
