"""Runs stories in Chromium against a running Parley and writes what they produce:
``demo-output/story-N-slug/`` (numbered screenshots, ``story.mp4``, ``story.json``) and the
index page that plays them in order (tests/demo/index.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from playwright.async_api import Browser, Playwright, expect

from tests.demo.director import FAST, HUMAN, POINTER_SCRIPT, Demo
from tests.demo.server import RunningApp
from tests.demo.story_kit import Story
from tests.demo.video import Recorder, assemble

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
# Checks wait up to 15 s, as the browser tests' do (Playwright's default is 5 s): a machine
# busy with other work answers a send or a filter more slowly.
expect.set_options(timeout=15_000)


@dataclass(frozen=True, slots=True)
class Options:
    out: Path
    fast: bool = False  # no pacing, no video (what `make test` runs)
    headed: bool = False

    @property
    def record(self) -> bool:
        return not self.fast


def system_chromium() -> str | None:
    """The system's Chromium (Debian's) when installed; None means Playwright's own."""
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


async def launch(playwright: Playwright, options: Options) -> Browser:
    return await playwright.chromium.launch(
        executable_path=system_chromium(), args=CHROMIUM_ARGS, headless=not options.headed
    )


def story_dir(out: Path, story: Story) -> Path:
    return out / f"story-{story.number}-{story.slug}"


async def run_story(browser: Browser, app: RunningApp, story: Story, options: Options) -> Path:
    """Play ``story``; its directory. Raises when a step's check fails or the page errs."""
    assert story.run is not None, f"story {story.number} waits for {story.waiting_for}"
    out = story_dir(options.out, story)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    if not options.fast:
        await context.add_init_script(POINTER_SCRIPT)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console.error: {msg.text}") if msg.type == "error" else None,
    )
    demo = Demo(page, app.url, out, HUMAN if not options.fast else FAST)
    recorder = Recorder(page, out / "frames", demo.started) if options.record else None
    ended = 0.0
    try:
        if recorder is not None:
            await recorder.start()
        await story.run(demo, app)
        if recorder is not None:
            await demo.beat(2)  # the ending, held
    except BaseException:
        await page.screenshot(path=out / "failure.png")
        raise
    finally:
        if recorder is not None:
            ended = await recorder.stop()
        await context.close()
    if problems:
        raise AssertionError("the page reported errors:\n" + "\n".join(problems))
    video = None
    if recorder is not None:
        assemble(recorder.frames, demo.steps, ended, out / "story.mp4")
        shutil.rmtree(out / "frames")
        video = "story.mp4"
    record = {
        "number": story.number,
        "title": story.title,
        "video": video,
        "duration": round(ended, 1) if recorder is not None else None,
        "notes": list(story.notes),
        "steps": [asdict(step) for step in demo.steps],
    }
    (out / "story.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return out


def select(stories: Sequence[Story], numbers: Sequence[int]) -> list[Story]:
    """The stories asked for (all when none are); an unknown number is an error."""
    known = {story.number: story for story in stories}
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise SystemExit(f"no story {unknown[0]}: the stories are {sorted(known)}")
    return [known[n] for n in numbers] if numbers else list(stories)
