"""Costs come from genai-prices; an unknown price is None, never 0."""

from __future__ import annotations

from decimal import Decimal

import genai_prices

from app.llm.base import Usage
from app.llm.pricing import PRICE_DATA_VERSION, price


def test_a_known_anthropic_model_is_priced_with_cache_tokens() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    plain = price("anthropic", "claude-sonnet-5-5", usage)
    assert plain.cost == Decimal(
        genai_prices.calc_price(
            genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000),
            "claude-sonnet-5-5",
            provider_id="anthropic",
        ).total_price
    )
    cached = price(
        "anthropic",
        "claude-sonnet-5-5",
        Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=900_000),
    )
    assert cached.cost is not None and plain.cost is not None and cached.cost < plain.cost
    assert plain.version == PRICE_DATA_VERSION == f"genai-prices {genai_prices.__version__}"


def test_a_known_openai_model_is_priced() -> None:
    result = price("openai", "gpt-4.1-mini", Usage(input_tokens=1000, output_tokens=500))
    assert result.cost == Decimal("0.0012")


def test_unknown_prices_are_none_not_zero() -> None:
    assert price("openai", "no-such-model-xyz", Usage(10, 10)).cost is None
    assert price("openai-compatible", "llama3.2", Usage(10, 10)).cost is None


def test_the_built_in_model_is_free() -> None:
    assert price("local", "smollm2-135m-instruct", Usage(10, 10)).cost == Decimal(0)


def test_every_cloud_model_in_the_default_catalogue_has_a_price() -> None:
    from app.llm.catalogue import load_catalogue

    for entry in load_catalogue().entries.values():
        if entry.provider in ("anthropic", "openai"):
            assert price(entry.provider, entry.provider_model, Usage(100, 100)).cost, entry.id
