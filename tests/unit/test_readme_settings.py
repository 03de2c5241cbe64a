"""The README's configuration table names every setting (app/settings.py): a new setting
that is not documented fails here."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _documented(name: str) -> bool:
    """``PARLEY_<NAME>``, its standard name (``DATABASE_URL``), or, in a row that groups
    several (``PARLEY_RATE_TOKENS_PER_IP`` / ``_PER_USER``), its last words."""
    env = f"PARLEY_{name.upper()}"
    if env in README or f"`{name.upper()}`" in README:
        return True
    words = name.upper().split("_")
    for cut in range(1, len(words)):
        stem, tail = "_".join(words[:cut]), "_".join(words[cut:])
        if f"PARLEY_{stem}_" in README and f"`_{tail}`" in README:
            return True
    return False


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in Settings.model_fields if not _documented(name)]
    assert not missing, f"settings missing from README's configuration table: {missing}"


def test_the_check_can_fail() -> None:
    assert not _documented("a_setting_nobody_wrote_down")
