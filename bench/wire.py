"""Wire, CPU and DOM cost of one streamed reply, measured in a real browser.

    .venv/bin/python -m bench.wire            # the quick subset (about 2 minutes)
    .venv/bin/python -m bench.wire --full     # all 9 cases (about 12 minutes)
    .venv/bin/python -m bench.wire --cases 2000x200,20000x2000 --repeat 3

Starts Parley's production build once (bench/_app.py) with the scripted provider playing
fixed-rate streams (4-character chunks, so one chunk is about one token), then for each
case sends a message in headless Chromium and measures, channel-agnostically:

- the wire: every websocket frame the page receives, whichever socket carries it;
- the DOM: a MutationObserver on the last ``.message[data-role='assistant']`` in
  ``role="log"``, recording (time, how far the reply has arrived);
- the backend: CPU time of the app's whole process group from /proc, before and after.

The reply text carries position markers (``q<offset>``), so how far it has arrived can be
read from the DOM whatever markdown does to the text around them. The database row of the
reply gives when the backend started and finished it (``created_at``, ``updated_at``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, WebSocket, sync_playwright

from bench._app import (
    CHROMIUM_ARGS,
    ProdApp,
    assert_loopback,
    chromium_path,
    snapshot,
)
from bench._common import ROOT, header, table

TOKEN_CHARS = 4
LENGTHS = (500, 2000, 20_000)
RATES = (50, 200, 2000)
ALL_CASES = tuple(f"{n}x{r}" for n in LENGTHS for r in RATES)
QUICK_CASES = ("500x50", "500x200", "500x2000", "2000x200", "2000x2000", "20000x2000")
END_MARK = "qend"
MAX_CASE_SECONDS = 900.0  # no single reply may take longer than this, whatever the case
SETTLE_QUIET_S = 0.6  # after the reply is complete, wait this long without a frame
SETTLE_MAX_S = 15.0

_PROSE = (
    "the stream of tokens reaches a browser where each new word extends one growing reply "
    "and the renderer should touch only what changed since its last frame while earlier "
    "paragraphs stay exactly as they were drawn before"
)
_VOCAB = tuple(_PROSE.split())


def reply_text(tokens: int) -> str:
    """Markdown of exactly ``tokens * 4`` characters: paragraphs and fenced code, with a
    marker ``q<offset>`` every few words (its own position in the text) and ``qend`` last."""
    size = tokens * TOKEN_CHARS
    tail = " " + END_MARK
    budget = size - len(tail)
    out: list[str] = []
    length = 0
    block = 0
    word = 0
    while True:
        if block % 6 == 5:
            lines = ["```python"]
            for i in range(4):
                prefix = f"value_{i} = compute("
                pos = length + sum(len(x) + 1 for x in lines) + len(prefix)
                lines.append(f"{prefix}q{pos}, {i})")
            piece = "\n".join([*lines, "```"]) + "\n\n"
        else:
            words: list[str] = []
            pos = length
            for i in range(48):
                text = f"q{pos}" if i % 4 == 0 else _VOCAB[word % len(_VOCAB)]
                word += 1
                words.append(text)
                pos += len(text) + 1
            piece = " ".join(words) + ".\n\n"
        if length + len(piece) > budget - 80:
            break
        out.append(piece)
        length += len(piece)
        block += 1
    filler: list[str] = []
    pos = length
    while pos < budget:
        text = f"q{pos}" if len(filler) % 4 == 0 else _VOCAB[word % len(_VOCAB)]
        word += 1
        filler.append(text)
        pos += len(text) + 1
    last = " ".join(filler)[: budget - length].rstrip()
    last = last + "x" * (budget - length - len(last))
    text = "".join(out) + last + tail
    assert len(text) == size, (len(text), size)
    return text


MAX_CHUNKS_PER_S = 250  # asyncio sleeps under ~4 ms overshoot badly; pack tokens above this


FIRST = "first"  # the first reply of a new chat: page load, new conversation, title
NEXT = "next"  # a later reply inside an existing conversation: the reply alone
MODES = (FIRST, NEXT)


@dataclass(frozen=True, slots=True)
class Case:
    tokens: int
    rate: int  # tokens per second the provider sends
    per_chunk: int = 1  # tokens per scripted chunk; 0 picks by MAX_CHUNKS_PER_S
    mode: str = NEXT

    @classmethod
    def parse(cls, spec: str, per_chunk: int = 0) -> Case:
        tokens, rate = (int(x) for x in spec.lower().split("x"))
        if not (1 <= tokens <= 200_000 and 1 <= rate <= 100_000):
            raise ValueError(f"case {spec!r} is out of range")
        return cls(tokens, rate, per_chunk or max(1, math.ceil(rate / MAX_CHUNKS_PER_S)))

    @property
    def name(self) -> str:
        return f"{self.tokens}x{self.rate}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.mode}"

    @property
    def delay_ms(self) -> float:
        """Between two chunks."""
        return 1000.0 * self.per_chunk / self.rate

    @property
    def chunks(self) -> int:
        return math.ceil(self.tokens / self.per_chunk)

    @property
    def nominal_s(self) -> float:
        """How long the scripted stream takes if every sleep is exact."""
        return (self.chunks - 1) * self.delay_ms / 1000

    def rule(self) -> dict[str, Any]:
        return {
            "match": f"^bench {self.name} ",
            "reply": reply_text(self.tokens),
            "chunk_chars": TOKEN_CHARS * self.per_chunk,
            "delay_ms": self.delay_ms,
        }


WARMUP = Case(200, 2000, 8, FIRST)

# Opens the conversation that a "next" case's reply goes into (its first reply and title).
PRIMER_RULE: dict[str, Any] = {
    "match": r"^bench primer ",
    "reply": "Ready for the next message. " * 20,  # 560 characters
    "chunk_chars": 8,
    "delay_ms": 5,
}

# Titles: after a new chat's first reply the app asks the same model for a title
# (app/services/titles.py). Unmatched, the scripted provider would echo the whole prompt at
# 50 chunks/s for seconds, into the next case's window; this answers at once instead.
TITLE_RULE: dict[str, Any] = {
    "match": r"Title for this conversation:\s*$",
    "reply": "Bench reply",
    "chunk_chars": 64,
    "delay_ms": 0,
}


# Runs in the page. Records, at each DOM change, how far the reply has arrived: the
# largest q<offset> marker in the last assistant message (plus its length), and whether
# the end marker is there. Also the click on Send and the main thread's long tasks.
OBSERVER_JS = (
    """
() => {
  const b = window.__bench = {obs: [], updates: 0, longtaskMs: 0, clickAt: null,
                              firstAt: null, endAt: null, last: -1,
                              timeOrigin: performance.timeOrigin};
  const END = '__END__';
  const re = /q(\\d+)/g;
  const sample = () => {
    const log = document.querySelector('[role=log]');
    if (!log) return;
    const all = log.querySelectorAll(".message[data-role='assistant']");
    const el = all[all.length - 1];
    if (!el) return;
    const text = el.textContent || '';
    const tail = text.slice(-400);
    let best = -1, m;
    re.lastIndex = 0;
    while ((m = re.exec(tail)) !== null) {
      const v = parseInt(m[1], 10) + m[0].length;
      if (v > best) best = v;
    }
    const done = text.includes(END);
    const now = performance.now();
    b.updates += 1;
    if (best > b.last || (done && b.endAt === null)) {
      if (best > b.last) b.last = best;
      if (b.firstAt === null && best >= 0) b.firstAt = now;
      b.obs.push([now, b.last, done ? 1 : 0]);
      if (done && b.endAt === null) b.endAt = now;
    }
  };
  new MutationObserver(sample).observe(document.body,
      {subtree: true, childList: true, characterData: true});
  document.addEventListener('click', (e) => {
    const t = e.target;
    if (b.clickAt === null && t instanceof Element && t.closest('button[type=submit]'))
      b.clickAt = performance.now();
  }, true);
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) b.longtaskMs += entry.duration;
    }).observe({type: 'longtask', buffered: false});
  } catch (e) {}
}
"""
).replace("__END__", END_MARK)


def event_var_bytes(payload: str) -> dict[str, int]:
    """Bytes of a socket.io frame from Reflex's ``/_event``, split by the state var they
    carry (the JSON of its value, plus its key); the frame's framing and anything else
    (events, flags) under "(other)". Frames that are not a state update count as "(other)"."""
    total = len(payload.encode())
    out: dict[str, int] = {}
    start = payload.find("[")
    try:
        message = json.loads(payload[start:]) if payload.startswith("42") and start > 0 else None
    except ValueError:
        message = None
    update = message[1] if isinstance(message, list) and len(message) > 1 else None
    delta = update.get("delta") if isinstance(update, dict) else None
    if isinstance(delta, dict):
        for substate in delta.values():
            if not isinstance(substate, dict):
                continue
            for var, value in substate.items():
                name = var.removesuffix("_rx_state_")
                size = len(json.dumps(value, ensure_ascii=False).encode()) + len(var) + 4
                out[name] = out.get(name, 0) + size
    out["(other)"] = total - sum(out.values())
    return out


def socket_path(url: str) -> str:
    """A websocket's path without its id or key: "/_event", "/_parley/stream"."""
    path = urlsplit(url).path
    if path.startswith("/_parley/stream/"):
        return "/_parley/stream"
    return path.rstrip("/0123456789") or "/"


@dataclass
class Wire:
    """Counts every websocket frame of the page, on whichever socket."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    largest_in: int = 0
    last_frame_at: float = 0.0
    sockets: list[str] = field(default_factory=list)
    by_path: dict[str, int] = field(default_factory=dict)  # bytes received per socket path
    by_var: dict[str, int] = field(default_factory=dict)  # /_event bytes per state var

    def attach(self, ws: WebSocket) -> None:
        self.sockets.append(ws.url)
        assert_loopback(ws.url.replace("ws://", "http://").replace("wss://", "https://"))
        path = socket_path(ws.url)
        ws.on("framereceived", lambda payload: self._received(path, payload))
        ws.on("framesent", self._sent)

    def _received(self, path: str, payload: str | bytes) -> None:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        self.by_path[path] = self.by_path.get(path, 0) + size
        if path == "/_event" and isinstance(payload, str):
            for var, count in event_var_bytes(payload).items():
                self.by_var[var] = self.by_var.get(var, 0) + count
        self.frames_in += 1
        self.bytes_in += size
        self.largest_in = max(self.largest_in, size)
        self.last_frame_at = time.monotonic()

    def _sent(self, payload: str | bytes) -> None:
        self.frames_out += 1
        self.bytes_out += len(payload.encode() if isinstance(payload, str) else payload)

    def snapshot(self) -> tuple[int, int, int, int]:
        return (self.frames_in, self.bytes_in, self.frames_out, self.bytes_out)


@dataclass
class Result:
    case: Case
    run: int
    complete: bool
    bytes_in: int
    frames_in: int
    largest_in: int
    bytes_out: int
    by_path: dict[str, int]
    by_var: dict[str, int]
    cpu_s: float
    dom_updates: int
    dom_steps: int
    longtask_ms: float
    first_ms: float  # click to the first text in the DOM
    dom_rate: float  # tokens per second between the first text and the end in the DOM
    provider_rate: float  # tokens per second, backend start to save (the database row)
    lag_schedule_ms: float  # end in the DOM minus start + the nominal stream duration
    lag_saved_ms: float  # end in the DOM minus the backend's save

    @property
    def reply_bytes(self) -> int:
        return self.case.tokens * TOKEN_CHARS


def clock_offset_ms(page: Page, samples: int = 7) -> float:
    """Browser epoch ms (timeOrigin + now) minus Python's time.time() in ms."""
    best_rtt, offset = math.inf, 0.0
    for _ in range(samples):
        t0 = time.time()
        browser_ms = float(page.evaluate("performance.timeOrigin + performance.now()"))
        t1 = time.time()
        if t1 - t0 < best_rtt:
            best_rtt = t1 - t0
            offset = browser_ms - (t0 + t1) / 2 * 1000
    return offset


def reply_row(database: Path) -> tuple[str, str, dt.datetime, dt.datetime]:
    """status, content, created_at, updated_at of the newest assistant message."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute(
            "SELECT status, content, created_at, updated_at FROM message "
            "WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise RuntimeError("no reply in the database")
    return str(row[0]), str(row[1]), _utc(str(row[2])), _utc(str(row[3]))


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def open_new_chat(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_role("textbox", name="Message").wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('textarea[aria-label=Message]')?.disabled",
        timeout=60_000,
    )


def settle(page: Page, wire: Wire) -> None:
    """Until no websocket frame has arrived for SETTLE_QUIET_S (at most SETTLE_MAX_S)."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        if time.monotonic() - wire.last_frame_at >= SETTLE_QUIET_S:
            break


def open_conversation(page: Page, wire: Wire, url: str, run: int, exchanges: int = 1) -> None:
    """A new chat with ``exchanges`` short exchanges, its title generated: where a "next"
    reply goes."""
    open_new_chat(page, url)
    for i in range(exchanges):
        page.get_by_role("textbox", name="Message").fill(f"bench primer {run}.{i}")
        page.get_by_role("button", name="Send").click()
        if i == 0:
            page.get_by_role("heading", name=TITLE_RULE["reply"]).wait_for(timeout=60_000)
        page.get_by_role("button", name="Send").wait_for(state="visible", timeout=60_000)
        page.wait_for_function(
            "() => !document.querySelector('textarea[aria-label=Message]')?.disabled",
            timeout=60_000,
        )
    settle(page, wire)


def run_case(
    app: ProdApp,
    page: Page,
    wire: Wire,
    case: Case,
    run: int,
    history: int = 1,
    reopen: bool = False,
) -> Result:
    if case.mode == FIRST:
        open_new_chat(page, app.url)
        page.wait_for_timeout(300)  # let the connection's first updates pass
    else:
        open_conversation(page, wire, app.url, run, history)
        if reopen:  # the conversation opened afresh: its history loaded, not sent in this tab
            page.reload()
            page.get_by_role("textbox", name="Message").wait_for(state="visible", timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('textarea[aria-label=Message]')?.disabled",
                timeout=60_000,
            )
            settle(page, wire)
    offset = clock_offset_ms(page)
    page.evaluate(OBSERVER_JS)
    page.get_by_role("textbox", name="Message").fill(f"bench {case.name} run {run}")
    frames0, bytes0, _, out0 = wire.snapshot()
    paths0 = dict(wire.by_path)
    vars0 = dict(wire.by_var)
    largest0 = wire.largest_in
    wire.largest_in = 0
    cpu0 = app.usage().cpu_s
    page.get_by_role("button", name="Send").click()
    timeout_ms = min(case.nominal_s * 4 + 60, MAX_CASE_SECONDS) * 1000
    page.wait_for_function("() => window.__bench.endAt !== null", timeout=timeout_ms, polling=200)
    page.get_by_role("button", name="Send").wait_for(state="visible", timeout=60_000)
    settle(page, wire)
    cpu1 = app.usage().cpu_s
    frames1, bytes1, _, out1 = wire.snapshot()
    largest = wire.largest_in
    wire.largest_in = max(largest0, largest)
    bench: dict[str, Any] = page.evaluate("window.__bench")
    status, content, created, updated = reply_row(app.database)
    return summarise(
        case,
        run,
        bench,
        offset,
        complete=status == "complete" and content == reply_text(case.tokens),
        bytes_in=bytes1 - bytes0,
        frames_in=frames1 - frames0,
        largest_in=largest,
        bytes_out=out1 - out0,
        by_path={k: v - paths0.get(k, 0) for k, v in wire.by_path.items() if v > paths0.get(k, 0)},
        by_var={k: v - vars0.get(k, 0) for k, v in wire.by_var.items() if v > vars0.get(k, 0)},
        cpu_s=cpu1 - cpu0,
        created=created,
        updated=updated,
    )


def summarise(
    case: Case,
    run: int,
    bench: dict[str, Any],
    offset_ms: float,
    *,
    complete: bool,
    bytes_in: int,
    frames_in: int,
    largest_in: int,
    bytes_out: int,
    by_path: dict[str, int],
    by_var: dict[str, int],
    cpu_s: float,
    created: dt.datetime,
    updated: dt.datetime,
) -> Result:
    obs: list[list[float]] = bench["obs"]
    nan = float("nan")
    origin_ms = float(bench["timeOrigin"])

    def epoch(now_ms: float) -> float:
        """The page's performance.now() as Python epoch seconds."""
        return (origin_ms + now_ms - offset_ms) / 1000

    first_at, end_at, click_at = bench["firstAt"], bench["endAt"], bench["clickAt"]
    start_s, saved_s = created.timestamp(), updated.timestamp()
    backend_s = saved_s - start_s
    provider_rate = case.tokens / backend_s if backend_s > 0 else nan
    dom_rate = nan
    if first_at is not None and end_at is not None and end_at > first_at:
        dom_rate = case.tokens / ((end_at - first_at) / 1000)
    first_ms = first_at - click_at if first_at is not None and click_at is not None else nan
    lag_schedule = lag_saved = nan
    if end_at is not None:
        end_s = epoch(end_at)
        lag_schedule = (end_s - (start_s + case.nominal_s)) * 1000
        lag_saved = (end_s - saved_s) * 1000
    return Result(
        case=case,
        run=run,
        complete=complete,
        bytes_in=bytes_in,
        frames_in=frames_in,
        largest_in=largest_in,
        bytes_out=bytes_out,
        by_path=by_path,
        by_var=by_var,
        cpu_s=cpu_s,
        dom_updates=int(bench["updates"]),
        dom_steps=len(obs),
        longtask_ms=float(bench["longtaskMs"]),
        first_ms=first_ms,
        dom_rate=dom_rate,
        provider_rate=provider_rate,
        lag_schedule_ms=lag_schedule,
        lag_saved_ms=lag_saved,
    )


def report(results: Sequence[Result]) -> str:
    rows: list[list[object]] = []
    for r in results:
        rows.append(
            [
                r.case.label + (f" #{r.run}" if r.run > 1 else ""),
                "yes" if r.complete else "NO",
                r.bytes_in / r.reply_bytes,
                r.frames_in,
                r.cpu_s * 1000 / (r.case.tokens / 1000),
                r.dom_rate,
                r.dom_rate / r.case.rate,
                r.dom_rate / r.provider_rate,
                r.provider_rate / r.case.rate,
                r.first_ms,
                r.lag_schedule_ms,
                r.lag_saved_ms,
                r.dom_steps,
                r.longtask_ms / (r.case.tokens / 1000),
            ]
        )
    headers = [
        "tokens x tok/s, reply",
        "intact",
        "wire B per reply B",
        "frames in",
        "CPU ms per 1k tok",
        "DOM tok/s",
        "DOM / nominal rate",
        "DOM / actual rate",
        "actual / nominal rate",
        "first text ms",
        "end lag vs schedule ms",
        "end lag vs save ms",
        "DOM steps",
        "long-task ms per 1k tok",
    ]
    paths = sorted({p for r in results for p in r.by_path})
    split = table(
        ["tokens x tok/s, reply", *(f"{p} B per reply B" for p in paths), "sent B per reply B"],
        [
            [
                r.case.label + (f" #{r.run}" if r.run > 1 else ""),
                *(r.by_path.get(p, 0) / r.reply_bytes for p in paths),
                r.bytes_out / r.reply_bytes,
            ]
            for r in results
        ],
    )
    top: list[str] = []
    for r in results:
        ranked = sorted(r.by_var.items(), key=lambda kv: -kv[1])[:6]
        parts = ", ".join(f"{k} {v / r.reply_bytes:.2f}" for k, v in ranked)
        top.append(f"- {r.case.label}{f' #{r.run}' if r.run > 1 else ''}: {parts}")
    return (
        table(headers, rows)
        + "\n\nBytes received by websocket path:\n\n"
        + split
        + "\n\n/_event bytes per reply B, by state var (largest first):\n\n"
        + "\n".join(top)
    )


LEGEND = """\
- reply: "first" is a new chat's first reply (the page load, the new conversation, its
  sidebar entry and generated title travel in the same window); "next" is a later reply in
  a conversation that already has --history exchanges (560-character replies) and its title.
- wire B per reply B: websocket payload bytes the page received from the click until the
  reply settled, all sockets, divided by the reply's own size (tokens x 4 bytes).
- CPU ms per 1k tok: CPU time (user+system, every process of the app's group) per 1000
  tokens, same window. It includes the app's idle cost (see the idle rate above).
- DOM tok/s: reply tokens over the time from the first text to the end marker in the DOM;
  DOM / nominal rate divides it by the scripted rate, DOM / actual rate by the rate the
  backend really streamed at: tokens over its start-to-save span (database created_at ->
  updated_at). actual / nominal is below 1 when the scripted provider's sleeps overshoot.
- end lag vs schedule: the end marker's first appearance in the DOM minus (reply created +
  (tokens - 1) x the nominal interval). vs save: minus the backend's updated_at.
- first text ms: the click on Send to the reply's first text in the DOM.
- DOM steps: DOM changes that advanced the reply.
- long-task ms per 1k tok: main-thread tasks over 50 ms in the page (PerformanceObserver).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wire, CPU and DOM cost of one streamed reply.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK_CASES)} (default)")
    group.add_argument("--full", action="store_true", help="all 9 cases (20000x50 takes 400 s)")
    group.add_argument("--cases", help="comma-separated, e.g. 500x50,20000x2000")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (1-10)")
    parser.add_argument(
        "--history",
        type=int,
        default=1,
        help="exchanges already in the conversation before a 'next' reply (1-50; each "
        "primer reply is 560 characters)",
    )
    parser.add_argument(
        "--reopen",
        action="store_true",
        help="reload the page after the --history exchanges: the 'next' reply goes into a "
        "conversation opened afresh (its history loaded) instead of one typed in this tab",
    )
    parser.add_argument(
        "--saved",
        type=int,
        default=0,
        help="save this many conversations first (a primer exchange each), for the sidebar",
    )
    parser.add_argument(
        "--mode",
        choices=[*MODES, "both"],
        help="first: a new chat's first reply; next: a later reply in a conversation; "
        "default: next for every case, and first too for 500-token cases",
    )
    parser.add_argument(
        "--tokens-per-chunk",
        type=int,
        default=0,
        help=f"tokens per scripted chunk; default 1, packed above {MAX_CHUNKS_PER_S} chunks/s",
    )
    parser.add_argument(
        "--ref",
        help="measure this commit (git archive) instead of the working tree, e.g. HEAD~3",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="run the app in the repository itself, not a snapshot copy",
    )
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app, e.g. PARLEY_LIVE_FRAME_MS=20",
    )
    args = parser.parse_args(argv)
    if args.full:
        specs: Sequence[str] = ALL_CASES
    elif args.cases:
        specs = args.cases.split(",")
    else:
        specs = QUICK_CASES
    parsed = [Case.parse(c, max(0, int(args.tokens_per_chunk))) for c in specs]
    cases: list[Case] = []
    for c in parsed:
        modes = MODES if args.mode == "both" else (args.mode,) if args.mode else None
        if modes is None:
            modes = (FIRST, NEXT) if c.tokens <= 500 else (NEXT,)
        cases += [dataclasses.replace(c, mode=m) for m in modes]
    repeat = max(1, min(int(args.repeat), 10))
    extra = dict(item.split("=", 1) for item in args.app_env)

    print(header("Parley: wire, CPU and DOM cost per streamed reply (bench/wire.py)"))
    print(f"cases: {', '.join(c.label for c in cases)} x {repeat} run(s); tokens of 4 chars")
    print(
        f"a 'next' reply follows {args.history} exchange(s) in its conversation"
        + (", then a reload" if args.reopen else "")
        + (f"; {args.saved} conversations saved first" if args.saved else "")
    )
    print(
        "chunks: " + ", ".join(f"{c.name}: {c.per_chunk} tok per {c.delay_ms:g} ms" for c in cases)
    )
    if args.ref:
        args.ref = resolve(args.ref)
    print(f"measured: {'commit ' + args.ref if args.ref else 'the working tree'}")
    if extra:
        print(f"app environment: {extra}")
    sys.stdout.flush()
    rules = [
        TITLE_RULE,
        PRIMER_RULE,
        *(c.rule() for c in {c.name: c for c in [WARMUP, *cases]}.values()),
    ]
    with tempfile.TemporaryDirectory(prefix="parley-bench-wire-") as tmp:
        root = ROOT if args.in_place else snapshot(Path(tmp) / "app", with_web=True, ref=args.ref)
        with ProdApp(root, rules=rules, env=extra, workdir=Path(tmp)) as app:
            assert_loopback(app.url)
            print(f"app up in {app.times.page_s:.1f} s at {app.url} (root: {root})")
            results = drive(
                app,
                cases,
                repeat,
                max(1, min(int(args.history), 50)),
                reopen=args.reopen,
                saved=max(0, min(int(args.saved), 200)),
            )
    print()
    print(report(results))
    print()
    print(LEGEND)
    return 0 if all(r.complete for r in results) else 1


def resolve(ref: str) -> str:
    """A commit's short hash, so the output says exactly what was measured."""
    return subprocess.run(
        ["git", "rev-parse", "--short", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def drive(
    app: ProdApp,
    cases: Sequence[Case],
    repeat: int,
    history: int = 1,
    *,
    reopen: bool = False,
    saved: int = 0,
) -> list[Result]:
    idle0 = app.usage()
    time.sleep(3)
    idle1 = app.usage()
    idle_ms_per_s = (idle1.cpu_s - idle0.cpu_s) * 1000 / 3
    print(
        f"app processes: {idle1.processes}, RSS {idle1.rss_bytes / 2**20:.0f} MiB, "
        f"idle CPU {idle_ms_per_s:.1f} ms/s"
    )
    results: list[Result] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies(app.browser_cookies())
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.on(
            "console",
            lambda msg: (
                errors.append(f"console.error: {msg.text}") if msg.type == "error" else None
            ),
        )
        wire = Wire()
        page.on("websocket", wire.attach)
        compression = websocket_compression(page, app.url)
        print(f"websocket permessage-deflate: {compression}")
        run_case(app, page, wire, WARMUP, 1)  # compiles, caches, warms the connection
        for i in range(saved):
            open_conversation(page, wire, app.url, 1000 + i)
        for case in cases:
            for run in range(1, repeat + 1):
                result = run_case(app, page, wire, case, run, history, reopen)
                results.append(result)
                print(
                    f"  {case.label} #{run}: {result.bytes_in / result.reply_bytes:.2f} wire B "
                    f"per reply B, DOM {result.dom_rate:.0f} tok/s, "
                    f"end lag {result.lag_schedule_ms:.0f} ms",
                    flush=True,
                )
        usage = app.usage()
        print(f"app RSS after the runs: {usage.rss_bytes / 2**20:.0f} MiB")
        paths = sorted({socket_path(u) for u in wire.sockets})
        print(f"websockets opened: {len(wire.sockets)}, paths: {', '.join(paths)}")
        if errors:
            print("page errors:\n  " + "\n  ".join(errors[:10]))
        context.close()
        browser.close()
    return results


def websocket_compression(page: Page, url: str) -> str:
    """Whether the page's websockets negotiated compression (payload sizes are after it)."""
    session = page.context.new_cdp_session(page)
    seen: list[str] = []

    def handshake(event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event.get("response", {}).get("headers", {}).items()}
        seen.append(headers.get("sec-websocket-extensions", "") or "none")

    session.on("Network.webSocketHandshakeResponseReceived", handshake)
    session.send("Network.enable")
    open_new_chat(page, url)
    page.wait_for_timeout(500)
    session.detach()
    return ", ".join(sorted(set(seen))) or "no websocket seen"


if __name__ == "__main__":
    sys.exit(main())
