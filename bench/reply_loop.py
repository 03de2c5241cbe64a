"""The chat service's reply loop, in-process: CPU per token and database round trips per message.

    .venv/bin/python -m bench.reply_loop                       # 100 replies x 250 tokens, 3 runs
    .venv/bin/python -m bench.reply_loop --replies 200 --tokens 250 --rate 50 --runs 3

Every run streams ``--replies`` replies at once, each ``--tokens`` tokens paced at ``--rate``
tokens/s, from an in-memory provider, on a temporary SQLite database:

- provider alone: the same paced streams read by a bare ``async for`` (the floor);
- service: ``ChatService.stream_reply`` for each (posted beforehand, not measured), with the
  call log going to the database as the app wires it (router and ``DatabaseCallSink``).

CPU is ``time.process_time`` (every thread: the event loop and the database workers); the loop's
cost per token is (service - provider alone) / tokens, so it includes the reply's database
work at its start and end, spread over its tokens. Round trips are connection checkouts from
the engine's pool (one per transaction), counted over post + stream per message.

Runs on older code too (``stream_reply`` as an async generator of batches), so a before/after
pair can be measured on one machine: copy this file into a checkout of the older commit.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from app.db.session import get_engine, migrate
from app.llm.base import ChatRequest, Finish, StreamEvent, TextDelta, Usage
from app.llm.catalogue import CatalogueEntry, Timeouts
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import Router, Target
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService
from bench._common import header, table


class Paced:
    """``tokens`` text deltas at ``rate`` per second, then usage and the finish."""

    name = "paced"

    def __init__(self, tokens: int, rate: float) -> None:
        self.tokens = tokens
        self.interval = 1.0 / rate

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for _ in range(self.tokens):
            await asyncio.sleep(self.interval)
            yield TextDelta("tok ")
        yield Usage(input_tokens=10, output_tokens=self.tokens)
        yield Finish("stop")


def wired_service(engine: Engine, provider: Paced) -> ChatService:
    entry = CatalogueEntry(
        "paced", "paced", "paced-1", "Paced", 8192, (), Timeouts(5.0, 60.0, 600.0)
    )
    sink = DatabaseCallSink(engine)
    registry = ModelRegistry(default="paced")
    registry.register(
        ModelInfo("paced", "Paced", "paced", "paced-1"),
        Router([Target(entry, provider)], sink=sink),  # type: ignore[list-item]
    )
    kwargs: dict[str, Any] = {}
    if "calls" in inspect.signature(ChatService).parameters:
        kwargs["calls"] = sink  # the reply's call-log rows go with its save
    return ChatService(engine, registry, **kwargs)


async def stream(service: ChatService, message_id: int) -> None:
    result: Any = service.stream_reply(message_id)
    if inspect.isasyncgen(result):  # older code: batches of text, thrown away
        async for _ in result:
            pass
    else:
        await result


async def provider_alone(provider: Paced, replies: int) -> float:
    request = ChatRequest(model="paced-1", messages=())

    async def read() -> None:
        async for _ in provider.stream(request):
            pass

    start = time.process_time()
    await asyncio.gather(*(read() for _ in range(replies)))
    return time.process_time() - start


async def service_run(engine: Engine, provider: Paced, replies: int) -> tuple[float, float]:
    """(CPU seconds streaming, round trips per message)."""
    service = wired_service(engine, provider)
    checkouts = 0

    def count(*_: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(engine, "checkout", count)
    try:
        posted = [await service.post_message(None, f"question {i}") for i in range(replies)]
        start = time.process_time()
        await asyncio.gather(*(stream(service, p.reply.id) for p in posted))
        cpu = time.process_time() - start
    finally:
        event.remove(engine, "checkout", count)
    for p in posted:
        saved = await service.get_message(p.reply.id)
        if saved.status != "complete":
            raise RuntimeError(f"reply {p.reply.id} ended {saved.status}: {saved.error}")
    return cpu, checkouts / replies


async def measure(args: argparse.Namespace) -> list[list[object]]:
    rows: list[list[object]] = []
    provider = Paced(args.tokens, args.rate)
    tokens = args.replies * args.tokens
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = get_engine(url)
        await service_run(engine, provider, 5)  # warm-up: imports, statement caches
        for run in range(1, args.runs + 1):
            floor = await provider_alone(provider, args.replies)
            cpu, trips = await service_run(engine, provider, args.replies)
            rows.append(
                [
                    run,
                    floor / tokens * 1e6,
                    cpu / tokens * 1e6,
                    (cpu - floor) / tokens * 1e6,
                    trips,
                ]
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The reply loop's CPU per token, in-process.")
    parser.add_argument("--replies", type=int, default=100, help="replies streamed at once")
    parser.add_argument("--tokens", type=int, default=250, help="tokens per reply")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens/s per reply")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args))
    print(header("Reply loop, in-process"))
    print(f"{args.replies} replies x {args.tokens} tokens at {args.rate:g} tok/s, SQLite\n")
    print(
        table(
            [
                "run",
                "provider alone µs/token",
                "service µs/token",
                "loop µs/token",
                "DB round trips/message",
            ],
            rows,
        )
    )
    loop_costs = [float(r[3]) for r in rows]  # type: ignore[arg-type]
    print(f"\nloop µs/token: median {statistics.median(loop_costs):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
