"""The README's keyboard-shortcut table lists every chord the in-app help lists."""

from __future__ import annotations

from pathlib import Path

from components.shell import SHORTCUTS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_shortcut_chord() -> None:
    text = README.read_text(encoding="utf-8")
    for keys, action in SHORTCUTS:
        if keys[0] != "Mod":
            continue
        chord = " + ".join("Ctrl/⌘" if key == "Mod" else key for key in keys)
        assert f"| {chord} |" in text, f"README's shortcut table lacks {chord} ({action})"
