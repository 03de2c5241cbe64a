"""Concurrency sweep: many sessions streaming at once, each a client of Reflex's own protocol.

    .venv/bin/python -m bench.concurrency                 # quick: 10, 50 and 200 sessions
    .venv/bin/python -m bench.concurrency --full          # 10, 50, 200 and 400
    .venv/bin/python -m bench.concurrency --sessions 10,400 --tokens 300
    .venv/bin/python -m bench.concurrency --ref HEAD     # a commit, not the working tree

Starts Parley's production build once, on 127.0.0.1, with the scripted provider as the
default model (``PARLEY_FAKE_SCRIPT``): every bench message is answered with ``--tokens``
4-character tokens, one every 20 ms (50 tokens/s). Then, for each N, N asyncio clients do
what a browser tab does, over the same sockets:

1. socket.io to ``/_event`` (websocket transport, ``?token=<uuid>``), with the hydrate event
   ``reflex___state____state.hydrate_and_load`` in the CONNECT packet's ``auth`` and
   ``router_data`` for ``/``, as ``.web/utils/state.js`` does; the backend queues the page's
   ``on_load`` (``ChatState.load_page``) and flips ``is_hydrated`` when it is done;
2. idle: the backend's RSS with N sessions loaded, against before they connected;
3. ``ComposerState.send`` with the form's text; ``live_id`` comes back in a delta; the
   ``_redirect`` to ``/c/<id>`` is followed like the router does (``on_load_internal``);
4. the live-reply websocket ``/_parley/stream/<key>?from=0``, opened as the message is sent
   with the key the state gave ahead (``next_key``), as the page does: every ``d`` frame is
   timestamped, until the ``e`` frame; then the state update that ends the reply (the
   finished message comes without its text, which the session has from the channel).

Token delay is measured against the ideal schedule: token k (counted as characters / 4)
should arrive at first-chunk arrival + k x 20 ms; its lateness is its frame's arrival minus
that. The provider runs inside the server, so this includes the scripted provider's own
timer overshoot and any time the server's event loop falls behind. ``actual/nominal`` (from
the reply's database row, ``created_at`` to ``updated_at``) shows how much of that is the
server emitting late. A reply is intact when the text received equals the saved reply and
the scripted one. Backend CPU and RSS are read from /proc for the app's process group.

With ``--browsers N`` (default 2), N headless Chromium browsers stream alongside the
sessions, for the token-to-DOM delay a person would see: each picks the Anthropic model,
whose provider talks to a loopback stand-in (bench/_provider.py) that streams ``--tokens``
tokens at 50 tok/s on an exact schedule and records each token's send time; the page's
MutationObserver records when each marked token is in the DOM (as bench/latency.py).

Only 127.0.0.1 is targeted. Every wait has a deadline; the app is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench._app import HOST, ProdApp, assert_loopback, snapshot, thread_cpu
from bench._common import ROOT, header, load_average, table
from bench._provider import PacedProvider
from bench.latency import MODEL, BrowserProbe, Reply, provider_env, run_replies, script
from bench.profile_report import profile_snapshot, since, summarise

TOKEN_CHARS = 4
RATE = 50.0  # tokens per second, per session
INTERVAL = 1.0 / RATE
QUICK = (10, 50, 200)
FULL = (10, 50, 200, 400)
CONNECT_PARALLEL = 25  # sessions connecting at once (a page load storm, but bounded)

# Names verified against reflex 0.10.1 (reflex/state.py, reflex/app.py EventNamespace) and
# the compiled frontend (.web/utils/state.js, context.jsx).
NAMESPACE = "/_event"
ROOT_STATE = "reflex___state____state"
ON_LOAD_STATE = f"{ROOT_STATE}.reflex___state____on_load_internal_state"
HYDRATE = f"{ROOT_STATE}.hydrate_and_load"
ON_LOAD = f"{ON_LOAD_STATE}.on_load_internal"
IS_HYDRATED = "is_hydrated_rx_state_"
LIVE_ID = "live_id_rx_state_"
LIVE_KEY = "live_key_rx_state_"
NEXT_KEY = "next_key_rx_state_"  # the stream key of this session's next reply
MESSAGES = "messages_rx_state_"
RECENT = "recent_rx_state_"  # messages this tab added since it loaded the conversation
MODELS = "models_rx_state_"
NOTICE = "notice_rx_state_"
TITLE = "current_title_rx_state_"
TITLE_WAIT_S = 30.0
PROFILE_DUMP_S = 2.5  # bench/_sampler writes its counts every 2 s

TITLE_RULE: dict[str, Any] = {
    "match": r"Title for this conversation:\s*$",
    "reply": "Concurrency bench",
    "chunk_chars": 64,
    "delay_ms": 0,
}
WARMUP_RULE: dict[str, Any] = {"match": r"^warmup\b", "reply": "ok " * 8, "delay_ms": 5}


COMPOSER = "state___composer____composer_state"  # ComposerState, a substate of ChatState


def chat_state_name() -> str:
    """ChatState's full name, from the app's own class (as the compiled frontend has it)."""
    sys.path.insert(0, str(ROOT))
    from state.chat import ChatState

    return ChatState.get_full_name()


def reply_text(tokens: int) -> str:
    """``tokens`` 4-character tokens, each naming its own position: "0000", "0001", ..."""
    return "".join(f"{k % 10_000:04d}" for k in range(tokens))


# ----- arithmetic -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def token_lateness(
    frames: Sequence[tuple[float, int]],
    *,
    token_chars: int = TOKEN_CHARS,
    interval: float = INTERVAL,
) -> list[float]:
    """Seconds each token arrived after its ideal time (first frame + k x ``interval``).

    ``frames`` are (arrival time, characters in the frame), in arrival order. A token
    arrives with the frame that completes it; a trailing partial token with the last frame.
    """
    if not frames:
        return []
    start = frames[0][0]
    out: list[float] = []
    received = 0
    done = 0
    for arrival, chars in frames:
        received += chars
        complete = received // token_chars
        out.extend(arrival - (start + k * interval) for k in range(done, complete))
        done = complete
    if received % token_chars:
        out.append(frames[-1][0] - (start + done * interval))
    return out


# ----- the app under test (bench/_app.py's ProdApp) -----------------------------------------


def http_url(app: ProdApp) -> str:
    """The app on 127.0.0.1 (not ``localhost``, which may try ::1 first)."""
    return f"http://{HOST}:{app.port}"


def ws_url(app: ProdApp) -> str:
    return f"ws://{HOST}:{app.port}"


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def log_lines(app: ProdApp) -> tuple[int, int]:
    """Lines in the app's log that report (an error or a traceback, a warning)."""
    try:
        lines = app.log.read_text(errors="replace").splitlines()
    except OSError:
        return 0, 0
    errors = sum(1 for ln in lines if "Traceback" in ln or "ERROR" in ln)
    return errors, sum(1 for ln in lines if "WARNING" in ln or "Warning" in ln)


def saved_replies(database: Path, ids: Sequence[int]) -> dict[int, tuple[str, str, float]]:
    """id -> (content, status, seconds from created_at to updated_at), read-only."""
    if not ids:
        return {}
    out: dict[int, tuple[str, str, float]] = {}
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            query = (
                f"SELECT id, content, status, created_at, updated_at FROM message "
                f"WHERE id IN ({marks})"
            )
            for row in conn.execute(query, part):
                created = dt.datetime.fromisoformat(str(row[3]))
                updated = dt.datetime.fromisoformat(str(row[4]))
                out[int(row[0])] = (
                    str(row[1]),
                    str(row[2]),
                    (updated - created).total_seconds(),
                )
    finally:
        conn.close()
    return out


# ----- one session: a browser tab, minus the browser ------------------------------------------


@dataclass
class Outcome:
    """What one session saw of its reply."""

    live_id: int = -1
    sent_at: float = float("nan")  # perf_counter
    frames: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, chars)
    text: str = ""
    end: dict[str, Any] | None = None
    final_content: str | None = None  # the finished message, from the state update
    titled: bool = False
    error: str = ""


class Session:
    def __init__(
        self,
        index: int,
        app: ProdApp,
        chat_state: str,
        http: aiohttp.ClientSession,
    ) -> None:
        self.index = index
        self.app = app
        self.chat_state = chat_state
        self.http = http
        self.token = str(uuid.uuid4())
        self.path = "/"
        self.root: dict[str, Any] = {}
        self.chat: dict[str, Any] = {}
        self.changed = asyncio.Event()
        self.updates = 0
        self.outcome = Outcome()
        self.sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=http, request_timeout=60
        )
        self.sio.on("event", self._on_update, namespace=NAMESPACE)

    def router_data(self) -> dict[str, str]:
        return {"pathname": self.path, "asPath": self.path}

    async def _on_update(self, update: Any) -> None:
        """A StateUpdate: {delta: {state: {var: value}}, events: [...]}."""
        self.updates += 1
        if not isinstance(update, dict):
            return
        for name, changes in (update.get("delta") or {}).items():
            if name == ROOT_STATE:
                self.root.update(changes)
            elif name == self.chat_state or self.chat_state.startswith(name + "."):
                self.chat.update(changes)  # the chat's vars and its parent's (id, notice)
        self.changed.set()
        for event in update.get("events") or []:
            if event.get("name") == "_redirect":  # the router navigates, then runs on_load
                self.path = str((event.get("payload") or {}).get("path") or "/")
                self.root[IS_HYDRATED] = False
                await self._emit(ON_LOAD, {})

    async def _emit(self, name: str, payload: dict[str, Any]) -> None:
        event = {"name": name, "payload": payload, "router_data": self.router_data()}
        await self.sio.emit("event", event, namespace=NAMESPACE)

    def _shown(self) -> list[dict[str, Any]]:
        """The messages the page shows: loaded history, then the ones added since (the
        finished reply lands in the short ``recent`` list, not in ``messages``)."""
        return [*(self.chat.get(MESSAGES) or []), *(self.chat.get(RECENT) or [])]

    async def wait_until(self, predicate: Callable[[], bool], within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            if predicate():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return True

    async def connect(self, within_s: float) -> None:
        """Connect with the hydrate event in the CONNECT packet; wait for on_load to finish."""
        boot = {"name": HYDRATE, "payload": {}, "router_data": self.router_data()}
        await self.sio.connect(
            f"{http_url(self.app)}?token={self.token}",
            auth={"event": boot},
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path=NAMESPACE,
            wait_timeout=max(1, round(within_s)),
            headers={"Cookie": self.app.session_cookie()},  # signed in, as a tab is
        )
        loaded = await self.wait_until(
            lambda: self.root.get(IS_HYDRATED) is True and bool(self.chat.get(MODELS)), within_s
        )
        if not loaded:
            raise TimeoutError("the page did not load (no is_hydrated / models)")

    async def chat_once(self, message: str, within_s: float) -> Outcome:
        out = self.outcome
        deadline = time.monotonic() + within_s
        try:
            out.sent_at = time.perf_counter()
            key = str(self.chat.get(NEXT_KEY) or "")
            reading = None
            if key:  # the channel opens as the message is sent, as the page opens it
                reading = asyncio.create_task(self._read_stream(out, key, deadline))
            await self._emit(
                f"{self.chat_state}.{COMPOSER}.send", {"form_data": {"message": message}}
            )
            if not await self.wait_until(lambda: int(self.chat.get(LIVE_ID, -1)) >= 0, within_s):
                if reading is not None:
                    reading.cancel()
                raise TimeoutError(f"no live_id (notice: {self.chat.get(NOTICE)!r})")
            out.live_id = int(self.chat[LIVE_ID])
            if reading is None:  # an app from before stream keys (--ref): by message id
                await self._read_stream(out, str(out.live_id), deadline)
            else:
                if self.chat.get(LIVE_KEY) != key:
                    reading.cancel()
                    raise RuntimeError("the reply was not streamed under the key given ahead")
                await reading
            live = out.live_id
            finished = await self.wait_until(
                lambda: (
                    int(self.chat.get(LIVE_ID, -1)) != live
                    and any(m.get("id") == live for m in self._shown())
                ),
                max(deadline - time.monotonic(), 0.1),
            )
            if not finished:
                raise TimeoutError("no final state update after the stream ended")
            final = next(m for m in self._shown() if m.get("id") == live)
            out.final_content = str(final.get("content"))
            if final.get("live_key") and final.get("live_key") == key and not final["content"]:
                out.final_content = out.text  # sent without its text: the channel's is it
            # After the first reply the model titles the conversation; a tab sees that too.
            # Wait for it (briefly), so its work is not left running into the next round.
            out.titled = await self.wait_until(
                lambda: self.chat.get(TITLE) == TITLE_RULE["reply"],
                min(max(deadline - time.monotonic(), 0.1), TITLE_WAIT_S),
            )
        except Exception as exc:
            out.error = f"{type(exc).__name__}: {exc}"[:200]
        return out

    async def _read_stream(self, out: Outcome, key: str, deadline: float) -> None:
        url = f"{ws_url(self.app)}/_parley/stream/{key}?from=0"
        parts: list[str] = []
        cookie = {"Cookie": self.app.session_cookie()}  # the channel checks the reader too
        async with self.http.ws_connect(url, max_msg_size=0, autoping=True, headers=cookie) as ws:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the live-reply stream did not end in time")
                message = await ws.receive(timeout=remaining)
                arrived = time.perf_counter()
                if message.type == aiohttp.WSMsgType.TEXT:
                    data = str(message.data)
                    if data.startswith("d"):
                        out.frames.append((arrived, len(data) - 1))
                        parts.append(data[1:])
                    elif data.startswith("e"):
                        out.end = json.loads(data[1:])
                        break
                else:  # closed or failed before the end frame
                    break
        out.text = "".join(parts)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 10)


# ----- one round: N sessions ---------------------------------------------------------------


@dataclass
class RoundResult:
    sessions: int
    loaded: int = 0
    streamed: int = 0
    intact: int = 0
    titled: int = 0
    complete: int = 0
    first_text_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    own_late_ms: list[float] = field(default_factory=list)  # against the stream's own pace
    pace_ratio: list[float] = field(default_factory=list)  # nominal / observed token interval
    tokens_received: int = 0
    load_cpu_s: float = float("nan")  # backend CPU while the N sessions connected and loaded
    cpu_s: float = float("nan")
    session_p95_ms: list[float] = field(default_factory=list)
    rate_ratio: list[float] = field(default_factory=list)
    backlog_first: int = 0  # sessions whose first frame carried more than one token
    cpu_pct: float = float("nan")
    client_cpu_pct: float = float("nan")
    rss_none: int = 0
    rss_idle: int = 0
    rss_peak: int = 0
    wall_s: float = float("nan")
    connect_s: float = float("nan")
    load_before: str = ""
    load_after: str = ""
    log_errors: int = 0
    log_warnings: int = 0
    errors: list[str] = field(default_factory=list)
    browser_replies: list[Reply] = field(default_factory=list)  # real browsers alongside
    profile: str = ""  # the streaming phase's CPU profile (--profile)
    threads_cpu_s: dict[str, float] = field(default_factory=dict)  # by thread name

    @property
    def kib_per_idle(self) -> float:
        if not self.loaded:
            return float("nan")
        return (self.rss_idle - self.rss_none) / self.loaded / 1024


async def _sample_rss(app: ProdApp, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], app.usage().backend_rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def run_round(
    app: ProdApp,
    chat_state: str,
    n: int,
    *,
    tokens: int,
    spread: float,
    settle: float,
    probes: Sequence[BrowserProbe] = (),
    provider: PacedProvider | None = None,
    profile: Path | None = None,
) -> RoundResult:
    result = RoundResult(sessions=n, load_before=load_average())
    expected = reply_text(tokens)
    nominal_s = tokens * INTERVAL
    connect_timeout = 30.0 + n * 0.5
    stream_timeout = spread + nominal_s * 20 + 60.0
    errors0, warnings0 = log_lines(app)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        sessions = [Session(i, app, chat_state, http) for i in range(n)]
        try:
            # The browsers' pages load first, so they count in neither the idle RSS per
            # session nor the streaming phase.
            await asyncio.gather(*(p.open_chat(MODEL) for p in probes))
            await asyncio.sleep(settle)
            result.rss_none = app.usage().backend_rss

            gate = asyncio.Semaphore(CONNECT_PARALLEL)

            async def connect(s: Session) -> bool:
                async with gate:
                    try:
                        await s.connect(connect_timeout)
                        return True
                    except Exception as exc:
                        result.errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
                        return False

            t0, load_cpu0 = time.monotonic(), app.usage().cpu_s
            ok = await asyncio.gather(*(connect(s) for s in sessions))
            result.connect_s = time.monotonic() - t0
            result.load_cpu_s = app.usage().cpu_s - load_cpu0
            live = [s for s, good in zip(sessions, ok, strict=True) if good]
            result.loaded = len(live)
            await asyncio.sleep(settle)
            result.rss_idle = app.usage().backend_rss

            profile_before = profile_snapshot(profile) if profile is not None else {}
            threads_before = thread_cpu(app.pgid)
            peak = [result.rss_idle]
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample_rss(app, peak, stop))
            cpu0, own0, wall0 = app.usage().cpu_s, own_cpu_s(), time.monotonic()

            async def chat(s: Session, delay: float) -> Outcome:
                await asyncio.sleep(delay)
                return await s.chat_once(f"concbench {n} session {s.index}", stream_timeout)

            async def browsers() -> list[Reply]:
                if not probes or provider is None:
                    return []
                await asyncio.sleep(spread / 2)  # amid the sessions' sends
                return await run_replies(
                    probes, provider, tokens, int(RATE), f"n{n}", model=MODEL, open_first=False
                )

            random.seed(n)
            delays = sorted(random.uniform(0, spread) for _ in live)
            in_browsers = asyncio.create_task(browsers())
            outcomes = await asyncio.gather(
                *(chat(s, d) for s, d in zip(live, delays, strict=True))
            )
            result.browser_replies = await in_browsers
            if profile is not None:
                await asyncio.sleep(PROFILE_DUMP_S)  # the sampler writes every 2 s
                spent = since(profile_before, profile_snapshot(profile))
                if spent:
                    result.profile = summarise(max(spent, key=lambda p: p.busy_total), 25)
            cpu1, own1, wall1 = app.usage().cpu_s, own_cpu_s(), time.monotonic()
            threads_after = thread_cpu(app.pgid)
            result.threads_cpu_s = {
                name: spent - threads_before.get(name, 0.0)
                for name, spent in threads_after.items()
                if spent - threads_before.get(name, 0.0) > 0
            }
            stop.set()
            await sampler
            result.rss_peak = peak[0]
            result.wall_s = wall1 - wall0
            result.cpu_s = cpu1 - cpu0
            result.cpu_pct = 100 * result.cpu_s / result.wall_s
            result.client_cpu_pct = 100 * (own1 - own0) / result.wall_s
        finally:
            await asyncio.gather(*(s.close() for s in sessions))
    result.load_after = load_average()

    ids = [o.live_id for o in outcomes if o.live_id >= 0]
    saved = await asyncio.to_thread(saved_replies, app.database, ids)
    for o in outcomes:
        if o.error:
            result.errors.append(o.error)
        if not o.frames:
            continue
        result.streamed += 1
        result.titled += o.titled
        row = saved.get(o.live_id)
        if row is not None and row[1] == "complete":
            result.complete += 1
            if row[2] > 0:
                result.rate_ratio.append(nominal_s / row[2])
        count = -(-sum(c for _, c in o.frames) // TOKEN_CHARS)
        result.tokens_received += count
        span = o.frames[-1][0] - o.frames[0][0]
        if count > 1 and span > 0:
            pace = span / (count - 1)
            result.pace_ratio.append(INTERVAL / pace)
            own = token_lateness(o.frames, interval=pace)
            result.own_late_ms.extend(1000 * x for x in own)
        content = row[0] if row is not None else None
        if o.text == expected and content == o.text and o.final_content == o.text:
            result.intact += 1
        elif not o.error:
            result.errors.append(
                f"reply {o.live_id}: received {len(o.text)} chars, saved "
                f"{len(content) if content is not None else 'none'}, end {o.end}"
            )
        result.first_text_ms.append(1000 * (o.frames[0][0] - o.sent_at))
        if o.frames[0][1] > TOKEN_CHARS:
            result.backlog_first += 1
        late = [1000 * x for x in token_lateness(o.frames)]
        result.late_ms.extend(late)
        result.session_p95_ms.append(percentile(late, 0.95))
    errors1, warnings1 = log_lines(app)
    result.log_errors, result.log_warnings = errors1 - errors0, warnings1 - warnings0
    return result


async def warm_up(app: ProdApp, chat_state: str) -> None:
    """One session end to end, so lazy imports and first queries are not charged to N."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        s = Session(0, app, chat_state, http)
        try:
            await s.connect(120)
            out = await s.chat_once("warmup please", 120)
            if out.error:
                raise RuntimeError(f"warm-up failed: {out.error}\n{app.tail()}")
        finally:
            await s.close()


# ----- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--full", action="store_true", help="10, 50, 200 and 400 sessions")
    p.add_argument("--sessions", help="comma-separated session counts (overrides --full)")
    p.add_argument("--tokens", type=int, default=250, help="tokens per reply (250 = 5 s)")
    p.add_argument(
        "--spread", type=float, default=1.0, help="sends are spread over this many seconds"
    )
    p.add_argument("--settle", type=float, default=2.0, help="idle seconds before RSS readings")
    p.add_argument("--ref", help="measure this commit (git archive) instead of the working tree")
    p.add_argument("--in-place", action="store_true", help="run in the repository, no snapshot")
    p.add_argument("--log", type=Path, help="copy the app's log here at the end")
    p.add_argument(
        "--profile",
        type=Path,
        help="sample the app's Python stacks (bench/_sampler) into this directory, and "
        "print where the busiest process spent its time",
    )
    p.add_argument(
        "--browsers",
        type=int,
        default=2,
        help="real Chromium browsers streaming alongside, for token-to-DOM delay (0-8)",
    )
    args = p.parse_args(argv)
    counts = FULL if args.full else QUICK
    if args.sessions:
        counts = tuple(int(x) for x in args.sessions.split(",") if x.strip())
    if not counts or min(counts) < 1 or max(counts) > 2000:
        p.error("session counts must be between 1 and 2000")
    if not 1 <= args.tokens <= 20_000:
        p.error("--tokens must be between 1 and 20000")
    if not 0 <= args.spread <= 60 or not 0 <= args.settle <= 60:
        p.error("--spread and --settle must be between 0 and 60 s")
    if not 0 <= args.browsers <= 8:
        p.error("--browsers must be between 0 and 8")
    if args.in_place and args.ref:
        p.error("--in-place runs the working tree; it cannot be combined with --ref")
    args.counts = counts
    return args


def rules_for(tokens: int) -> list[dict[str, Any]]:
    bench = {
        "match": r"^concbench\b",
        "reply": reply_text(tokens),
        "chunk_chars": TOKEN_CHARS,
        "delay_ms": 1000 * INTERVAL,
    }
    return [TITLE_RULE, WARMUP_RULE, bench]


def report(results: Sequence[RoundResult], tokens: int, startup_s: float) -> str:
    mib = 1024 * 1024
    delay_rows = [
        [
            r.sessions,
            f"{r.loaded}/{r.sessions}",
            f"{r.intact}/{r.loaded}",
            percentile(r.first_text_ms, 0.5),
            percentile(r.first_text_ms, 0.95),
            percentile(r.late_ms, 0.5),
            percentile(r.late_ms, 0.95),
            max(r.late_ms, default=float("nan")),
            percentile(r.session_p95_ms, 0.95),
            percentile(r.own_late_ms, 0.95),
            percentile(r.pace_ratio, 0.5),
            min(r.pace_ratio, default=float("nan")),
            percentile(r.rate_ratio, 0.5),
        ]
        for r in results
    ]
    delay_headers = [
        "sessions",
        "loaded",
        "intact",
        "first text p50 ms",
        "first text p95 ms",
        "late p50 ms",
        "late p95 ms",
        "late max ms",
        "sessions' p95, p95 ms",
        "late vs own pace p95 ms",
        "pace/nominal p50",
        "pace/nominal min",
        "saved rate/nominal p50",
    ]
    resource_rows = [
        [
            r.sessions,
            r.cpu_pct,
            1e6 * r.cpu_s / r.tokens_received if r.tokens_received else float("nan"),
            r.client_cpu_pct,
            r.rss_none / mib,
            r.rss_idle / mib,
            r.rss_peak / mib,
            r.kib_per_idle,
            r.connect_s,
            1000 * r.load_cpu_s / r.loaded if r.loaded else float("nan"),
            r.wall_s,
            r.log_errors,
            r.log_warnings,
            f"{r.load_before.split(',')[0]} → {r.load_after.split(',')[0]}",
        ]
        for r in results
    ]
    resource_headers = [
        "sessions",
        "backend CPU %",
        "backend CPU ms per 1k tokens",
        "client CPU %",
        "backend RSS none MiB",
        "RSS N idle MiB",
        "RSS peak MiB",
        "KiB per idle session",
        "connect+load all s",
        "backend CPU ms per page load",
        "streaming wall s",
        "log errors",
        "log warnings",
        "load 1-min before → after",
    ]
    browser_rows = [
        [
            r.sessions,
            len(r.browser_replies),
            sum(1 for b in r.browser_replies if b.ended and not b.error),
            len(dom := [x for b in r.browser_replies for x in b.latencies_ms]),
            percentile(dom, 0.5),
            percentile(dom, 0.95),
            max(dom, default=float("nan")),
            percentile(frame := [x for b in r.browser_replies for x in b.frame_ms], 0.5),
            percentile(frame, 0.95),
            percentile([b.first_ms for b in r.browser_replies], 0.5),
            percentile([b.dom_rate / b.provider_rate for b in r.browser_replies], 0.5),
        ]
        for r in results
        if r.browser_replies
    ]
    browser_headers = [
        "sessions",
        "browsers",
        "ended",
        "tokens sampled",
        "token→DOM p50 ms",
        "token→DOM p95 ms",
        "token→DOM max ms",
        "token→frame p50 ms",
        "token→frame p95 ms",
        "first token→DOM p50 ms",
        "DOM / provider rate",
    ]
    browser_part = (
        [
            "",
            "Real browsers alongside (Chromium; the Anthropic provider against bench/_provider.py, "
            f"{tokens} tokens at {RATE:g} tok/s, sent amid the sessions' sends)",
            "",
            table(browser_headers, browser_rows),
        ]
        if browser_rows
        else []
    )
    thread_lines = ["", "Backend CPU in the streaming phase by thread name (/proc/<pid>/task):", ""]
    for r in results:
        total = sum(r.threads_cpu_s.values()) or 1.0
        parts = sorted(r.threads_cpu_s.items(), key=lambda kv: -kv[1])[:6]
        thread_lines.append(
            f"- {r.sessions} sessions, {total:.1f} CPU s: "
            + ", ".join(f"{name} {100 * cpu / total:.0f} %" for name, cpu in parts)
        )
    lines = [
        f"reply: {tokens} tokens of {TOKEN_CHARS} chars at {RATE:g} tok/s "
        f"({tokens * INTERVAL:.1f} s nominal) per session, sends spread over the first "
        f"second; app start {startup_s:.1f} s",
        "",
        "Delay and integrity",
        "",
        table(delay_headers, delay_rows),
        *browser_part,
        "",
        "Resources",
        "",
        table(resource_headers, resource_rows),
        *thread_lines,
        "",
        "- intact: received text == saved reply == scripted reply == final state message",
        "- first text: send emitted → first d frame on the live-reply websocket",
        "- late: each token's arrival minus (first chunk arrival + k x 20 ms), all tokens of "
        "all sessions; sessions' p95, p95: the 95th percentile over sessions of each "
        "session's own p95",
        "- late vs own pace: the same against a straight line from the session's first to its "
        "last token, i.e. bunching only, without the stream's overall slowness or the "
        "scripted provider's timer drift",
        "- pace/nominal: 20 ms / the session's observed token interval (first to last "
        "token); saved rate/nominal: nominal duration / the reply row's created_at→updated_at "
        "(which also counts the wait before the first token)",
        "- backend CPU ms per 1k tokens: all the backend's work in the streaming phase "
        "(sends, page loads, titles, streams) per 1000 tokens received",
        "- CPU %: CPU seconds per wall second over the streaming phase, 100 = one core "
        "(the machine has 2); client = this load generator, on the same 2 cores",
        "- token→DOM (browsers): each marked token's send by the loopback provider "
        "(time.time()) to the first DOM change showing it (MutationObserver, "
        "performance.timeOrigin + now), as bench/latency.py; token→frame: to the arrival of "
        "the live-reply frame carrying it, in the page",
        "- backend RSS: the app's process group minus the idle `reflex run` CLI; KiB per idle "
        "session = (RSS with N sessions loaded and idle - RSS before they connected) / N",
    ]
    for r in results:
        notes = []
        if r.titled < r.loaded:
            notes.append(f"{r.loaded - r.titled} sessions saw no generated title in time")
        if r.backlog_first:
            notes.append(f"{r.backlog_first} sessions' first frame held more than one token")
        if r.errors:
            notes.append(f"{len(r.errors)} problems, e.g. {r.errors[0]}")
        if notes:
            lines.append(f"- N={r.sessions}: " + "; ".join(notes))
    return "\n".join(lines)


async def sweep(
    app: ProdApp, chat_state: str, args: argparse.Namespace, provider: PacedProvider
) -> list[RoundResult]:
    await warm_up(app, chat_state)
    results: list[RoundResult] = []
    async with contextlib.AsyncExitStack() as stack:
        probes: list[BrowserProbe] = []
        if args.browsers:
            from playwright.async_api import async_playwright

            playwright = await stack.enter_async_context(async_playwright())
            for i in range(args.browsers):
                probe = await BrowserProbe.launch(playwright, i, app.url, app.browser_cookies())
                stack.push_async_callback(probe.close)
                probes.append(probe)
            await run_replies(probes, provider, 100, 2000, "warm-up", model=MODEL)
        for n in args.counts:
            print(f"... {n} sessions (load average {load_average()})", flush=True)
            budget = 120 + n * 2.0 + args.tokens * INTERVAL * 25
            async with asyncio.timeout(budget):
                r = await run_round(
                    app,
                    chat_state,
                    n,
                    tokens=args.tokens,
                    spread=args.spread,
                    settle=args.settle,
                    probes=probes,
                    provider=provider,
                    profile=args.profile,
                )
            results.append(r)
            dom = [x for b in r.browser_replies for x in b.latencies_ms]
            print(
                f"    loaded {r.loaded}, intact {r.intact}, late p95 "
                f"{percentile(r.late_ms, 0.95):.0f} ms, CPU {r.cpu_pct:.0f} %"
                + (
                    f", browsers' token-to-DOM p50 {percentile(dom, 0.5):.0f} / p95 "
                    f"{percentile(dom, 0.95):.0f} ms"
                    if probes
                    else ""
                ),
                flush=True,
            )
        errors = [e for p in probes for e in p.errors]
        if errors:
            print("page errors:\n  " + "\n  ".join(errors[:10]))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chat_state = chat_state_name()
    print(header("Concurrency sweep (bench/concurrency.py)", ref=args.ref), flush=True)
    with tempfile.TemporaryDirectory(prefix="parley-bench-conc-") as tmp:
        workdir = Path(tmp)
        root = ROOT if args.in_place else snapshot(workdir / "app", with_web=True, ref=args.ref)
        provider = PacedProvider(script, title=TITLE_RULE["reply"]).start()
        env = provider_env(provider, default=False)
        if args.profile is not None:
            args.profile = args.profile.resolve()
            env["PARLEY_BENCH_SAMPLE_DIR"] = str(args.profile)
            env["PYTHONPATH"] = str(root / "bench" / "_sampler")
        app = ProdApp(root, rules=rules_for(args.tokens), env=env, workdir=workdir)
        try:
            app.start()
            startup_s = app.times.page_s
            assert_loopback(http_url(app))
            print(f"app up on {http_url(app)} in {startup_s:.1f} s; state {chat_state}", flush=True)
            results = asyncio.run(sweep(app, chat_state, args, provider))
        finally:
            app.stop()
            provider.stop()
            if args.log is not None:
                with contextlib.suppress(OSError):
                    shutil.copy(app.log, args.log)
    print()
    print(report(results, args.tokens, startup_s))
    print(f"load average after: {load_average()}")
    for r in results:
        if r.profile:
            print(f"\nCPU profile of the streaming phase, {r.sessions} sessions (--profile):")
            print(r.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
