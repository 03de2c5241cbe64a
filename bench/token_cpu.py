"""Backend CPU per streamed token, as a ratio to the provider SDK alone parsing the same stream.

    .venv/bin/python -m bench.token_cpu                     # 1000 tokens at 200 and 1000 tok/s
    .venv/bin/python -m bench.token_cpu --rates 200 --repeat 5 --profile /tmp/prof

A loopback stand-in for OpenAI's Chat Completions API (:class:`PacedOpenAI`, in this
process, on its own thread) streams a reply of N 4-character tokens on an exact schedule
(token k at start + k / rate, each its own SSE chunk, as ``tests/providers/loopback.py``
formats them). The same stream is read two ways, taking turns run by run:

1. **the SDK alone**: a child process (``--sdk-only``) runs ``AsyncOpenAI`` with
   ``stream=True`` and ``include_usage`` as Parley's adapter asks, and iterates the chunks;
   its CPU is ``time.process_time()`` around the stream (imports and connection warmed by a
   first request, not counted);
2. **Parley**: the production build (bench/_app.py) with ``gpt-4.1-mini`` on the OpenAI
   provider pointed at the stand-in; one protocol client (bench/concurrency.py's
   ``Session``: socket.io as a tab speaks it, plus the live-reply websocket) sends a message
   into a conversation that already has one exchange and its title, and reads the reply to
   its end. The CPU is utime+stime of the app's whole process group from /proc around the
   reply, less what the app spends idle over the same time (measured before).

The ratio Parley / SDK per token is issue 9's figure (goal: at most 1.5). Parley's share
includes everything a reply costs the backend: the send event, posting the message, the
request's history, the adapter and router, the chat service loop, the live-reply channel,
saving, the end update and the sidebar. ``--profile DIR`` samples the app's stacks
(bench/_sampler) during the measured replies and prints bench/profile_report.py's summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench._app import ProdApp, assert_loopback, snapshot
from bench._common import ROOT, header, load_average, table
from bench.concurrency import TITLE_RULE, Session, chat_state_name, http_url
from bench.profile_report import profile_snapshot, since, summarise
from bench.wire import TOKEN_CHARS, reply_text
from tests.providers.loopback import openai_events

MODEL = "gpt-4.1-mini"  # a catalogue model of the "openai" provider
API_KEY = "sk-bench-not-a-real-key"
GOAL_RATIO = 1.5
PROMPT_PREFIX = "cpu "  # "cpu <tokens>x<rate> <tag>": a measured reply; anything else: short
IDLE_S = 2.0


# ----- the stand-in -----------------------------------------------------------------------------


def _prompt_of(body: Any) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
    return ""


def plan_of(prompt: str) -> tuple[int, float] | None:
    """(tokens, rate) of a measured prompt, else None (a short reply at once)."""
    if not prompt.startswith(PROMPT_PREFIX):
        return None
    spec = prompt.split()[1]
    tokens, rate = spec.lower().split("x")
    return int(tokens), float(rate)


@dataclass
class PacedOpenAI:
    """OpenAI-format SSE on 127.0.0.1, paced on an absolute schedule; on its own thread."""

    title: str = str(TITLE_RULE["reply"])
    port: int = 0
    errors: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> PacedOpenAI:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = json.loads(await reader.readexactly(length)) if length else {}
            await self._answer(body, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # report, never kill the server
            self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        finally:
            writer.close()

    async def _answer(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        model = str(body.get("model", MODEL))
        plan = plan_of(_prompt_of(body))
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )

        def chunk(data: bytes) -> None:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        if plan is None:
            chunk(b"".join(openai_events([self.title], model=model)))
        else:
            tokens, rate = plan
            text = reply_text(tokens)
            pieces = [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]
            events = openai_events(pieces, model=model, completion_tokens=len(pieces))
            chunk(events[0])
            await writer.drain()
            body_events, tail = events[1 : 1 + len(pieces)], events[1 + len(pieces) :]
            loop = asyncio.get_running_loop()
            start = loop.time()
            k = 0
            while k < len(body_events):
                now = loop.time()
                due = start + k / rate
                if due > now:
                    await asyncio.sleep(due - now)
                    now = loop.time()
                last = k  # every token that is due goes now, each as its own event
                while last + 1 < len(body_events) and start + (last + 1) / rate <= now:
                    last += 1
                chunk(b"".join(body_events[k : last + 1]))
                await writer.drain()
                k = last + 1
            chunk(b"".join(tail))
        writer.write(b"0\r\n\r\n")
        await writer.drain()


# ----- the SDK alone (a child process) ----------------------------------------------------------


async def _sdk_stream(url: str, prompt: str) -> tuple[float, float, int]:
    """CPU seconds, wall seconds and characters of one stream read by the openai SDK."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0)

    async def once(text: str) -> int:
        chars = 0
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": text}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for part in stream:
            if part.choices and part.choices[0].delta.content:
                chars += len(part.choices[0].delta.content)
        return chars

    await once("warm up")  # imports, the connection pool, the SDK's first-call work
    cpu0, wall0 = time.process_time(), time.perf_counter()
    chars = await once(prompt)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await client.close()
    return cpu, wall, chars


def sdk_alone(url: str, prompt: str) -> tuple[float, float, int]:
    """Runs :func:`_sdk_stream` in a fresh interpreter (so only the SDK's CPU is counted)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.token_cpu", "--sdk-only", url, prompt],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    cpu, wall, chars = json.loads(out.strip().splitlines()[-1])
    return float(cpu), float(wall), int(chars)


# ----- Parley -----------------------------------------------------------------------------------


@dataclass
class Run:
    way: str  # "sdk" or "parley"
    tokens: int
    rate: float
    cpu_s: float
    wall_s: float
    intact: bool

    @property
    def cpu_us_per_token(self) -> float:
        return self.cpu_s / self.tokens * 1e6


async def parley_reply(
    app: ProdApp, chat_state: str, prompt: str, idle_cpu_per_s: float
) -> tuple[float, float, bool]:
    """Backend CPU (less idle), wall seconds and intactness of one reply, sent into a
    conversation that already has one exchange and its title."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        session = Session(0, app, chat_state, http)
        try:
            await session.connect(120)
            primer = await session.chat_once("primer for the measured reply", 120)
            if primer.error:
                raise RuntimeError(f"the primer failed: {primer.error}\n{app.tail()}")
            await asyncio.sleep(0.3)  # let the primer's last updates pass
            session.outcome = type(primer)()
            cpu0, wall0 = app.usage().cpu_s, time.perf_counter()
            out = await session.chat_once(prompt, 600)
            cpu1, wall1 = app.usage().cpu_s, time.perf_counter()
        finally:
            await session.close()
    if out.error:
        raise RuntimeError(f"the measured reply failed: {out.error}\n{app.tail()}")
    tokens, _ = plan_of(prompt) or (0, 0.0)
    intact = out.text == reply_text(tokens) == out.final_content
    wall = wall1 - wall0
    return max(cpu1 - cpu0 - idle_cpu_per_s * wall, 0.0), wall, intact


def idle_rate(app: ProdApp) -> float:
    """The app's CPU seconds per second with nothing to do."""
    cpu0 = app.usage().cpu_s
    time.sleep(IDLE_S)
    return (app.usage().cpu_s - cpu0) / IDLE_S


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report(runs: Sequence[Run], idle_per_s: float) -> str:
    rows: list[list[object]] = []
    for tokens, rate in sorted({(r.tokens, r.rate) for r in runs}):
        sdk = [r for r in runs if r.way == "sdk" and (r.tokens, r.rate) == (tokens, rate)]
        parley = [r for r in runs if r.way == "parley" and (r.tokens, r.rate) == (tokens, rate)]
        sdk_us = median([r.cpu_us_per_token for r in sdk])
        parley_us = median([r.cpu_us_per_token for r in parley])
        ratios = sorted(p.cpu_s / s.cpu_s for p, s in zip(parley, sdk, strict=False) if s.cpu_s)
        ratio = parley_us / sdk_us if sdk_us else float("nan")
        rows.append(
            [
                f"{tokens}x{rate:g}",
                f"{sum(r.intact for r in parley)}/{len(parley)}",
                sdk_us,
                parley_us,
                ratio,
                f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if ratios else "n/a",
                ratio / GOAL_RATIO,
                median([tokens / r.wall_s for r in parley]),
            ]
        )
    headers = [
        "tokens x tok/s",
        "intact",
        "SDK alone µs/token",
        "Parley backend µs/token",
        "Parley / SDK (median)",
        "per-run range",
        "ratio / 1.5 goal",
        "Parley tok/s",
    ]
    return (
        table(headers, rows)
        + f"\n\napp idle: {idle_per_s * 1000:.1f} ms CPU per s (subtracted from Parley's figure)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Backend CPU per streamed token against the SDK.")
    p.add_argument("--tokens", type=int, default=1000)
    p.add_argument("--rates", default="200,1000", help="tokens per second, comma-separated")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", type=Path, default=None, help="sample the app into DIR")
    p.add_argument("--ref", default=None, help="measure this commit instead of the work tree")
    p.add_argument("--in-place", action="store_true", help="run the app in the repository")
    p.add_argument("--sdk-only", nargs=2, metavar=("URL", "PROMPT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sdk_only:
        print(json.dumps(asyncio.run(_sdk_stream(*args.sdk_only))))
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    chat_state = chat_state_name()
    print(header("Backend CPU per streamed token (bench/token_cpu.py)", ref=args.ref), flush=True)
    provider = PacedOpenAI().start()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-cpu-") as tmp:
        workdir = Path(tmp)
        root = ROOT if args.in_place else snapshot(workdir / "app", with_web=True, ref=args.ref)
        env = {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": provider.url,
            "PARLEY_DEFAULT_MODEL": MODEL,
            "PARLEY_RETRY_MAX": "0",
            "PARLEY_COOLDOWN_FAILURES": "1000",
        }
        if args.profile is not None:
            args.profile = args.profile.resolve()
            env["PARLEY_BENCH_SAMPLE_DIR"] = str(args.profile)
            env["PYTHONPATH"] = str(root / "bench" / "_sampler")
        app = ProdApp(root, rules=None, env=env, workdir=workdir)
        try:
            app.start()
            assert_loopback(http_url(app))
            idle = idle_rate(app)
            asyncio.run(parley_reply(app, chat_state, "cpu 200x2000 warm-up", idle))
            before = {}
            if args.profile is not None:
                time.sleep(2.5)  # bench/_sampler writes its counts every 2 s: after the warm-up
                before = profile_snapshot(args.profile)
            for run in range(args.repeat):
                for rate in rates:
                    prompt = f"cpu {args.tokens}x{rate:g} run{run}"
                    cpu, wall, chars = sdk_alone(provider.url, prompt)
                    ok = chars == args.tokens * TOKEN_CHARS
                    runs.append(Run("sdk", args.tokens, rate, cpu, wall, ok))
                    cpu, wall, ok = asyncio.run(parley_reply(app, chat_state, prompt, idle))
                    runs.append(Run("parley", args.tokens, rate, cpu, wall, ok))
                    print(
                        f"... {prompt}: SDK {runs[-2].cpu_us_per_token:.0f} µs/token, "
                        f"Parley {runs[-1].cpu_us_per_token:.0f} µs/token "
                        f"(load {load_average()})",
                        flush=True,
                    )
            profile = ""
            if args.profile is not None:
                time.sleep(2.5)  # bench/_sampler writes its counts every 2 s
                spent = since(before, profile_snapshot(args.profile))
                if spent:
                    profile = summarise(max(spent, key=lambda p: p.busy_total), 25)
        finally:
            app.stop()
            provider.stop()
    if provider.errors:
        print("stand-in errors:\n  " + "\n  ".join(provider.errors[:5]))
    print()
    print(report(runs, idle))
    print(f"load average after: {load_average()}")
    if profile:
        print("\nCPU profile of the measured replies (--profile; includes the primers):")
        print(profile)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
