"""Cold and warm start of the production server, and time to first page in the browser.

    .venv/bin/python -m bench.start                 # one cold start, one warm start
    .venv/bin/python -m bench.start --warm-runs 3

What ``make run`` does once its venv exists: ``reflex run --env prod`` with pages and API on
one port (here bound to 127.0.0.1, on a free port), in a temporary copy of the repository's
files, so nothing in the working tree is touched:

- cold: the copy has no ``.web`` (and no ``__pycache__``), so Reflex initialises the web
  project, runs ``npm install`` (from npm's local cache where it can, else the registry) and
  builds the frontend;
- warm: the same copy started again, ``.web`` and ``node_modules`` in place.

For each start: seconds from launch to the backend's /ping answering, and to ``/`` answering
200. Then headless Chromium opens the page (browser already running; first with an empty
cache, then again): milliseconds to DOMContentLoaded, to load, and until the "Message" box
is in the DOM and editable (React has rendered the app).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from bench._app import (
    CHROMIUM_ARGS,
    ProdApp,
    SetCookieParam,
    assert_loopback,
    chromium_path,
    snapshot,
)
from bench._common import header, table


@dataclass(frozen=True, slots=True)
class PageLoad:
    dcl_ms: float
    load_ms: float
    ready_ms: float  # goto until the Message box is editable


@dataclass(frozen=True, slots=True)
class Start:
    label: str
    ping_s: float
    page_s: float
    loads: tuple[PageLoad, ...]


def first_page(
    browser: Browser, url: str, loads: int, cookies: Sequence[SetCookieParam] = ()
) -> tuple[PageLoad, ...]:
    """Open ``url`` ``loads`` times in one fresh context (cold cache first, then warm),
    signed in with ``cookies`` (the chat page wants a user)."""
    assert_loopback(url)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(list(cookies))
    page = context.new_page()
    out: list[PageLoad] = []
    for _ in range(loads):
        start = time.perf_counter()
        page.goto(url + "/", timeout=120_000)
        page.wait_for_function(
            "() => { const t = document.querySelector('textarea[aria-label=Message]');"
            " return t !== null && !t.disabled; }",
            timeout=120_000,
            polling=20,
        )
        ready = (time.perf_counter() - start) * 1000
        nav = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"
        )
        out.append(PageLoad(float(nav[0]), float(nav[1]), ready))
    context.close()
    return tuple(out)


def dir_mib(path: Path) -> float:
    try:
        out = subprocess.run(
            ["du", "-sm", str(path)], capture_output=True, text=True, check=True, timeout=120
        ).stdout
        return float(out.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold and warm start of the production app.")
    parser.add_argument("--warm-runs", type=int, default=1, help="warm starts (1-5)")
    parser.add_argument("--page-loads", type=int, default=2, help="page loads per start (1-5)")
    args = parser.parse_args(argv)
    warm_runs = max(1, min(int(args.warm_runs), 5))
    loads = max(1, min(int(args.page_loads), 5))

    print(header("Parley: cold and warm start, first page (bench/start.py)"))
    starts: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-start-") as tmp:
        root = snapshot(Path(tmp) / "app", with_web=False)
        print(f"copy of the repository without .web: {root}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            for i in range(1 + warm_runs):
                label = "cold (no .web)" if i == 0 else f"warm #{i}"
                work = Path(tmp) / f"run{i}"
                work.mkdir()
                with ProdApp(root, workdir=work) as app:
                    page_loads = first_page(browser, app.url, loads, app.browser_cookies())
                    starts.append(Start(label, app.times.ping_s, app.times.page_s, page_loads))
                print(f"  {label}: first page 200 after {app.times.page_s:.1f} s", flush=True)
            browser.close()
        print(f".web after the runs: {dir_mib(root / '.web'):.0f} MiB")

    rows: list[list[object]] = []
    for s in starts:
        for n, load in enumerate(s.loads):
            rows.append(
                [
                    s.label if n == 0 else "",
                    s.ping_s if n == 0 else "",
                    s.page_s if n == 0 else "",
                    "empty" if n == 0 else f"warm #{n}",
                    load.dcl_ms,
                    load.load_ms,
                    load.ready_ms,
                ]
            )
    headers = [
        "start",
        "launch to /ping s",
        "launch to first page 200 s",
        "browser cache",
        "DOMContentLoaded ms",
        "load ms",
        "Message box editable ms",
    ]
    print()
    print(table(headers, rows))
    print()
    cold, warm = starts[0], starts[1:]
    warm_page = sum(s.page_s for s in warm) / len(warm)
    print(f"- cold / warm start time: {cold.page_s / warm_page:.1f}x")
    print(
        "- start: launch of `reflex run --env prod` until the backend answers /ping, and until"
        "\n  `/` answers 200 (the frontend built and served). Page times are from navigation"
        "\n  start (DOMContentLoaded, load) and from `goto` until the Message box is editable."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
