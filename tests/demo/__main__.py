"""``python -m tests.demo``: record the demo stories (what ``make demo`` runs).

python -m tests.demo                 every story whose feature exists, with video
python -m tests.demo --story 2       one story (repeat --story for more)
python -m tests.demo --fast          no pacing and no video (what `make test` checks)
python -m tests.demo --headed        watch it in a browser window
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from playwright.async_api import async_playwright

from tests.demo.index import write_index
from tests.demo.runner import Options, launch, run_story, select
from tests.demo.server import ROOT, running_app
from tests.demo.stories import STORIES


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.demo", description="Record Parley's demo stories."
    )
    parser.add_argument("--story", type=int, action="append", default=[], metavar="N")
    parser.add_argument("--fast", action="store_true", help="no pacing, no video")
    parser.add_argument("--headed", action="store_true", help="show the browser")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--build-dir", default=".cache/web-demo", help="Reflex build directory")
    args = parser.parse_args(argv)
    return args, Options(out=args.out, fast=args.fast, headed=args.headed)


async def main(argv: list[str] | None = None) -> int:
    args, options = parse(argv)
    chosen = select(STORIES, args.story)
    for story in chosen:
        if story.run is None:
            print(f"story {story.number} ({story.title}): waiting for {story.waiting_for}")
    playable = [story for story in chosen if story.run is not None]
    options.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    if playable:
        print("Starting Parley on a fresh data directory (a first build takes minutes)...")
        with running_app(args.build_dir, fast=options.fast, log_to=options.out / "app.log") as app:
            async with async_playwright() as playwright:
                browser = await launch(playwright, options)
                for story in playable:
                    began = time.monotonic()
                    try:
                        out = await run_story(browser, app, story, options)
                    except Exception as exc:
                        failed += 1
                        print(f"story {story.number} FAILED: {exc}", file=sys.stderr)
                        continue
                    spent = time.monotonic() - began
                    print(f"story {story.number} ({story.title}): {out} in {spent:.0f} s")
                await browser.close()
    index = write_index(options.out, STORIES)
    print(f"Index: {index}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
