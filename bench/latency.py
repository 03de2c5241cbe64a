"""Token-to-DOM latency in real browsers: from a token leaving the provider to its text
being in the page's DOM.

    .venv/bin/python -m bench.latency                     # 3 browsers, 50/200/2000 tok/s
    .venv/bin/python -m bench.latency --browsers 1 --repeat 3 --cases 300x50

Starts Parley's production build (bench/_app.py) with its real Anthropic provider pointed
at a loopback stand-in (bench/_provider.py) that streams each reply on an exact schedule
(token k at start + k / rate) and records ``time.time()`` as each token leaves it. Several
headless Chromium browsers (separate processes) each open a new chat and send at the same
moment; each reply is the bench's marked markdown (bench/wire.py's ``reply_text``: a
marker ``q<offset>`` every few words, giving its own position in the reply).

In the page a MutationObserver records, at every DOM change, how far the reply has arrived
(``performance.timeOrigin + performance.now()``). A marker's latency is the first DOM change
that shows it, minus the send time of the token carrying its last character. Both clocks
are this machine's wall clock; the offset between them is measured (best of 7 round trips)
and subtracted. Every marker of every reply counts: about one token in five.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Playwright, async_playwright

from bench._app import (
    CHROMIUM_ARGS,
    ProdApp,
    SetCookieParam,
    assert_loopback,
    chromium_path,
    descendants_cpu_s,
    snapshot,
)
from bench._common import header, load_average, table
from bench._provider import PacedProvider, Plan, Sent
from bench.wire import OBSERVER_JS, TOKEN_CHARS, reply_text

MODEL = "claude-haiku-4-5"  # a catalogue model of the "anthropic" provider
API_KEY = "sk-ant-bench-not-a-real-key"
GOAL_P50_MS = 50.0
GOAL_P95_MS = 120.0
DEFAULT_CASES = ("300x50", "1000x200", "6000x2000")  # about 6, 5 and 3 s each
PROMPT = re.compile(r"^lat (\d+)x(\d+) ")
MARKER = re.compile(r"q(\d+)")

# Runs before the page's own scripts: timestamps every message on a live-reply socket when
# it arrives (this listener is registered before the page's onmessage, so it runs first),
# with how far into the reply any socket has delivered.
FRAMES_JS = """
(() => {
  window.__frames = [];
  window.__frameChars = 0;
  window.__sockets = [];  // [created, opened] of each live-reply socket (performance.now())
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const u = new URL(String(url), location.href);
      if (u.pathname.startsWith('/_parley/stream/')) {
        const times = [performance.now(), null];
        window.__sockets.push(times);
        this.addEventListener('open', () => { times[1] = performance.now(); });
        // A socket resumes at ?from=<code points>; a remounted reply may replay from 0.
        let chars = parseInt(u.searchParams.get('from') || '0', 10);
        this.addEventListener('message', (event) => {
          const data = typeof event.data === 'string' ? event.data : '';
          if (data[0] !== 'd') return;
          for (const _ of data.slice(1)) chars += 1;
          window.__frameChars = Math.max(window.__frameChars, chars);
          window.__frames.push([performance.now(), window.__frameChars]);
        });
      }
    }
  };
})();
"""


def prompt_for(tokens: int, rate: int, tag: str) -> str:
    return f"lat {tokens}x{rate} {tag}"


def script(prompt: str) -> Plan | None:
    """The paced provider's answer to a bench prompt (None: a short reply at once)."""
    m = PROMPT.match(prompt)
    if m is None:
        return None
    return Plan(reply_text(int(m.group(1))), float(m.group(2)), TOKEN_CHARS)


def provider_env(provider: PacedProvider, *, default: bool) -> dict[str, str]:
    """The app's environment for the Anthropic provider on loopback."""
    env = {
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": provider.url,
        "PARLEY_RETRY_MAX": "0",
        "PARLEY_COOLDOWN_FAILURES": "1000",
    }
    if default:
        env["PARLEY_DEFAULT_MODEL"] = MODEL
    return env


# ----- arithmetic (tests/unit/test_bench_smoke.py) ---------------------------------------------


def marker_ends(text: str) -> list[int]:
    """Where each true position marker ``q<offset>`` ends (the observer's reading)."""
    return [m.end() for m in MARKER.finditer(text) if int(m.group(1)) == m.start()]


def dom_latencies(
    text: str,
    sent_times: Sequence[float],
    observations: Sequence[Sequence[float]],
    to_epoch: Callable[[float], float],
    token_chars: int = TOKEN_CHARS,
) -> list[float]:
    """Milliseconds from each marked token's send to the first DOM change showing it.

    ``observations`` are the observer's ``[performance.now() ms, characters arrived, done]``
    in time order, with "arrived" never decreasing; ``to_epoch`` turns the first into epoch
    seconds. A marker the DOM never showed counts as missing (not in the list).
    """
    out: list[float] = []
    i = 0
    for end in marker_ends(text):
        while i < len(observations) and observations[i][1] < end:
            i += 1
        if i == len(observations):
            break
        token = (end - 1) // token_chars
        if token < len(sent_times):
            out.append((to_epoch(float(observations[i][0])) - sent_times[token]) * 1000)
    return out


def frame_latencies(
    text: str,
    sent_times: Sequence[float],
    frames: Sequence[Sequence[float]],
    to_epoch: Callable[[float], float],
    token_chars: int = TOKEN_CHARS,
) -> list[float]:
    """Like :func:`dom_latencies`, to the arrival of the live-reply frame that carried each
    marker, ``frames`` being ``[performance.now() ms, characters received so far]``."""
    return dom_latencies(text, sent_times, frames, to_epoch, token_chars)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# ----- browsers --------------------------------------------------------------------------------


async def clock_offset_ms(page: Page, samples: int = 7) -> float:
    """Browser epoch ms (timeOrigin + now) minus Python's time.time() in ms."""
    best_rtt, offset = math.inf, 0.0
    for _ in range(samples):
        t0 = time.time()
        browser_ms = float(await page.evaluate("performance.timeOrigin + performance.now()"))
        t1 = time.time()
        if t1 - t0 < best_rtt:
            best_rtt = t1 - t0
            offset = browser_ms - (t0 + t1) / 2 * 1000
    return offset


@dataclass
class Reply:
    """What one browser saw of one reply."""

    prompt: str
    latencies_ms: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)  # send to the frame's arrival
    first_ms: float = float("nan")  # the first token's send to its text in the DOM
    # The first token's way, from the click on Send (ms): the provider sends it; the page
    # creates and opens the live-reply socket; its first frame arrives.
    click_to_provider_ms: float = float("nan")
    click_to_socket_ms: float = float("nan")
    click_to_open_ms: float = float("nan")
    click_to_frame_ms: float = float("nan")
    click_to_bubble_ms: float = float("nan")  # the live reply's element is in the page
    dom_rate: float = float("nan")  # tokens/s, first text to the end marker in the DOM
    provider_rate: float = float("nan")  # tokens/s, first to last send
    stream_frames: int = 0  # "d" frames on the live-reply socket
    clock_offset_ms: float = float("nan")  # the page's epoch clock minus time.time()
    markers: int = 0
    ended: bool = False
    error: str = ""


class BrowserProbe:
    """One headless Chromium with one page on Parley: opens a chat, sends, observes."""

    def __init__(self, index: int, browser: Browser, page: Page, base_url: str) -> None:
        self.index = index
        self.browser = browser
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.stream_frames = 0
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text[:200]) if msg.type == "error" else None,
        )
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        assert_loopback(str(ws.url).replace("ws://", "http://"))
        if urlsplit(str(ws.url)).path.startswith("/_parley/stream/"):

            def received(payload: str | bytes) -> None:
                if isinstance(payload, str) and payload.startswith("d"):
                    self.stream_frames += 1

            ws.on("framereceived", received)

    @classmethod
    async def launch(
        cls,
        playwright: Playwright,
        index: int,
        base_url: str,
        cookies: Sequence[SetCookieParam] = (),
    ) -> BrowserProbe:
        """A browser whose page is signed in with ``cookies`` (``ProdApp.browser_cookies``)."""
        assert_loopback(base_url)
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        await context.add_cookies(list(cookies))
        await context.add_init_script(FRAMES_JS)
        page = await context.new_page()
        page.set_default_timeout(60_000)
        return cls(index, browser, page, base_url)

    async def open_chat(self, model: str | None = None) -> None:
        page = self.page
        await page.goto(self.base_url + "/")
        await page.get_by_role("textbox", name="Message").wait_for(state="visible")
        await page.wait_for_function(
            "() => !document.querySelector('textarea[aria-label=Message]')?.disabled"
        )
        if model is not None:
            picker = page.get_by_role("combobox", name="Model")
            await picker.select_option(model)
            await page.wait_for_function(
                "(m) => document.querySelector('select[aria-label=Model]')?.value === m", arg=model
            )
        await page.wait_for_timeout(300)  # let the connection's first updates pass

    async def send(self, prompt: str) -> tuple[float, float]:
        """Arm the observer, send ``prompt``; returns (clock offset ms, timeOrigin ms)."""
        offset = await clock_offset_ms(self.page)
        await self.page.evaluate(OBSERVER_JS)
        await self.page.evaluate(
            "window.__frames = []; window.__frameChars = 0; window.__sockets = [];"
            "window.__bubbleAt = null;"
            "new MutationObserver((_, obs) => { if (document.querySelector("
            "'[role=log] .live-reply')) { window.__bubbleAt = performance.now();"
            " obs.disconnect(); } }).observe(document.body, {subtree: true, childList: true})"
        )
        await self.page.get_by_role("textbox", name="Message").fill(prompt)
        self.stream_frames = 0
        await self.page.get_by_role("button", name="Send").click()
        return offset, float(await self.page.evaluate("performance.timeOrigin"))

    async def observe(
        self,
        prompt: str,
        text: str,
        offset_ms: float,
        origin_ms: float,
        record: Callable[[], Sent | None],
        timeout_s: float,
    ) -> Reply:
        """Waits for the end marker, then measures the reply against the provider's log."""
        reply = Reply(prompt, clock_offset_ms=offset_ms)
        try:
            await self.page.wait_for_function(
                "() => window.__bench.endAt !== null", timeout=timeout_s * 1000, polling=250
            )
            await self.page.get_by_role("button", name="Send").wait_for(state="visible")
            bench: dict[str, Any] = await self.page.evaluate("window.__bench")
            frames: list[list[float]] = await self.page.evaluate("window.__frames")
            sockets: list[list[float | None]] = await self.page.evaluate("window.__sockets")
            bubble_at: float | None = await self.page.evaluate("window.__bubbleAt")
        except Exception as exc:
            reply.error = f"{type(exc).__name__}: {exc}"[:200]
            return reply
        sent = record()
        if sent is None or not sent.times:
            reply.error = "the provider has no record of this prompt"
            return reply

        def to_epoch(now_ms: float) -> float:
            return (origin_ms + now_ms - offset_ms) / 1000

        obs: list[list[float]] = bench["obs"]
        reply.ended = bench["endAt"] is not None
        reply.latencies_ms = dom_latencies(text, sent.times, obs, to_epoch)
        reply.frame_ms = frame_latencies(text, sent.times, frames, to_epoch)
        reply.markers = len(marker_ends(text))
        reply.stream_frames = self.stream_frames
        if bench["firstAt"] is not None:
            reply.first_ms = (to_epoch(float(bench["firstAt"])) - sent.times[0]) * 1000
        if bench["clickAt"] is not None:
            click = to_epoch(float(bench["clickAt"]))
            reply.click_to_provider_ms = (sent.times[0] - click) * 1000
            if sockets:
                reply.click_to_socket_ms = (to_epoch(float(sockets[0][0] or 0)) - click) * 1000
                if sockets[0][1] is not None:
                    reply.click_to_open_ms = (to_epoch(float(sockets[0][1])) - click) * 1000
            if frames:
                reply.click_to_frame_ms = (to_epoch(float(frames[0][0])) - click) * 1000
            if bubble_at is not None:
                reply.click_to_bubble_ms = (to_epoch(float(bubble_at)) - click) * 1000
        tokens = len(sent.times)
        if bench["firstAt"] is not None and bench["endAt"] is not None:
            span = (float(bench["endAt"]) - float(bench["firstAt"])) / 1000
            reply.dom_rate = tokens / span if span > 0 else float("nan")
        span = sent.times[-1] - sent.times[0]
        reply.provider_rate = (tokens - 1) / span if span > 0 else float("nan")
        return reply

    async def close(self) -> None:
        await self.browser.close()


async def run_replies(
    probes: Sequence[BrowserProbe],
    provider: PacedProvider,
    tokens: int,
    rate: int,
    tag: str,
    *,
    model: str | None = None,
    open_first: bool = True,
) -> list[Reply]:
    """Every probe opens a new chat (unless ``open_first`` is false: the caller did), then
    all send at once and observe their reply."""
    if open_first:
        await asyncio.gather(*(p.open_chat(model) for p in probes))
    text = reply_text(tokens)
    prompts = [prompt_for(tokens, rate, f"{tag} b{p.index}") for p in probes]
    armed = await asyncio.gather(*(p.send(q) for p, q in zip(probes, prompts, strict=True)))
    timeout = tokens / rate * 10 + 60
    return list(
        await asyncio.gather(
            *(
                p.observe(q, text, off, origin, lambda q=q: provider.record(q), timeout)
                for p, q, (off, origin) in zip(probes, prompts, armed, strict=True)
            )
        )
    )


# ----- main ------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    tokens: int
    rate: int
    replies: list[Reply]
    saved_intact: int
    load: str
    backend_cpu_pct: float = float("nan")  # 100 = one core, over the case's runs
    browsers_cpu_pct: float = float("nan")  # every process this benchmark started but the app

    @property
    def latencies(self) -> list[float]:
        return [x for r in self.replies for x in r.latencies_ms]


def saved_intact(database: Path, text: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM message WHERE role = 'assistant' AND status = 'complete' "
            "AND content = ?",
            (text,),
        ).fetchone()
    return int(row[0])


def report(results: Sequence[CaseResult]) -> str:
    rows: list[list[object]] = []
    for r in results:
        lat = r.latencies
        frame = [x for y in r.replies for x in y.frame_ms]
        replies = r.replies
        ok = sum(1 for x in replies if x.ended and not x.error)
        frames_per_s = [
            x.stream_frames * x.provider_rate / r.tokens
            for x in replies
            if x.stream_frames and x.provider_rate == x.provider_rate
        ]
        rows.append(
            [
                f"{r.tokens}x{r.rate}",
                f"{ok}/{len(replies)}",
                f"{r.saved_intact}/{len(replies)}",
                len(lat),
                percentile(lat, 0.5),
                percentile(lat, 0.95),
                max(lat, default=float("nan")),
                percentile(frame, 0.5),
                percentile(frame, 0.95),
                percentile(lat, 0.5) / GOAL_P50_MS,
                percentile(lat, 0.95) / GOAL_P95_MS,
                percentile([x.first_ms for x in replies], 0.5),
                percentile([x.provider_rate / r.rate for x in replies], 0.5),
                percentile([x.dom_rate / x.provider_rate for x in replies], 0.5),
                percentile(frames_per_s, 0.5),
                max((abs(x.clock_offset_ms) for x in replies), default=float("nan")),
                r.backend_cpu_pct,
                r.browsers_cpu_pct,
                r.load,
            ]
        )
    headers = [
        "tokens x tok/s",
        "ended",
        "saved intact",
        "tokens sampled",
        "p50 ms",
        "p95 ms",
        "max ms",
        "to frame p50 ms",
        "to frame p95 ms",
        "p50 / 50 ms goal",
        "p95 / 120 ms goal",
        "first token ms p50",
        "provider / nominal rate",
        "DOM / provider rate",
        "live frames per s",
        "clock offset max ms",
        "backend CPU %",
        "browsers CPU %",
        "load 1-min",
    ]
    return table(headers, rows)


def first_token_report(results: Sequence[CaseResult]) -> str:
    """Where the first token's time goes, p50 over each case's replies (ms from the click)."""
    rows: list[list[object]] = []
    for r in results:
        replies = r.replies
        rows.append(
            [
                f"{r.tokens}x{r.rate}",
                percentile([x.click_to_provider_ms for x in replies], 0.5),
                percentile([x.click_to_socket_ms for x in replies], 0.5),
                percentile([x.click_to_open_ms for x in replies], 0.5),
                percentile([x.click_to_frame_ms for x in replies], 0.5),
                percentile([x.click_to_bubble_ms for x in replies], 0.5),
                percentile([x.first_ms for x in replies], 0.5),
                percentile([x.first_ms for x in replies], 0.95),
            ]
        )
    headers = [
        "tokens x tok/s",
        "click → provider sends 1st token",
        "click → live socket created",
        "click → live socket open",
        "click → 1st frame",
        "click → reply element",
        "1st token provider → DOM p50",
        "p95",
    ]
    return table(headers, rows)


LEGEND = """\
- p50/p95/max: each marked token's send by the provider to the first DOM change showing it,
  over every browser and run of the case (tokens sampled: markers, about one token in five).
- to frame: the same tokens' send to the arrival of the live-reply frame carrying them, in
  the page (a listener that runs before the page's own); the rest is the page's rendering.
- first token: the reply's first token, sent to in the DOM. It includes opening the live-reply
  websocket, which the page does once the reply exists, so it can exceed the others.
- provider / nominal rate: tokens per second between the first and last send, over the case's
  rate. DOM / provider rate: tokens over the first text to the end marker in the DOM, over
  the provider's rate (about 1 means the page kept pace).
- live frames per s: "d" frames the page received on /_parley/stream, per second of stream.
- clock offset: the page's clock (timeOrigin + now) minus Python's time.time(), measured
  before each send (best of 7 round trips) and subtracted; the largest, in absolute value.
- backend CPU %: the app's process group; browsers CPU %: the Chromium processes this
  benchmark started (with Playwright's driver); CPU seconds per wall second over the case's
  runs (page loads included), 100 = one core of the machine's 2.
- saved intact: complete replies in the database with exactly the scripted text.
"""


async def measure(
    app: ProdApp,
    provider: PacedProvider,
    cases: Sequence[tuple[int, int]],
    browsers: int,
    repeat: int,
) -> list[CaseResult]:
    results: list[CaseResult] = []
    async with async_playwright() as playwright:
        cookies = app.browser_cookies()
        probes = [
            await BrowserProbe.launch(playwright, i, app.url, cookies) for i in range(browsers)
        ]
        try:
            await run_replies(probes, provider, 100, 2000, "warm-up")
            for tokens, rate in cases:
                replies: list[Reply] = []
                load = load_average().split(",")[0]
                wall0, app0 = time.monotonic(), app.usage().cpu_s
                ours0 = descendants_cpu_s(os.getpid())
                for run in range(1, repeat + 1):
                    got = await run_replies(probes, provider, tokens, rate, f"r{run}")
                    replies += got
                    lat = [x for r in got for x in r.latencies_ms]
                    print(
                        f"  {tokens}x{rate} run {run}: p50 {percentile(lat, 0.5):.0f} ms, "
                        f"p95 {percentile(lat, 0.95):.0f} ms"
                        + "".join(f"; {r.error}" for r in got if r.error),
                        flush=True,
                    )
                wall = time.monotonic() - wall0
                backend = app.usage().cpu_s - app0
                others = descendants_cpu_s(os.getpid()) - ours0 - backend
                intact = await asyncio.to_thread(saved_intact, app.database, reply_text(tokens))
                cpu = (100 * backend / wall, 100 * others / wall)
                results.append(CaseResult(tokens, rate, replies, intact, load, *cpu))
            errors = [e for p in probes for e in p.errors]
            if errors:
                print("page errors:\n  " + "\n  ".join(errors[:10]))
        finally:
            await asyncio.gather(*(p.close() for p in probes), return_exceptions=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Token-to-DOM latency in real browsers.")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help="e.g. 300x50,1000x200")
    parser.add_argument("--browsers", type=int, default=3, help="Chromium processes (1-8)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per case (1-10)")
    parser.add_argument("--ref", help="measure this commit instead of the working tree")
    parser.add_argument(
        "--app-env", action="append", default=[], metavar="NAME=VALUE", help="extra app env"
    )
    args = parser.parse_args(argv)
    cases = [tuple(int(x) for x in c.lower().split("x")) for c in args.cases.split(",")]
    if not all(len(c) == 2 and 1 <= c[0] <= 100_000 and 1 <= c[1] <= 20_000 for c in cases):
        parser.error("cases are <tokens>x<rate>, e.g. 300x50")
    browsers = max(1, min(int(args.browsers), 8))
    repeat = max(1, min(int(args.repeat), 10))
    extra = dict(item.split("=", 1) for item in args.app_env)
    print(header("Parley: token-to-DOM latency in real browsers (bench/latency.py)", ref=args.ref))
    print(
        f"cases: {args.cases}; {browsers} browsers streaming at once, {repeat} runs each; "
        f"goal p50 <= {GOAL_P50_MS:g} ms, p95 <= {GOAL_P95_MS:g} ms",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="parley-bench-lat-") as tmp,
        PacedProvider(script, title="Latency bench") as provider,
    ):
        root = snapshot(Path(tmp) / "app", with_web=True, ref=args.ref)
        env = {**provider_env(provider, default=True), **extra}
        with ProdApp(root, rules=None, env=env, workdir=Path(tmp)) as app:
            assert_loopback(app.url)
            print(f"app up in {app.times.page_s:.1f} s at {app.url}", flush=True)
            results = asyncio.run(
                measure(app, provider, [(c[0], c[1]) for c in cases], browsers, repeat)
            )
        if provider.errors:
            print("provider errors: " + "; ".join(provider.errors[:5]))
    print()
    print(report(results))
    print()
    print("First token, p50 ms from the click on Send (when the live socket opens):")
    print(first_token_report(results))
    print()
    print(LEGEND)
    print(f"load average after: {load_average()}")
    return 0 if all(r.saved_intact == len(r.replies) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
