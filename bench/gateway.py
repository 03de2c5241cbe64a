"""The time a request spends inside Parley's gateway: added time to first token and
requests per second at 1, 10 and 100 concurrent streams.

Upstream is ``bench/_provider.py``'s paced Anthropic stand-in (first token at once, then
``--rate`` tokens/s), keeping its connections alive as a provider's API does. Each
concurrency level runs twice with the same streaming client (httpx, SSE): straight at the
stand-in, then through Parley's ``/v1/chat/completions`` (uvicorn, real API key, router,
guards with rate limits/budgets/moderation off only where they would refuse, the call log on
SQLite, the real Anthropic provider). Added TTFT at a percentile is the gateway's TTFT minus
the direct TTFT at that percentile.

The gateway runs in a process of its own (``bench/_gateway_stack.py``); the client and the
stand-in share this one. Every level is a closed loop (each stream sends its next request
when the last one ends), so once the machine's CPU is the bottleneck the added time at 100
streams is queueing: it grows with Parley's CPU per request, given as "Parley CPU ms/req"
(the gateway process's user + system time over the level, per request), which a busy machine
changes far less than it changes latencies. "cores" is that process's CPU time over the
level's wall time: well under 1 means other work held the CPUs.

    python -m bench.gateway [--requests 200] [--rate 200] [--tokens 20] [--levels 1,10,100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench._common import header, load_average, table
from bench._provider import PacedProvider, Plan
from bench.latency import percentile

LEVELS = (1, 10, 100)


async def _one(
    http: httpx.AsyncClient, url: str, body: dict[str, object], headers: dict[str, str]
) -> float:
    """Seconds from sending to the first text delta, then reads the stream to its end."""
    started = time.perf_counter()
    first: float | None = None
    async with http.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if first is None and (
                '"text_delta"' in line or ('"content":"' in line and '"content":""' not in line)
            ):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"no text from {url}")
    return first


async def _level(
    url: str, concurrency: int, requests: int, make: object, headers: dict[str, str]
) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        queue = list(range(requests))
        ttfts: list[float] = []

        async def worker() -> None:
            while queue:
                i = queue.pop()
                ttfts.append(await _one(http, url, make(i), headers))  # type: ignore[operator]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ttfts, requests / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per concurrency level")
    parser.add_argument("--rate", type=float, default=200.0, help="upstream tokens per second")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per reply")
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="streams, comma-separated"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample the gateway process's Python stacks (bench/_sampler) into this directory "
        "and print bench/profile_report.py's summary of them",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PARLEY_DATA_DIR", tmp)
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from app.db.models import CallLog
    from app.db.session import get_engine, migrate
    from bench._gateway_stack import served_gateway

    text = " ".join(f"w{i}" for i in range(args.tokens))
    upstream = PacedProvider(lambda prompt: Plan(text, args.rate), keep_alive=True).start()
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(url)
    rows: list[list[object]] = []
    print(header("Gateway: added time to first token"))
    try:
        env: dict[str, str] = {}
        if args.profile is not None:
            env["PARLEY_BENCH_SAMPLE_DIR"] = str(args.profile.resolve())
            env["PYTHONPATH"] = str(Path(__file__).resolve().parent / "_sampler")
        with served_gateway(url, upstream.url, env=env) as served:
            base, token = served.base, served.token
            via_headers = {"authorization": f"Bearer {token}"}
            warm = lambda i: {  # noqa: E731
                "model": "claude-bench", "max_tokens": 100, "stream": True,
                "messages": [{"role": "user", "content": f"warm-{i}"}],
            }  # fmt: skip
            # Not measured: the first calls' one-off work (imports, the SDK's platform probe).
            asyncio.run(_level(f"{base}/v1/chat/completions", 2, 10, warm, via_headers))
            for level in [int(n) for n in args.levels.split(",")]:
                direct_body = lambda i, level=level: {  # noqa: E731
                    "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
                    "messages": [{"role": "user", "content": f"d{level}-{i}"}],
                }  # fmt: skip
                via_body = lambda i, level=level: {  # noqa: E731
                    "model": "claude-bench", "max_tokens": 100, "stream": True,
                    "messages": [{"role": "user", "content": f"g{level}-{i}"}],
                }  # fmt: skip
                direct_headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
                direct, direct_rps = asyncio.run(
                    _level(
                        f"{upstream.url}/v1/messages",
                        level,
                        args.requests,
                        direct_body,
                        direct_headers,
                    )
                )
                cpu, wall = served.cpu_seconds(), time.perf_counter()
                via, via_rps = asyncio.run(
                    _level(
                        f"{base}/v1/chat/completions",
                        level,
                        args.requests,
                        via_body,
                        via_headers,
                    )
                )
                cpu, wall = served.cpu_seconds() - cpu, time.perf_counter() - wall
                p = lambda xs, q: percentile(xs, q / 100) * 1000  # noqa: E731
                rows.append([
                    level, f"{p(direct, 50):.1f}", f"{p(via, 50):.1f}",
                    f"{p(via, 50) - p(direct, 50):.1f}", f"{p(via, 95) - p(direct, 95):.1f}",
                    f"{direct_rps:.0f}", f"{via_rps:.0f}",
                    f"{cpu * 1000 / args.requests:.2f}", f"{cpu / wall:.2f}",
                ])  # fmt: skip
    finally:
        upstream.stop()
    print(
        table(
            [
                "streams",
                "direct TTFT p50 ms",
                "via Parley p50 ms",
                "added p50 ms",
                "added p95 ms",
                "direct req/s",
                "via Parley req/s",
                "Parley CPU ms/req",
                "cores",
            ],
            rows,
        )
    )
    sent = 10 + len(rows) * args.requests  # the warm-up's and the levels'
    with Session(get_engine(url)) as session:
        logged = session.exec(select(func.count()).select_from(CallLog)).one()
    # Each call's row must be written even under load (a row lost is usage not counted).
    print(f"call-log rows: {logged} of {sent} calls")
    print(f"load average after: {load_average()}   requests per level: {args.requests}, "
          f"{args.tokens} tokens at {args.rate:g}/s")  # fmt: skip
    print(json.dumps({"rows": rows}))
    if args.profile is not None:
        from bench.profile_report import main as report

        report([str(args.profile), "--top", "25"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
