"""What every benchmark prints: the machine, the date, the code measured, and tables."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def git_revision(root: Path = ROOT, *, ref: str | None = None) -> str:
    """The commit measured: ``ref``, or HEAD marked "+dirty" when tracked files differ."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", ref or "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty and ref is None else "")


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. "0.91, 1.20, 1.35"."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def header(title: str, *, ref: str | None = None) -> str:
    """The title, date, code (commit ``ref`` when given, else the working tree) and machine."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    code = git_revision(ref=ref) + ("" if ref is None else f" (--ref {ref})")
    return "\n".join(
        [
            f"# {title}",
            f"date: {now}   code: {code}",
            f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
            f"{cpu_model()}, {ram_gib():.1f} GiB RAM, {platform.system()} {platform.release()}",
            f"python {platform.python_version()}   load average before: {load_average()}",
        ]
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN: not measured
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
