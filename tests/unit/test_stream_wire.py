"""The wire cost of a streamed reply, counted in bytes (never timed), through the real path:
a scripted provider, :class:`ChatService` (which persists the reply and publishes each
piece to the hub), the :class:`StreamHub`, and the live-reply websocket endpoint.

The endpoint is driven as an ASGI app in the test's own event loop, with a recorder in place
of the server's socket: every text frame the endpoint sends is kept and counted. The issue's
bound: bytes on the wire per reply stay within 3x the reply's own UTF-8 size, at any length
and at any provider rate. Two rates bound every other:

- **slow** (lockstep): the provider sends its next token only once the previous one has
  been sent to the client, so no two tokens can share a frame: one frame per token, the
  most bytes any rate can cost;
- **fast**: the provider sends every token at once, and frames coalesce.

Besides payload bytes, the figures include WebSocket framing (RFC 6455: 2 bytes of header
for a server frame under 126 bytes, 4 under 64 KiB, 10 above), so they are what the socket
carries before compression.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.types import ASGIApp

from app.db.session import get_engine, migrate
from app.llm.base import ChatRequest, Finish, StreamEvent, TextDelta, Usage
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService
from app.services.stream_hub import StreamHub, new_key
from app.web.stream_ws import FramePacer, stream_app

WAIT = 60.0  # an upper bound for a whole reply to go through, never a sleep
BOUND = 3.0  # bytes on the wire per byte of reply


def granted(hub: StreamHub, message_id: int) -> str:
    """The channel's path for ``message_id``'s stream, under a key granted to read it."""
    key = new_key()
    hub.grant(key, message_id)
    return f"/_parley/stream/{key}"


def frame_header_bytes(payload: int) -> int:
    """RFC 6455 header of an unmasked (server-to-client) frame."""
    return 2 if payload < 126 else 4 if payload < 65_536 else 10


class Channel:
    """One client of the live-reply endpoint, as the endpoint sees its socket."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.close_code: int | None = None
        self.accepted = False
        self.text = ""
        self._changed = asyncio.Event()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._inbox.put_nowait({"type": "websocket.connect"})
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> MutableMapping[str, Any]:
        return await self._inbox.get()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.send":
            frame = message["text"]
            self.frames.append(frame)
            if frame.startswith("d"):
                self.text += frame[1:]
        elif message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
        self._changed.set()
        self._changed = asyncio.Event()

    def disconnect(self) -> None:
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": 1001})

    async def wait_for_text(self, length: int) -> None:
        while len(self.text) < length and self.close_code is None:
            await self._changed.wait()

    async def finished(self) -> None:
        assert self.task is not None
        async with asyncio.timeout(WAIT):
            await self.task

    @property
    def end(self) -> dict[str, Any] | None:
        ends = [json.loads(f[1:]) for f in self.frames if f.startswith("e")]
        assert len(ends) <= 1
        return ends[0] if ends else None

    @property
    def payload_bytes(self) -> int:
        return sum(len(f.encode()) for f in self.frames)

    @property
    def wire_bytes(self) -> int:
        return sum(len(f.encode()) + frame_header_bytes(len(f.encode())) for f in self.frames)


def open_channel(app: ASGIApp, path: str, query: str = "") -> Channel:
    channel = Channel()
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
        "subprotocols": [],
    }

    async def serve() -> None:
        await app(scope, channel.receive, channel.send)

    channel.task = asyncio.create_task(serve())
    return channel


@dataclass
class PacedProvider:
    """Sends ``tokens``; before each next token, awaits ``gate`` with the text sent so far."""

    tokens: list[str]
    gate: Callable[[str], Awaitable[None]] | None = None
    name: str = "paced"
    sent: list[str] = field(default_factory=list)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for token in self.tokens:
            yield TextDelta(token)
            self.sent.append(token)
            if self.gate is not None:
                await self.gate("".join(self.sent))
            elif len(self.sent) % 50 == 0:
                await asyncio.sleep(0)
        yield Usage(input_tokens=1, output_tokens=len(self.tokens))
        yield Finish("stop")


def tokens_for(count: int) -> list[str]:
    """Word-sized tokens like a model's (about 4 characters), some not ASCII, in paragraphs
    and a code fence so the text is realistic markdown."""
    words = ["The", " stream", " of", " tokens", ",", " naïve", " café", " —", " 🚀", " ok", "."]
    tokens = [words[i % len(words)] + (str(i) if i % 7 == 0 else "") for i in range(count)]
    for i in range(40, count, 97):
        tokens[i] = "\n\n"
    for i in range(300, count, 1000):
        tokens[i] = "\n```python\nprint('x')\n```\n"
    return tokens


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    migrate(url)
    engine = get_engine(url)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Figures:
    reply_bytes: int
    frames: int
    payload_bytes: int
    wire_bytes: int

    @property
    def payload_ratio(self) -> float:
        return self.payload_bytes / self.reply_bytes

    @property
    def wire_ratio(self) -> float:
        return self.wire_bytes / self.reply_bytes


async def stream_through_the_channel(
    engine: Engine, tokens: list[str], *, lockstep: bool, max_fps: float
) -> Figures:
    hub = StreamHub()
    app = stream_app(lambda: hub, max_fps=max_fps)
    channel: Channel | None = None

    async def gate(sent: str) -> None:
        assert channel is not None
        async with asyncio.timeout(WAIT):
            await channel.wait_for_text(len(sent))

    provider = PacedProvider(tokens, gate if lockstep else None)
    registry = ModelRegistry(default="paced")
    registry.register(ModelInfo("paced", "Paced", "paced", "paced-1"), provider)
    service = ChatService(engine, registry, hub=hub)

    posted = await service.post_message(None, "go")
    message_id = posted.reply.id
    channel = open_channel(app, granted(hub, message_id))  # before the first token
    async with asyncio.timeout(WAIT):
        await service.stream_reply(message_id)
    await channel.finished()

    reply = "".join(tokens)
    saved = await service.get_message(message_id)
    assert (saved.status, saved.content) == ("complete", reply)
    assert channel.accepted and channel.close_code == 1000
    assert channel.text == reply, "text was lost, reordered or duplicated on the channel"
    assert channel.end == {"status": "complete", "error": ""}
    if lockstep:
        assert len(channel.frames) == len(tokens) + 1  # one per token, then the end
    return Figures(
        len(reply.encode()), len(channel.frames), channel.payload_bytes, channel.wire_bytes
    )


@pytest.mark.parametrize("count", [500, 2000, 20_000])
@pytest.mark.parametrize(
    ("rate", "lockstep", "max_fps"),
    [
        # Slow: one frame per token whatever the frame cap; the cap is lifted so the test
        # does not wait 1/60 s per token.
        ("slow", True, 1_000_000.0),
        ("fast", False, 60.0),
    ],
)
async def test_wire_bytes_per_reply_stay_within_three_times_the_reply(
    sqlite_engine: Engine, count: int, rate: str, lockstep: bool, max_fps: float
) -> None:
    figures = await stream_through_the_channel(
        sqlite_engine, tokens_for(count), lockstep=lockstep, max_fps=max_fps
    )
    print(
        f"\n{count} tokens, {rate}: {figures.reply_bytes} B reply, {figures.frames} frames, "
        f"{figures.payload_ratio:.3f} payload B/B, {figures.wire_ratio:.3f} wire B/B"
    )
    assert figures.payload_bytes <= BOUND * figures.reply_bytes
    assert figures.wire_bytes <= BOUND * figures.reply_bytes
    if not lockstep:
        assert figures.frames < count / 4  # a fast provider's tokens share frames


# ----- the endpoint's contract --------------------------------------------------------


async def test_a_reconnecting_client_resumes_from_its_character_count() -> None:
    hub = StreamHub()
    app = stream_app(lambda: hub)
    for piece in ["naïve ", "🚀 rocket", " ", "done"]:
        hub.publish(7, piece)
    hub.finish(7, "stopped")
    whole = "naïve 🚀 rocket done"
    path = granted(hub, 7)
    for start in (0, 3, 6, 7, 8, len(whole), len(whole) + 5):
        channel = open_channel(app, path, f"from={start}")
        await channel.finished()
        assert channel.text == whole[start:], start
        assert channel.end == {"status": "stopped", "error": ""}


async def test_a_reader_that_comes_early_waits_for_the_first_token() -> None:
    hub = StreamHub()
    app = stream_app(lambda: hub)
    hub.open(8)
    channel = open_channel(app, granted(hub, 8))
    await asyncio.sleep(0.01)
    assert channel.accepted and channel.frames == []
    hub.publish(8, "hello")
    hub.finish(8, "error", "Overloaded.")
    await channel.finished()
    assert channel.frames == ["dhello", 'e{"status":"error","error":"Overloaded."}']


async def test_a_reader_that_comes_before_its_key_is_granted_gets_the_whole_reply() -> None:
    """The browser opens the channel as it sends, before the server has posted the reply."""
    hub = StreamHub()
    app = stream_app(lambda: hub)
    key = new_key()
    channel = open_channel(app, f"/_parley/stream/{key}")
    await asyncio.sleep(0.01)
    assert channel.accepted and channel.frames == []
    hub.open(21)
    hub.publish(21, "early ")
    hub.grant(key, 21)
    hub.publish(21, "bird")
    hub.finish(21, "complete")
    await channel.finished()
    assert channel.text == "early bird"
    assert channel.end == {"status": "complete", "error": ""}


async def test_the_message_id_is_not_a_key_and_a_key_reads_only_its_own_stream() -> None:
    hub = StreamHub()
    app = stream_app(lambda: hub, grant_wait=0.01)
    hub.publish(31, "secret")
    hub.finish(31, "complete")
    hub.publish(32, "mine")
    hub.finish(32, "complete")
    mine = granted(hub, 32)
    for path in ("/_parley/stream/31", f"/_parley/stream/{new_key()}"):
        channel = open_channel(app, path)
        await channel.finished()
        assert channel.text == "" and channel.end == {"status": "gone", "error": ""}, path
    channel = open_channel(app, mine)
    await channel.finished()
    assert channel.text == "mine"
    with pytest.raises(ValueError, match="already in use"):
        hub.grant(mine.rsplit("/", 1)[1], 31)  # a key cannot be moved to another reply


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("/_parley/stream/AAAAAAAAAAAAAAAAAAAAAA", "", 1000),  # never granted: "gone"
        ("/_parley/stream/404", "", 1008),  # a message id is not a key
        ("/_parley/stream/abc", "", 1008),
        ("/_parley/stream/a.b.c.d.e.f.g.h.i.j.k", "", 1008),
        ("/_parley/stream/" + "A" * 65, "", 1008),
        ("/_parley/stream/AAAAAAAAAAAAAAAAAAAAAA", "from=-3", 1008),
        ("/_parley/stream/AAAAAAAAAAAAAAAAAAAAAA", "from=x", 1008),
    ],
)
async def test_unknown_or_malformed_streams_get_the_end_frame(
    path: str, query: str, code: int
) -> None:
    channel = open_channel(stream_app(StreamHub, grant_wait=0.01), path, query)
    await channel.finished()
    assert channel.frames == ['e{"status":"gone","error":""}']
    assert channel.close_code == code


async def test_a_client_that_leaves_mid_stream_ends_the_handler_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = StreamHub()
    app = stream_app(lambda: hub)
    hub.publish(9, "partial")
    path = granted(hub, 9)
    channel = open_channel(app, path)
    await channel.wait_for_text(len("partial"))
    channel.disconnect()
    await channel.finished()  # returns without raising while the stream is still open
    assert channel.end is None
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    hub.publish(9, " more")  # the stream carries on for any other reader
    hub.finish(9, "complete")
    again = open_channel(app, path, "from=7")
    await again.finished()
    assert again.text == " more"


async def test_each_token_reaches_the_channel_at_once_not_at_the_next_flush(
    sqlite_engine: Engine,
) -> None:
    """The provider waits for each token to be on the wire before sending the next; with a
    30 s flush interval, that only finishes if publishing does not wait for the flush."""
    hub = StreamHub()
    app = stream_app(lambda: hub)
    channel: Channel | None = None

    async def gate(sent: str) -> None:
        assert channel is not None
        async with asyncio.timeout(5):
            await channel.wait_for_text(len(sent))

    tokens = ["one", " two", " three", " four"]
    registry = ModelRegistry(default="paced")
    registry.register(ModelInfo("paced", "Paced", "paced", "paced-1"), PacedProvider(tokens, gate))
    service = ChatService(sqlite_engine, registry, hub=hub)
    posted = await service.post_message(None, "go")
    channel = open_channel(app, granted(hub, posted.reply.id))
    saved = await service.stream_reply(posted.reply.id)
    await channel.finished()
    assert channel.frames == ["done", "d two", "d three", "d four", channel.frames[-1]]
    assert saved.content == "one two three four"


# ----- frame pacing, on a fake clock (never timed) --------------------------------------


class FakeTime:
    """A clock the test moves by hand, and a sleep that returns only when the test says so,
    recording how long the endpoint asked to sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._wake: asyncio.Event | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._wake = asyncio.Event()
        await self._wake.wait()

    @property
    def sleeping(self) -> bool:
        return self._wake is not None and not self._wake.is_set()

    def wake(self, at: float) -> None:
        assert self._wake is not None, "the endpoint is not sleeping"
        self.now = at
        self._wake.set()


async def settle() -> None:
    """Let the endpoint's tasks run until they wait again (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_the_pacer_sends_at_once_after_a_quiet_gap_and_holds_only_bursts() -> None:
    pacer = FramePacer(0.040)
    assert pacer.hold(0.000, 0.000) == 0.0  # the first text
    pacer.sent(0.000)
    assert pacer.hold(0.010, 0.010) == pytest.approx(0.030)  # a burst: until 40 ms
    pacer.arrived(0.020)
    pacer.sent(0.040)
    # 45 ms after the last text (though 25 ms after the last frame): a lone token, at once.
    assert pacer.hold(0.065, 0.065) == 0.0
    pacer.sent(0.065)
    assert pacer.hold(0.080, 0.080) == pytest.approx(0.025)  # 15 ms after: a burst again
    pacer.sent(0.105)
    assert pacer.hold(0.500, 0.500) == 0.0  # a long pause


@pytest.mark.parametrize("rate", [5, 10, 20, 25])
def test_tokens_slower_than_the_frame_rate_are_never_held(rate: int) -> None:
    pacer = FramePacer(0.040)
    for k in range(200):
        at = k / rate
        assert pacer.hold(at, at) == 0.0, (rate, k)
        pacer.sent(at)


@pytest.mark.parametrize("rate", [50, 200, 2000, 20_000])
def test_fast_tokens_are_held_at_most_one_interval_and_share_frames(rate: int) -> None:
    """Simulated: token k arrives at k / rate; a frame goes out when its hold ends, carrying
    every token that arrived by then."""
    interval = 0.040
    pacer = FramePacer(interval)
    arrivals = [k / rate for k in range(2 * rate)]  # two seconds of tokens
    frames: list[float] = []
    delays: list[float] = []
    i = 0
    while i < len(arrivals):
        at = arrivals[i]
        now = max(at, frames[-1] if frames else at)  # the pump is free again
        send_at = now + pacer.hold(at, now)
        j = i + 1
        while j < len(arrivals) and arrivals[j] <= send_at:
            pacer.arrived(arrivals[j])
            j += 1
        pacer.sent(send_at)
        frames.append(send_at)
        delays += [send_at - a for a in arrivals[i:j]]
        i = j
    assert max(delays) <= interval + 1e-9
    assert len(frames) <= 2 / interval + 1  # at most one frame per interval
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    assert min(gaps) >= interval - 1e-9


async def test_the_endpoint_sends_a_lone_token_at_once_and_coalesces_a_burst() -> None:
    fake = FakeTime()
    hub = StreamHub(clock=fake.clock)
    app = stream_app(lambda: hub, max_fps=25, clock=fake.clock, sleep=fake.sleep)
    hub.open(11)
    channel = open_channel(app, granted(hub, 11))
    await settle()

    hub.publish(11, "first")  # t = 0: the first text goes at once
    await settle()
    assert channel.frames == ["dfirst"] and not fake.sleeping

    fake.now = 0.010
    hub.publish(11, " b")  # 10 ms later: held until 40 ms
    await settle()
    assert fake.sleeping and fake.sleeps == [pytest.approx(0.030)]
    fake.now = 0.020
    hub.publish(11, " c")
    await settle()
    assert channel.frames == ["dfirst"]
    fake.wake(0.040)
    await settle()
    assert channel.frames == ["dfirst", "d b c"]  # one frame for the burst

    fake.now = 0.065  # 45 ms after " c", 25 ms after the last frame: a lone token
    hub.publish(11, " lone")
    await settle()
    assert channel.frames[-1] == "d lone" and not fake.sleeping
    assert len(fake.sleeps) == 1

    fake.now = 0.070
    hub.publish(11, " x")  # a burst again, ended before its frame is due
    await settle()
    assert fake.sleeping
    hub.finish(11, "complete")
    fake.wake(0.105)
    await channel.finished()
    assert channel.frames[-2:] == ["d x", 'e{"status":"complete","error":""}']
    assert channel.text == "first b c lone x"


async def test_a_burst_of_a_thousand_tokens_makes_one_frame() -> None:
    fake = FakeTime()
    hub = StreamHub(clock=fake.clock)
    app = stream_app(lambda: hub, max_fps=25, clock=fake.clock, sleep=fake.sleep)
    hub.publish(12, "a")
    channel = open_channel(app, granted(hub, 12))
    await settle()
    assert channel.frames == ["da"]
    fake.now = 0.001
    for _ in range(1000):
        hub.publish(12, "b")
    await settle()
    fake.wake(0.040)
    await settle()
    assert channel.frames == ["da", "d" + "b" * 1000]
