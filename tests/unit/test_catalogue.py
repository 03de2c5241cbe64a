"""The model catalogue file: defaults, chains, only configured providers, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.llm.catalogue import CatalogueError, Timeouts, load_catalogue, parse_catalogue

SMALL = """
[defaults]
connect_timeout = 3
first_token_timeout = 10
total_timeout = 100

[[model]]
id = "a"
provider = "anthropic"
provider_model = "claude-x"
display_name = "A"
context_window = 1000
fallbacks = ["b", "c", "local"]
first_token_timeout = 5

[[model]]
id = "b"
provider = "openai"
context_window = 1000
fallbacks = ["local"]

[[model]]
id = "c"
provider = "openai-compatible"
context_window = 1000

[[model]]
id = "local"
provider = "local"
context_window = 2048
"""


def test_entries_inherit_default_timeouts_and_override_them() -> None:
    catalogue = parse_catalogue(SMALL)
    assert catalogue["a"].timeouts == Timeouts(connect=3, first_token=5, total=100)
    assert catalogue["b"].timeouts == Timeouts(connect=3, first_token=10, total=100)
    assert (catalogue["b"].provider_model, catalogue["b"].display_name) == ("b", "b")


def test_chains_and_offers_keep_only_configured_providers() -> None:
    catalogue = parse_catalogue(SMALL)
    assert [e.id for e in catalogue.chain("a", ["anthropic", "local"])] == ["a", "local"]
    assert [
        e.id for e in catalogue.chain("a", ["anthropic", "openai", "openai-compatible", "local"])
    ] == [
        "a",
        "b",
        "c",
        "local",
    ]
    assert [e.id for e in catalogue.offered(["local"])] == ["local"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[model]]\nid = 'x'\nprovider = 'acme'\ncontext_window = 1\n", "provider"),
        ("[[model]]\nid = 'x'\nprovider = 'local'\ncontext_window = 1\nfallbacks = ['y']\n", "'y'"),
        ("[[model]]\nid = 'x'\nprovider = 'local'\ncontext_window = 1\ncolour = 'red'\n", "colour"),
        ("[[model]]\nid = 'x'\nprovider = 'local'\ncontext_window = 1\n" * 2, "twice"),
        ("[[model]\n", "not valid TOML"),
    ],
)
def test_mistakes_are_reported_clearly(text: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(text, source="my.toml")


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="PARLEY_CATALOGUE"):
        load_catalogue(tmp_path / "nope.toml")


def test_the_bundled_catalogue_chains_end_with_the_local_model() -> None:
    catalogue = load_catalogue()
    everything = ["anthropic", "openai", "openai-compatible", "local"]
    assert "local" in catalogue
    for model_id, entry in catalogue.entries.items():
        chain = catalogue.chain(model_id, everything)
        assert chain[-1].id == "local", model_id
        assert entry.timeouts.first_token <= entry.timeouts.total
