"""Summarise the folded stacks that bench/_sampler/sitecustomize.py wrote.

    .venv/bin/python -m bench.profile_report DIR [--top 30]

For the busiest process (most CPU): the share of its sampled CPU time per thread, per area of
Parley's stack, per source file and per function, inclusive (the function is anywhere on the
stack) and self (it is the innermost frame).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Areas, by a frame's "function (file:line)" text; the first area a stack touches, innermost
# frame first, gets the sample. Order matters: more specific first.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("live-reply channel (app/web/stream_ws.py, stream_hub.py)", ("(app/web/", "stream_hub.py:")),
    ("scripted provider (app/llm/fake.py)", ("(app/llm/fake.py:",)),
    ("other providers (app/llm/)", ("(app/llm/", "(anthropic/", "(httpx", "(httpcore/")),
    ("chat service (app/services/chat.py)", ("(app/services/chat.py:",)),
    ("SQL (sqlalchemy, sqlite3, app/db)", ("(sqlalchemy/", "(sqlite3/", "(app/db/", "(sqlmodel/")),
    ("other app services (app/services/)", ("(app/services/",)),
    ("JSON (json, orjson)", ("(json/", "dumps (", "loads (")),
    ("socket.io / engine.io", ("(socketio/", "(engineio/")),
    ("Parley state handlers (state/)", ("(state/",)),
    ("Reflex state and events (reflex/)", ("(reflex/",)),
    ("websocket server (granian, starlette)", ("(granian/", "(starlette/")),
)


@dataclass
class Profile:
    pid: str
    busy: Counter[tuple[str, ...]]  # CPU microseconds by stack (first item: the thread)
    idle: int

    @property
    def busy_total(self) -> int:
        return sum(self.busy.values())


def load(directory: Path) -> list[Profile]:
    out: list[Profile] = []
    for path in sorted(directory.glob("*.folded")):
        busy: Counter[tuple[str, ...]] = Counter()
        idle = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = tuple(stack.split(";"))
            if frames[0] == "(idle)":
                idle += int(count)
            else:
                busy[frames] += int(count)
        out.append(Profile(path.stem, busy, idle))
    return out


def profile_snapshot(directory: Path) -> dict[str, Profile]:
    """The profiles as written so far, by pid."""
    return {p.pid: p for p in load(directory)}


def since(before: dict[str, Profile], after: dict[str, Profile]) -> list[Profile]:
    """What each process spent between two snapshots."""
    out: list[Profile] = []
    for pid, later in after.items():
        earlier = before.get(pid)
        if earlier is None:
            out.append(later)
            continue
        busy = later.busy.copy()
        busy.subtract(earlier.busy)
        out.append(Profile(pid, +busy, later.idle - earlier.idle))
    return out


def file_of(frame: str) -> str:
    inner = frame.rpartition("(")[2].rstrip(")")
    return inner.rpartition(":")[0] or inner


def area_of(frames: Sequence[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, needles in AREAS:
            if any(n in frame for n in needles):
                return name
    return "other (asyncio loop, Python runtime)"


def summarise(profile: Profile, top: int = 30) -> str:
    total = profile.busy_total or 1
    inclusive: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, n in profile.busy.items():
        for f in set(frames):
            inclusive[f] += n
        for f in {file_of(x) for x in frames}:
            by_file[f] += n
        own[frames[-1]] += n
        areas[area_of(frames)] += n

    def block(title: str, counter: Counter[str], limit: int) -> list[str]:
        lines = [title]
        for name, n in counter.most_common(limit):
            lines.append(f"  {100 * n / total:5.1f} %  {name}")
        return lines

    threads: Counter[str] = Counter()
    for frames, n in profile.busy.items():
        threads[frames[0]] += n
    lines = [
        f"process {profile.pid}: {profile.busy_total / 1e6:.2f} CPU s sampled "
        f"(plus {profile.idle / 1e6:.2f} s in known waits)",
        *block("threads:", threads, 5),
        *block("areas (innermost matching frame):", areas, len(AREAS) + 1),
        *block("files, inclusive:", by_file, top),
        *block("functions, inclusive:", inclusive, top),
        *block("functions, self:", own, top),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    profiles = load(args.directory)
    if not profiles:
        print(f"no .folded files in {args.directory}")
        return 1
    busiest = max(profiles, key=lambda p: p.busy_total)
    print(summarise(busiest, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
