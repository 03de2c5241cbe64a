"""Many viewers of one streaming reply: delay from provider token to each viewer, CPU, memory.

    .venv/bin/python -m bench.viewers                    # 10, 100, 1000, 2000 viewers
    .venv/bin/python -m bench.viewers --viewers 10 100 --tokens 100

One reply streams at ``--rate`` tokens/s (4 characters each) into the live-reply hub, and N
scripted viewers read it as the live-reply channel does (``Subscription.batch``):

- **in-process**: the :class:`StreamHub`; the publisher and every viewer in one process.
- **redis**: the :class:`RedisStreamHub` on 127.0.0.1:6379; the publisher in this process and
  the viewers split over ``--workers`` processes (as backend workers), each following the
  reply from Redis.

Per (viewer, token) the delay is the viewer's receipt time minus the publish time (one
monotonic clock, shared by the processes). CPU per delivered token is the CPU time of every
process involved (publisher, workers, and the Redis server) during the stream, divided by
viewers x tokens. Memory per viewer is the growth of the viewers' processes' RSS on creating
them, divided by their number. The viewers stop at the hub: the websocket to each browser is
not in these figures (bench/concurrency.py measures that channel).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

from bench._common import header, load_average, table
from bench.latency import percentile

REDIS_URL = os.environ.get("PARLEY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN_CHARS = 4
MESSAGE_ID = 1
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def token(i: int) -> str:
    """Token ``i``: distinct from its neighbours, so a reordering shows in the text."""
    return f"{i % 1000:03d} "


def reply(tokens: int) -> str:
    return "".join(token(i) for i in range(tokens))


async def read(sub: Any, tokens: int, arrivals: list[float]) -> bool:
    """Read to the end, noting when each token's last character arrived. True if the text
    read is exactly the reply, in order."""
    chars = 0
    parts: list[str] = []
    while True:
        chunks, end = await sub.batch()
        now = time.monotonic()
        parts.extend(chunks)
        chars += sum(len(c) for c in chunks)
        while len(arrivals) < min(chars // TOKEN_CHARS, tokens):
            arrivals.append(now)
        if end is not None:
            return "".join(parts) == reply(tokens)


async def publish(hub: Any, tokens: int, rate: float) -> list[float]:
    """Stream ``tokens`` at ``rate`` per second; returns each token's publish time."""
    sent: list[float] = []
    start = time.monotonic()
    for i in range(tokens):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        sent.append(time.monotonic())
        hub.publish(MESSAGE_ID, token(i))
    hub.finish(MESSAGE_ID, "complete")
    return sent


@dataclass
class Result:
    mode: str
    viewers: int
    delays_ms: list[float]
    lost: int
    garbled: int  # viewers whose text was not the reply, in order
    cpu_s: float
    mem_per_viewer: float


async def in_process(viewers: int, tokens: int, rate: float) -> Result:
    from app.services.stream_hub import StreamHub

    hub = StreamHub()
    hub.open(MESSAGE_ID)
    before = rss()
    arrivals: list[list[float]] = [[] for _ in range(viewers)]
    tasks = [asyncio.create_task(read(hub.subscribe(MESSAGE_ID), tokens, a)) for a in arrivals]
    await asyncio.sleep(0.2)  # every viewer waiting
    mem = (rss() - before) / viewers
    cpu0 = time.process_time()
    sent = await publish(hub, tokens, rate)
    exact = await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    return _result("in-process", viewers, tokens, sent, arrivals, exact, cpu, mem)


def _result(
    mode: str,
    viewers: int,
    tokens: int,
    sent: list[float],
    arrivals: list[list[float]],
    exact: list[bool],
    cpu: float,
    mem: float,
) -> Result:
    delays = [(a - s) * 1000 for got in arrivals for a, s in zip(got, sent, strict=False)]
    lost = sum(tokens - len(got) for got in arrivals)
    return Result(mode, viewers, delays, lost, exact.count(False), cpu, mem)


def worker(prefix: str, viewers: int, tokens: int, ready: Queue[Any], out: Queue[Any]) -> None:
    asyncio.run(_worker(prefix, viewers, tokens, ready, out))


async def _worker(
    prefix: str, viewers: int, tokens: int, ready: Queue[Any], out: Queue[Any]
) -> None:
    from app.services.redis_hub import RedisStreamHub

    hub = RedisStreamHub.from_url(REDIS_URL, prefix=prefix, block_ms=1000)
    before = rss()
    arrivals: list[list[float]] = [[] for _ in range(viewers)]
    tasks = [asyncio.create_task(read(hub.subscribe(MESSAGE_ID), tokens, a)) for a in arrivals]
    await asyncio.sleep(0.3)
    ready.put((os.getpid(), rss() - before))
    exact = await asyncio.gather(*tasks)
    out.put((os.getpid(), arrivals, exact))
    await hub.aclose()


async def on_redis(viewers: int, tokens: int, rate: float, workers: int) -> Result:
    import redis.asyncio

    from app.services.redis_hub import RedisStreamHub

    prefix = f"parley-bench:{uuid.uuid4().hex[:8]}"
    hub = RedisStreamHub.from_url(REDIS_URL, prefix=prefix)
    info = await redis.asyncio.Redis.from_url(REDIS_URL).info("server")
    redis_pid = int(info["process_id"])
    hub.open(MESSAGE_ID)
    await asyncio.sleep(0.1)  # the open is in Redis before any viewer looks
    ctx = mp.get_context("spawn")
    ready: Queue[Any] = ctx.Queue()
    out: Queue[Any] = ctx.Queue()
    shares = [viewers // workers + (i < viewers % workers) for i in range(workers)]
    procs = [ctx.Process(target=worker, args=(prefix, n, tokens, ready, out)) for n in shares if n]
    for p in procs:
        p.start()
    grown = [await asyncio.to_thread(ready.get, True, 120) for _ in procs]
    pids = [pid for pid, _ in grown]
    mem = sum(g for _, g in grown) / viewers
    cpu0 = time.process_time() + sum(cpu_of(p) for p in [*pids, redis_pid])
    sent = await publish(hub, tokens, rate)
    results = [await asyncio.to_thread(out.get, True, 120) for _ in procs]
    cpu = time.process_time() + sum(cpu_of(p) for p in [*pids, redis_pid]) - cpu0
    for p in procs:
        p.join(10)
    await hub.aclose()
    arrivals = [a for _, per_worker, _ in results for a in per_worker]
    exact = [e for _, _, per_worker in results for e in per_worker]
    mode = f"redis, {len(procs)} workers"
    return _result(mode, viewers, tokens, sent, arrivals, exact, cpu, mem)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[10, 100, 1000, 2000])
    parser.add_argument("--tokens", type=int, default=250, help="per reply (default 5 s)")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second")
    parser.add_argument("--workers", type=int, default=2, help="viewer processes on Redis")
    parser.add_argument("--mode", choices=["both", "in-process", "redis"], default="both")
    args = parser.parse_args()
    print(header("Viewers of one streaming reply (bench/viewers.py)"))
    print(f"{args.tokens} tokens at {args.rate:g} tokens/s; Redis at {REDIS_URL}\n")
    rows = []
    for n in args.viewers:
        runs = []
        if args.mode in ("both", "in-process"):
            runs.append(asyncio.run(in_process(n, args.tokens, args.rate)))
        if args.mode in ("both", "redis"):
            runs.append(asyncio.run(on_redis(n, args.tokens, args.rate, args.workers)))
        for r in runs:
            delivered = n * args.tokens - r.lost
            rows.append(
                [
                    r.mode,
                    n,
                    percentile(r.delays_ms, 0.5),
                    percentile(r.delays_ms, 0.95),
                    percentile(r.delays_ms, 0.99),
                    max(r.delays_ms, default=float("nan")),
                    r.lost,
                    r.garbled,
                    r.cpu_s / delivered * 1e6,
                    r.mem_per_viewer / 1024,
                    load_average().split(",")[0],
                ]
            )
            print(table(_HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(_HEADERS, rows))
    print(f"\nload average after: {load_average()}")


_HEADERS = [
    "hub",
    "viewers",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "lost",
    "garbled",
    "CPU µs/token",
    "KiB/viewer",
    "load 1m",
]

if __name__ == "__main__":
    main()
