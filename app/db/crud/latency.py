"""Log-bucket latency histograms: the bucket bounds, a value's bucket (in Python for the
write path, in SQL for rebuilds), and nearest-rank percentiles read from bucket counts.

Bucket ``i`` holds the milliseconds ``[BOUNDS[i], BOUNDS[i + 1])``: one bucket per value below
16 ms, then 8 buckets an octave (each about 9% wide) up to 2^27 ms (37 h), and one open bucket
above. A percentile read from the histogram is the nearest-rank bucket's midpoint, so it is
within half a bucket of the exact nearest-rank value: exact below 16 ms, within 1 ms up to
32 ms, within 5% above 100 ms.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping

TTFT, LATENCY = 0, 1  # the ``metric`` column of usage_latency_hourly


def _bounds() -> tuple[int, ...]:
    out = list(range(16))
    k = 0
    while out[-1] < 2**27:
        out.append(math.ceil(16 * 2 ** (k / 8)))
        k += 1
    return tuple(out)


BOUNDS = _bounds()


def bucket_of(ms: int) -> int:
    return max(0, bisect_right(BOUNDS, ms) - 1)


def bucket_sql(expr: str, lo: int = 0, hi: int = len(BOUNDS)) -> str:
    """SQL text giving the bucket of the integer expression ``expr``: a binary search as nested
    ``CASE`` (8 comparisons a row), the same on SQLite and PostgreSQL."""
    if hi - lo == 1:
        return str(lo)
    mid = (lo + hi) // 2
    below, above = bucket_sql(expr, lo, mid), bucket_sql(expr, mid, hi)
    return f"CASE WHEN {expr} < {BOUNDS[mid]} THEN {below} ELSE {above} END"


def midpoint(bucket: int) -> int:
    """The value a bucket stands for: the middle of its range (its bound for the last)."""
    if bucket + 1 >= len(BOUNDS):
        return BOUNDS[-1]
    return (BOUNDS[bucket] + BOUNDS[bucket + 1] - 1) // 2


def ranked(counts: Mapping[int, int], fractions: Iterable[float]) -> list[int | None]:
    """Nearest-rank percentiles from ``{bucket: count}``: for each fraction ``p``, the bucket of
    the ``ceil(p * n)``-th smallest value, as :func:`midpoint`; ``None`` when empty."""
    total = sum(counts.values())
    order = sorted(counts.items())
    out: list[int | None] = []
    for p in fractions:
        if not total:
            out.append(None)
            continue
        rank, seen = max(1, math.ceil(p * total)), 0
        for bucket, n in order:
            seen += n
            if seen >= rank:
                out.append(midpoint(bucket))
                break
    return out
