"""``demo-output/index.html``: every story in order, each video followed by the next, the
current step's caption highlighted as it plays, and each step's screenshot. A story that
waits for its feature is listed as such."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from tests.demo.runner import story_dir
from tests.demo.story_kit import Story

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 1340px; padding: 1em; }
video { width: 100%; max-width: 1280px; background: #111; }
ol.steps li { margin: .25em 0; padding: .1em .4em; border-radius: 4px; }
ol.steps li.now { background: #ffe58a; }
ol.steps img { display: block; width: 320px; border: 1px solid #ccc; margin: .2em 0 .6em; }
.waiting { color: #666; }
"""

# Plays the next story's video when one ends; marks the step whose time has come.
SCRIPT = """
const videos = [...document.querySelectorAll("video")];
videos.forEach((video, i) => {
  const items = [...video.closest("section").querySelectorAll("ol.steps li")];
  video.addEventListener("timeupdate", () => {
    let now = -1;
    items.forEach((li, j) => { if (video.currentTime >= Number(li.dataset.start)) now = j; });
    items.forEach((li, j) => li.classList.toggle("now", j === now));
  });
  video.addEventListener("ended", () => {
    const next = videos[i + 1];
    if (next) { next.scrollIntoView({behavior: "smooth"}); next.play(); }
  });
});
"""


def _section(story: Story, record: dict[str, Any] | None, folder: str) -> str:
    head = f"<h2>{story.number}. {escape(story.title)}</h2>"
    if story.run is None:
        return f'<section class="waiting">{head}<p>Waiting for {escape(story.waiting_for)}.</p>'
    if record is None:
        hint = "Not recorded yet: run <code>make demo</code>."
        return f'<section class="waiting">{head}<p>{hint}</p>'
    parts = [f'<section id="story-{story.number}">', head]
    if record.get("video"):
        parts.append(
            f'<video controls preload="metadata" src="{folder}/{record["video"]}"></video>'
            f"<p>{record['duration']} s</p>"
        )
    parts.extend(f"<p>{escape(note)}</p>" for note in record.get("notes", []))
    parts.append('<ol class="steps">')
    for step in record["steps"]:
        shot = f"{folder}/{step['screenshot']}"
        parts.append(
            f'<li data-start="{step["start"]:.2f}">{escape(step["caption"])}'
            f'<a href="{shot}"><img loading="lazy" src="{shot}" alt="{escape(step["caption"])}">'
            "</a></li>"
        )
    parts.append("</ol>")
    return "".join(parts)


def write_index(out: Path, stories: Sequence[Story]) -> Path:
    """The index of every story recorded in ``out`` so far (runs of single stories add up)."""
    sections = []
    for story in stories:
        folder = story_dir(out, story)
        record_file = folder / "story.json"
        record = json.loads(record_file.read_text("utf-8")) if record_file.exists() else None
        sections.append(_section(story, record, folder.name) + "</section>")
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Parley demos</title>"
        f"<style>{STYLE}</style></head><body><h1>Parley demos</h1>"
        "<p>Recorded by <code>make demo</code> against a fresh Parley with a scripted model. "
        "Each video plays into the next.</p>"
        + "".join(sections)
        + f"<script>{SCRIPT}</script></body></html>"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
