"""The time a request spends inside Parley's gateway: added time to first token and
requests per second at 1, 10 and 100 concurrent streams.

Upstream is ``bench/_provider.py``'s paced Anthropic stand-in (first token at once, then
``--rate`` tokens/s). Each concurrency level runs twice with the same streaming client
(httpx, SSE): straight at the stand-in, then through Parley's ``/v1/chat/completions``
(uvicorn, real API key, router, guards with rate limits/budgets/moderation off only where
they would refuse, the call log on SQLite, the real Anthropic provider). Added TTFT at a
percentile is the gateway's TTFT minus the direct TTFT at that percentile.

The client, the gateway and the stand-in share this process's two cores (three event loops,
one GIL), so the figures are an upper bound of Parley's own cost.

    python -m bench.gateway [--requests 200] [--rate 200] [--tokens 20]
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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PARLEY_DATA_DIR", tmp)
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    from app.db.session import get_engine, migrate
    from bench._gateway_stack import served_gateway

    text = " ".join(f"w{i}" for i in range(args.tokens))
    upstream = PacedProvider(lambda prompt: Plan(text, args.rate)).start()
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(url)
    rows: list[list[object]] = []
    print(header("Gateway: added time to first token"))
    try:
        with served_gateway(get_engine(url), upstream.url) as (base, token):
            for level in LEVELS:
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
                via, via_rps = asyncio.run(
                    _level(
                        f"{base}/v1/chat/completions",
                        level,
                        args.requests,
                        via_body,
                        {"authorization": f"Bearer {token}"},
                    )
                )
                p = lambda xs, q: percentile(xs, q / 100) * 1000  # noqa: E731
                rows.append([
                    level, f"{p(direct, 50):.1f}", f"{p(via, 50):.1f}",
                    f"{p(via, 50) - p(direct, 50):.1f}", f"{p(via, 95) - p(direct, 95):.1f}",
                    f"{direct_rps:.0f}", f"{via_rps:.0f}",
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
            ],
            rows,
        )
    )
    print(f"load average after: {load_average()}   requests per level: {args.requests}, "
          f"{args.tokens} tokens at {args.rate:g}/s")  # fmt: skip
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
