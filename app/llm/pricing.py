"""Costs from ``genai-prices`` (pydantic's price database), never from a hand-kept table.

An unknown price is ``None``, never 0. The built-in local model is known to cost nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import genai_prices

from app.llm.base import Usage

log = logging.getLogger(__name__)

PRICE_DATA_VERSION = f"genai-prices {genai_prices.__version__}"

# our provider names -> genai-prices provider ids; others have no known price
_PROVIDER_IDS = {"anthropic": "anthropic", "openai": "openai"}
_FREE = frozenset({"local", "fake"})


@dataclass(frozen=True, slots=True)
class Price:
    cost: Decimal | None  # US dollars; None when unknown
    version: str  # the price data it came from


def price(provider: str, provider_model: str, usage: Usage) -> Price:
    """What a call cost. ``usage.input_tokens`` includes cache reads and writes."""
    if provider in _FREE:
        return Price(Decimal(0), PRICE_DATA_VERSION)
    provider_id = _PROVIDER_IDS.get(provider)
    if provider_id is None:
        return Price(None, PRICE_DATA_VERSION)
    try:
        calc = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            ),
            provider_model,
            provider_id=provider_id,
        )
    except LookupError:
        return Price(None, PRICE_DATA_VERSION)
    except Exception as exc:  # a price bug must never break a chat
        log.warning("pricing failed for %s/%s: %r", provider, provider_model, exc)
        return Price(None, PRICE_DATA_VERSION)
    return Price(Decimal(calc.total_price), PRICE_DATA_VERSION)
