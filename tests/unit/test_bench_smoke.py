"""The benchmarks' own arithmetic (bench/): reply text, cases, CPU readings, loopback guard."""

from __future__ import annotations

import os
import re

import pytest

from bench._app import assert_loopback, group_usage
from bench._common import table
from bench.wire import END_MARK, TOKEN_CHARS, Case, reply_text


@pytest.mark.parametrize("tokens", [200, 500, 2000, 20_000])
def test_reply_text_has_the_exact_size_and_true_position_markers(tokens: int) -> None:
    text = reply_text(tokens)
    assert len(text) == tokens * TOKEN_CHARS
    assert text.endswith(END_MARK) and text.count(END_MARK) == 1
    markers = list(re.finditer(r"q(\d+)", text))
    assert len(markers) > tokens // 10
    assert all(int(m.group(1)) == m.start() for m in markers)


def test_fast_cases_pack_tokens_so_sleeps_stay_long_enough() -> None:
    slow, fast = Case.parse("500x50"), Case.parse("2000x2000")
    assert (slow.per_chunk, slow.delay_ms) == (1, 20.0)
    assert (fast.per_chunk, fast.delay_ms) == (8, 4.0)
    assert fast.rule()["chunk_chars"] == 32 and len(fast.rule()["reply"]) == 8000
    assert Case.parse("2000x2000", per_chunk=1).delay_ms == 0.5
    with pytest.raises(ValueError, match="out of range"):
        Case.parse("0x50")


def test_group_usage_reads_this_process_group() -> None:
    usage = group_usage(os.getpgrp())
    assert usage.processes >= 1 and usage.cpu_s > 0 and usage.rss_bytes > 0


def test_only_loopback_is_driven() -> None:
    assert_loopback("http://localhost:3000")
    assert_loopback("http://127.0.0.1:8000/")
    with pytest.raises(ValueError, match="loopback"):
        assert_loopback("http://example.com/")


def test_table_formats_ratios_and_missing_values() -> None:
    out = table(["case", "ratio"], [["a", 2.345], ["b", float("nan")], ["c", 12345.0]])
    assert "2.35" in out and "n/a" in out and "12,345" in out
