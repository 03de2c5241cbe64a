"""A story's video: Chromium's screencast frames (CDP) assembled by ffmpeg, captions burned in.

Playwright's own recorder needs a browser build that cannot be downloaded here, so the page's
frames come from ``Page.startScreencast`` on a CDP session. Chromium sends a frame only when
the page changes; each is kept with the time it arrived, and ffmpeg's concat demuxer shows
each frame until the next one. The captions are ``drawtext`` filters, each enabled from its
step's start to the next step's, read from files so no caption needs escaping.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import Any

from playwright.async_api import CDPSession, Page

from tests.demo.director import Step

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)
FPS = 25
TAIL_SECONDS = 2.0  # the last frame stays this long, so the ending can be seen


def ffmpeg_path() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise RuntimeError(
            "ffmpeg is not installed: `make demo` installs it (apt-get install -y ffmpeg, as "
            "root); or run the demos with --fast, which records no video."
        )
    return found


def caption_font() -> Path:
    for font in FONT_CANDIDATES:
        if font.exists():
            return font
    raise RuntimeError("no caption font: install fonts-dejavu-core (apt-get install -y ...)")


@dataclass
class Recorder:
    """Collects a page's screencast frames into ``frames_dir`` while a story runs."""

    page: Page
    frames_dir: Path
    started: float  # the story's clock (Demo.started): frames and steps share it
    frames: list[tuple[float, Path]] = field(default_factory=list)
    _session: CDPSession | None = None
    _writes: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        session = await self.page.context.new_cdp_session(self.page)
        session.on("Page.screencastFrame", self._on_frame)
        await session.send(
            "Page.startScreencast",
            {"format": "jpeg", "quality": 85, "maxWidth": 1280, "maxHeight": 800},
        )
        self._session = session

    def _on_frame(self, event: dict[str, Any]) -> None:
        at = monotonic() - self.started
        path = self.frames_dir / f"{len(self.frames):06d}.jpg"
        self.frames.append((at, path))
        self._writes.append(asyncio.create_task(self._keep(path, event)))

    async def _keep(self, path: Path, event: dict[str, Any]) -> None:
        await asyncio.to_thread(path.write_bytes, base64.b64decode(event["data"]))
        if self._session is not None:
            await self._session.send("Page.screencastFrameAck", {"sessionId": event["sessionId"]})

    async def stop(self) -> float:
        """Stop recording; the story's length in seconds."""
        ended = monotonic() - self.started
        if self._session is not None:
            await self._session.send("Page.stopScreencast")
            await asyncio.gather(*self._writes, return_exceptions=True)
            await self._session.detach()
            self._session = None
        return ended


def thin(frames: Sequence[tuple[float, Path]]) -> list[tuple[float, Path]]:
    """At most one frame per video frame: in a burst (a reply streaming) the newest picture
    takes the burst's first time, so the video keeps the story's clock and its captions."""
    kept: list[tuple[float, Path]] = []
    for at, path in frames:
        if kept and at - kept[-1][0] < 1 / FPS:
            kept[-1] = (kept[-1][0], path)
        else:
            kept.append((at, path))
    return kept


def concat_list(frames: Sequence[tuple[float, Path]], ended: float) -> str:
    """ffmpeg's concat script: each frame until the next, the last one held at the end."""
    frames = thin(frames)
    lines = ["ffconcat version 1.0"]
    for i, (at, path) in enumerate(frames):
        until = frames[i + 1][0] if i + 1 < len(frames) else ended + TAIL_SECONDS
        lines += [f"file '{path.resolve()}'", f"duration {until - at:.3f}"]
    if frames:  # the concat demuxer ignores the last duration unless the file repeats
        lines.append(f"file '{frames[-1][1].resolve()}'")
    return "\n".join(lines) + "\n"


def caption_filters(steps: Sequence[Step], ended: float, text_dir: Path, font: Path) -> str:
    """One drawtext per step, shown from its start until the next step starts."""
    filters = ["scale=1280:800:force_original_aspect_ratio=decrease", "pad=1280:800:-1:-1"]
    for i, step in enumerate(steps):
        until = steps[i + 1].start if i + 1 < len(steps) else ended + TAIL_SECONDS
        text = text_dir / f"caption-{step.number:02d}.txt"
        text.write_text(f"{step.number}. {step.caption}", encoding="utf-8")
        filters.append(
            f"drawtext=fontfile='{font}':textfile='{text}':fontsize=30:fontcolor=white"
            ":box=1:boxcolor=black@0.72:boxborderw=14:x=(w-text_w)/2:y=h-text_h-36"
            f":enable='between(t,{step.start:.3f},{until:.3f})'"
        )
    return ",".join(filters)


def assemble(
    frames: Sequence[tuple[float, Path]], steps: Sequence[Step], ended: float, video: Path
) -> None:
    """Write ``video`` (H.264 MP4, 1280x800, captions burned in) from the recorded frames."""
    if not frames:
        raise RuntimeError("the screencast sent no frames: nothing to assemble")
    work = frames[0][1].parent
    playlist = work / "frames.ffconcat"
    # The first frame from time 0, so the captions' times match the video's.
    first = [(0.0, frames[0][1]), *frames[1:]]
    playlist.write_text(concat_list(first, ended), encoding="utf-8")
    command = [
        ffmpeg_path(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(playlist),
        "-vf",
        caption_filters(steps, ended, work, caption_font()) + f",fps={FPS},format=yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "26",
        "-movflags",
        "+faststart",
        str(video),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr[-2000:]}")
