"""A sampling profiler for the app's Python processes, loaded only by bench/concurrency.py's
``--profile``: it puts this directory on the app's ``PYTHONPATH`` and names an output
directory in ``PARLEY_BENCH_SAMPLE_DIR``. Nothing happens without that variable.

A daemon thread reads every thread's stack (``sys._current_frames``) every few ms and charges
it the CPU time the thread used since the previous sample (its own CPU clock,
``pthread_getcpuclockid``), so the profile is of CPU, not of wall time: a thread waiting on
a lock, a queue or SQLite's busy timeout costs nothing. Stacks whose innermost frame is a
known wait count as idle anyway. The CPU microseconds are written as folded stacks
(``[main thread];frame;frame;... µs``) to ``<dir>/<pid>.folded`` every 2 s and at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

_IDLE = {
    ("selectors.py", "select"),
    ("threading.py", "wait"),
    ("threading.py", "_wait_for_tstate_lock"),
    ("queue.py", "get"),
    ("thread.py", "_worker"),
}


def _short(filename: str) -> str:
    """A path from its package on: "reflex/state.py", "app/services/chat.py"."""
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in filename:
            return filename.rpartition(marker)[2]
    parts = Path(filename).parts
    roots = ("app", "state", "components", "bench")
    inner = [i for i, part in enumerate(parts) if part in roots]
    if not inner:
        return Path(filename).name
    return "/".join(parts[inner[-1] :])  # the innermost: "/tmp/x/app/state/a.py" -> "state/a.py"


def _name(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_name} ({_short(code.co_filename)}:{code.co_firstlineno})"


def _start(out_dir: Path, interval: float) -> None:
    counts: Counter[str] = Counter()
    idle = Counter[str]()
    lock = threading.Lock()
    cpu_seen: dict[int, float] = {}
    owner = os.getpid()
    out = out_dir / f"{owner}.folded"

    def dump() -> None:
        if os.getpid() != owner:  # a forked child's inherited copy: not its profile
            return
        with lock:
            lines = [f"{stack} {n}" for stack, n in counts.items()]
            lines += [f"(idle);{stack} {n}" for stack, n in idle.items()]
        tmp = out.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(out)

    def loop() -> None:
        me = threading.get_ident()
        last_dump = time.monotonic()
        while True:
            time.sleep(interval)
            frames = sys._current_frames()
            names = {t.ident: t.name for t in threading.enumerate()}
            with lock:
                for ident, frame in frames.items():
                    if ident == me:
                        continue
                    try:
                        cpu = time.clock_gettime(time.pthread_getcpuclockid(ident))
                    except OSError:  # the thread just ended
                        continue
                    used = int((cpu - cpu_seen.get(ident, cpu)) * 1e6)  # CPU µs since
                    cpu_seen[ident] = cpu
                    if used <= 0:
                        continue
                    thread = "main" if names.get(ident) == "MainThread" else "worker"
                    stack: list[str] = [f"[{thread} thread]"]
                    f: FrameType | None = frame
                    leaf = (Path(frame.f_code.co_filename).name, frame.f_code.co_name)
                    frames_out: list[str] = []
                    while f is not None and len(frames_out) < 80:
                        frames_out.append(_name(f))
                        f = f.f_back
                    folded = ";".join(stack + list(reversed(frames_out)))
                    (idle if leaf in _IDLE else counts)[folded] += used
            if time.monotonic() - last_dump > 2:
                last_dump = time.monotonic()
                with contextlib.suppress(OSError):
                    dump()

    threading.Thread(target=loop, name="bench-sampler", daemon=True).start()
    atexit.register(dump)


def _begin() -> None:
    out_dir = Path(os.environ["PARLEY_BENCH_SAMPLE_DIR"])
    out_dir.mkdir(parents=True, exist_ok=True)
    _start(out_dir, float(os.environ.get("PARLEY_BENCH_SAMPLE_MS", "5")) / 1000)


if os.environ.get("PARLEY_BENCH_SAMPLE_DIR"):
    _begin()
    os.register_at_fork(after_in_child=_begin)  # a forked worker samples itself, afresh
