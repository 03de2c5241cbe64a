"""The benchmarks' own arithmetic (bench/): reply text, cases, CPU readings, loopback guard."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench._app import assert_loopback, group_usage
from bench._common import table
from bench._provider import PacedProvider, Plan
from bench.latency import dom_latencies, marker_ends, percentile
from bench.profile_report import profile_snapshot, since, summarise
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


def test_dom_latency_pairs_each_marker_with_the_send_of_its_last_token() -> None:
    text = reply_text(200)
    ends = marker_ends(text)
    assert len(ends) > 20 and ends == sorted(ends)
    sent = [1000.0 + k * 0.02 for k in range(200)]  # 50 tokens/s from epoch second 1000
    # The page shows each marker 30 ms after its token left, except the third: 90 ms.
    obs = []
    for i, end in enumerate(ends):
        token = (end - 1) // TOKEN_CHARS
        extra = 0.090 if i == 2 else 0.030
        obs.append([(sent[token] + extra) * 1000 - 5_000, end, 0])
    obs.sort()
    latencies = dom_latencies(text, sent, obs, lambda ms: (ms + 5_000) / 1000)
    assert len(latencies) == len(ends)
    assert latencies[2] == pytest.approx(90.0)
    assert all(x == pytest.approx(30.0) for i, x in enumerate(latencies) if i != 2)
    # A DOM that never got past the tenth marker: the rest are missing, not late.
    cut = [o for o in obs if o[1] <= ends[9]]
    assert len(dom_latencies(text, sent, cut, lambda ms: (ms + 5_000) / 1000)) == 10
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


async def test_the_paced_provider_streams_anthropic_events_on_schedule() -> None:
    from anthropic import AsyncAnthropic

    text = reply_text(120)
    with PacedProvider(lambda prompt: Plan(text, 2000.0) if prompt == "go" else None) as server:
        client = AsyncAnthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
        async with client:
            received = []
            stream = await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=10,
                messages=[{"role": "user", "content": "go"}],
                stream=True,
            )
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    received.append(event.delta.text)
            titled = await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=10,
                messages=[{"role": "user", "content": "Title for this conversation:"}],
                stream=True,
            )
            title = "".join(
                [
                    e.delta.text
                    async for e in titled
                    if e.type == "content_block_delta" and e.delta.type == "text_delta"
                ]
            )
        sent = server.record("go")
    assert "".join(received) == text and len(received) == 120
    assert sent is not None and sent.done and len(sent.times) == 120
    assert sent.times == sorted(sent.times)
    assert sent.times[-1] - sent.times[0] >= 119 / 2000 * 0.99  # never ahead of schedule
    assert title == "Bench" and server.record("Title for this conversation:") is None


def test_the_profile_report_charges_cpu_to_areas_and_diffs_snapshots(tmp_path: Path) -> None:
    main = "[main thread];run_forever (asyncio/base_events.py:1)"
    stacks = {
        f"{main};_pump (app/web/stream_ws.py:9)": 300,
        f"{main};stream_reply (app/services/chat.py:2);publish (app/services/stream_hub.py:5)": 100,
        "[worker thread];run (concurrent/futures/thread.py:1);do_execute (sqlalchemy/x.py:3)": 600,
        f"(idle);{main};select (selectors.py:1)": 50,
    }
    folded = tmp_path / "123.folded"
    folded.write_text("\n".join(f"{k} {v}" for k, v in stacks.items()) + "\n")
    before = profile_snapshot(tmp_path)
    assert before["123"].busy_total == 1000 and before["123"].idle == 50
    stacks[f"{main};_pump (app/web/stream_ws.py:9)"] += 1000
    folded.write_text("\n".join(f"{k} {v}" for k, v in stacks.items()) + "\n")
    (spent,) = since(before, profile_snapshot(tmp_path))
    assert spent.busy_total == 1000  # only what happened in between
    text = summarise(profile_snapshot(tmp_path)["123"])
    assert "live-reply channel" in text and "SQL" in text
    areas = text.split("files, inclusive:")[0]
    assert "70.0 %  live-reply channel" in areas and "30.0 %  SQL" in areas


@pytest.mark.parametrize("keep_alive", [True, False])
async def test_the_paced_provider_keeps_a_connection_alive_when_asked(keep_alive: bool) -> None:
    """bench/gateway.py's upstream serves request after request on one connection, as a
    provider's API does; by default a reply closes its connection."""
    import asyncio
    import json
    from urllib.parse import urlsplit

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "go"}]}).encode()
    with PacedProvider(lambda prompt: Plan("one two", 2000.0), keep_alive=keep_alive) as server:
        address = urlsplit(server.url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        replies: list[bytes] = []
        for _ in range(2):
            try:
                writer.write(
                    b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n"
                    b"content-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                replies.append(await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 10))
            except (asyncio.IncompleteReadError, ConnectionError):
                break  # the server closed the connection after the first reply
        writer.close()
        requests = server.requests
    assert len(replies) == (2 if keep_alive else 1) == requests
    assert all(b"message_stop" in reply for reply in replies)
    assert (b"connection: keep-alive" in replies[0]) is keep_alive
