"""usage rollups: the call log summed per UTC hour, for the token-spend dashboard

``usage_hourly`` is kept exact by the call-log writes themselves (same transaction); this
migration backfills it from the rows already logged, with the rules of
``app.db.crud.rollups`` (integer billionths of a dollar; NULL cost counts as unknown unless
the attempt failed before any output with no usage). Also an index on call_log
(created_at, latency_ms, ttft_ms, status) for the dashboard's percentile and browser reads.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUMS = (
    "calls, requests, errors, failovers, cache_hits, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, cost_nano, unknown"
)
_BACKFILL = """
INSERT INTO usage_hourly (hour, user_id, project_id, model, provider, feature, {sums})
SELECT {hour} AS h, COALESCE(user_id, '') AS u, COALESCE(project_id, '') AS p,
       model, provider, feature,
       COUNT(*),
       SUM(CASE WHEN attempt = 1 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END),
       SUM(CASE WHEN failover_from IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN cache_hit THEN 1 ELSE 0 END),
       SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
       SUM({nano}),
       SUM(CASE WHEN cost IS NULL AND NOT (status = 'error' AND ttft_ms IS NULL
                AND input_tokens = 0 AND output_tokens = 0) THEN 1 ELSE 0 END)
FROM call_log
GROUP BY h, u, p, model, provider, feature
"""


def upgrade() -> None:
    op.create_table('usage_hourly',
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('feature', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('failovers', sa.Integer(), nullable=False),
    sa.Column('cache_hits', sa.Integer(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cache_read_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cache_write_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost_nano', sa.BigInteger(), nullable=False),
    sa.Column('unknown', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'user_id', 'project_id', 'model', 'provider', 'feature'),
    sqlite_with_rowid=False,
    )
    op.create_index(
        'ix_call_log_created_at_latency',
        'call_log',
        ['created_at', 'latency_ms', 'ttft_ms', 'status'],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "CAST(FLOOR(EXTRACT(EPOCH FROM created_at)) AS BIGINT) / 3600"
        nano = "CAST(COALESCE(cost, 0) * 1000000000 AS BIGINT)"
    else:
        hour = "CAST(strftime('%s', created_at) AS INTEGER) / 3600"
        nano = "CAST(ROUND(COALESCE(cost, 0) * 1000000000) AS INTEGER)"
    op.execute(_BACKFILL.format(sums=_SUMS, hour=hour, nano=nano))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # As in 0005: SQLite ignores this pragma once the transaction has written anything,
        # and 0005's downgrade (run later in the same transaction when going below it)
        # rebuilds conversation/message, whose DROP would cascade-delete every message with
        # foreign keys on. Being the newest revision, this runs first: switch them off here.
        op.execute('PRAGMA foreign_keys=OFF')
    # Plain DROP INDEX (no batch): on SQLite a batch block may rebuild the table.
    op.drop_index('ix_call_log_created_at_latency', table_name='call_log')
    op.drop_table('usage_hourly')
