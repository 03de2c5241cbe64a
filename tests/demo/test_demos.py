"""Every demo story in fast mode (no pacing, no video), so the demos never rot; and the video
and index machinery on its own."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.demo.director import Step
from tests.demo.index import write_index
from tests.demo.runner import Options, launch, run_story
from tests.demo.server import RunningApp, running_app
from tests.demo.stories import STORIES, bar_chart_png
from tests.demo.story_kit import Story
from tests.demo.video import assemble

PLAYABLE = [story for story in STORIES if story.run is not None]


@pytest.fixture(scope="module")
def demo_app() -> Iterator[RunningApp]:
    # The browser tests' build directory: one frontend build serves both (the lock in
    # app/webbuild.py keeps the two servers from using it at once).
    with running_app(".cache/web-test", fast=True) as app:
        yield app


@pytest.mark.e2e
@pytest.mark.parametrize("story", PLAYABLE, ids=[f"story{s.number}-{s.slug}" for s in PLAYABLE])
async def test_story_plays_in_fast_mode(story: Story, demo_app: RunningApp, tmp_path: Path) -> None:
    options = Options(out=tmp_path, fast=True)
    async with async_playwright() as playwright:
        browser = await launch(playwright, options)
        try:
            out = await run_story(browser, demo_app, story, options)
        finally:
            await browser.close()
    record = json.loads((out / "story.json").read_text("utf-8"))
    assert record["video"] is None  # fast mode records none
    shots = sorted(p.name for p in out.glob("*.png"))
    assert shots == [step["screenshot"] for step in record["steps"]]
    assert len(shots) >= 5


def test_waiting_stories_say_what_they_wait_for(tmp_path: Path) -> None:
    waiting = {s.number: s.waiting_for for s in STORIES if s.run is None}
    assert set(waiting) == {6}
    assert all(waiting.values())
    story = PLAYABLE[0]
    folder = tmp_path / f"story-{story.number}-{story.slug}"
    folder.mkdir()
    step = {"number": 1, "caption": "Sign <up>", "start": 0.0, "screenshot": "01-sign-up.png"}
    record = {"video": "story.mp4", "duration": 3.5, "notes": [], "steps": [step]}
    (folder / "story.json").write_text(json.dumps(record), encoding="utf-8")
    page = write_index(tmp_path, STORIES).read_text("utf-8")
    assert page.count("<section") == len(STORIES)
    assert "Waiting for sharing (issue 13)" in page
    assert f'src="{folder.name}/story.mp4"' in page
    assert "Sign &lt;up&gt;" in page  # captions are escaped
    assert page.count("Not recorded yet") == len(PLAYABLE) - 1


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg is not installed")
def test_frames_become_a_captioned_video_of_the_story_length(tmp_path: Path) -> None:
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    frames = []
    # A burst of frames faster than the video's rate must not stretch the video.
    for i, at in enumerate((0.3, 1.0, *(1.0 + k / 100 for k in range(1, 30)), 2.5)):
        path = frames_dir / f"{i:06d}.png"
        path.write_bytes(bar_chart_png(160 + 2 * i, 100))
        frames.append((at, path))
    steps = [Step(1, "First: it's 100% \\ 'quoted'", 0.0, "a.png"), Step(2, "Second", 1.2, "b.png")]
    video = tmp_path / "story.mp4"
    assemble(frames, steps, 3.0, video)
    entries = "stream=width,height,codec_name:format=duration"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(video)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    assert info["streams"][0] == {"codec_name": "h264", "width": 1280, "height": 800}
    # The story's 3 s plus the held ending (2 s), within a frame or two.
    assert abs(float(info["format"]["duration"]) - 5.0) < 0.15
