"""usage rollups 2: narrower rollups and latency histograms, so the dashboard reads little

Four tables, each kept exact by the call-log writes (``app.db.crud.rollups``) and backfilled
here from the rows already logged, with the same rules as 0009's ``usage_hourly``:
``usage_hourly_model`` (hour x model x provider x feature), ``usage_daily`` (UTC day x user x
project), ``usage_daily_conversation`` (UTC day x conversation x user x project) and
``usage_latency_hourly`` (hour x metric x log bucket: time to first token and latency
histograms, 8 buckets an octave; the bounds below are ``app.db.crud.latency.BOUNDS``, frozen
here so this revision means the same thing later). Also an index on call_log (model,
created_at, latency_ms, ttft_ms, status): a model filter's exact percentiles read it alone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUMS = (
    "calls, requests, errors, failovers, cache_hits, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, cost_nano, unknown"
)
_BACKFILL = """
INSERT INTO {table} ({keys}, {sums})
SELECT {selected},
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
WHERE {where}
GROUP BY {grouped}
"""
_HISTOGRAM = """
INSERT INTO usage_latency_hourly (hour, metric, bucket, n)
SELECT h, m, b, COUNT(*) FROM (
    SELECT {hour} AS h, 0 AS m, {ttft} AS b FROM call_log WHERE ttft_ms IS NOT NULL
    UNION ALL
    SELECT {hour} AS h, 1 AS m, {latency} AS b FROM call_log WHERE status = 'ok'
) AS buckets
GROUP BY h, m, b
"""


def _bounds() -> list[int]:
    out = list(range(16))
    k = 0
    while out[-1] < 2**27:
        out.append(math.ceil(16 * 2 ** (k / 8)))
        k += 1
    return out


def _bucket(expr: str, bounds: list[int], lo: int, hi: int) -> str:
    if hi - lo == 1:
        return str(lo)
    mid = (lo + hi) // 2
    below, above = _bucket(expr, bounds, lo, mid), _bucket(expr, bounds, mid, hi)
    return f"CASE WHEN {expr} < {bounds[mid]} THEN {below} ELSE {above} END"


def _sums() -> list[sa.Column]:
    return [
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("failovers", sa.Integer(), nullable=False),
        sa.Column("cache_hits", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_nano", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.Integer(), nullable=False),
    ]


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "usage_hourly_model",
        sa.Column("hour", sa.Integer(), nullable=False),
        _text("model", 200),
        _text("provider", 50),
        _text("feature", 32),
        *_sums(),
        sa.PrimaryKeyConstraint("hour", "model", "provider", "feature"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Integer(), nullable=False),
        _text("user_id", 64),
        _text("project_id", 64),
        *_sums(),
        sa.PrimaryKeyConstraint("day", "user_id", "project_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_daily_conversation",
        sa.Column("day", sa.Integer(), nullable=False),
        _text("conversation_id", 64),
        _text("user_id", 64),
        _text("project_id", 64),
        *_sums(),
        sa.PrimaryKeyConstraint("day", "conversation_id", "user_id", "project_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_latency_hourly",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("metric", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "metric", "bucket"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_call_log_model_created_at_latency",
        "call_log",
        ["model", "created_at", "latency_ms", "ttft_ms", "status"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        epoch = "CAST(FLOOR(EXTRACT(EPOCH FROM created_at)) AS BIGINT)"
        nano = "CAST(COALESCE(cost, 0) * 1000000000 AS BIGINT)"
    else:
        epoch = "CAST(strftime('%s', created_at) AS INTEGER)"
        nano = "CAST(ROUND(COALESCE(cost, 0) * 1000000000) AS INTEGER)"
    user = ("user_id", "COALESCE(user_id, '')")
    project = ("project_id", "COALESCE(project_id, '')")
    plain = [(name, name) for name in ("model", "provider", "feature", "conversation_id")]
    model, provider, feature, conversation = plain
    for table, time, unit, keys, where in (
        ("usage_hourly_model", "hour", 3600, [model, provider, feature], "1 = 1"),
        ("usage_daily", "day", 86400, [user, project], "1 = 1"),
        (
            "usage_daily_conversation",
            "day",
            86400,
            [conversation, user, project],
            "conversation_id IS NOT NULL",
        ),
    ):
        selected = ", ".join([f"{epoch} / {unit}", *(expr for _, expr in keys)])
        op.execute(
            _BACKFILL.format(
                table=table,
                keys=", ".join([time, *(name for name, _ in keys)]),
                sums=_SUMS,
                selected=selected,
                nano=nano,
                where=where,
                grouped=selected,
            )
        )
    bounds = _bounds()
    op.execute(
        _HISTOGRAM.format(
            hour=f"{epoch} / 3600",
            ttft=_bucket("ttft_ms", bounds, 0, len(bounds)),
            latency=_bucket("latency_ms", bounds, 0, len(bounds)),
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007-0015: the older downgrades (0006, 0005) rebuild conversation and message,
        # which needs foreign keys off, and SQLite takes the pragma only before the
        # transaction writes; being the newest revision, this runs first.
        op.execute("PRAGMA foreign_keys=OFF")
    # Plain DROP INDEX (no batch): on SQLite a batch block may rebuild the table.
    op.drop_index("ix_call_log_model_created_at_latency", table_name="call_log")
    op.drop_table("usage_latency_hourly")
    op.drop_table("usage_daily_conversation")
    op.drop_table("usage_daily")
    op.drop_table("usage_hourly_model")
