"""How spend reads: dollar formatting and the per-reply and per-conversation texts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.cost import SpendText, conversation_spend, format_usd, reply_spend


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "$0"),
        ("-0.5", "$0"),
        ("0.000000001", "<$0.0001"),
        ("0.00009999", "<$0.0001"),
        ("0.0001", "$0.0001"),
        ("0.00042", "$0.0004"),
        ("0.00045", "$0.0005"),
        ("0.0123", "$0.0123"),
        ("0.012345", "$0.0123"),
        ("0.04", "$0.04"),
        ("0.5", "$0.50"),
        ("0.99994", "$0.9999"),
        ("0.99996", "$1.00"),
        ("1.234", "$1.23"),
        ("1234.5", "$1,234.50"),
    ],
)
def test_amounts_read_sensibly(amount: str, shown: str) -> None:
    assert format_usd(Decimal(amount)) == shown


def test_a_reply_shows_its_cost_or_says_it_is_unknown() -> None:
    assert reply_spend(0, Decimal(0), 0) == SpendText()  # nothing logged: nothing shown
    assert reply_spend(1, Decimal("0.00042"), 0) == SpendText("$0.0004", "Cost $0.0004")
    assert reply_spend(2, Decimal("0.0123"), 0) == SpendText(
        "$0.0123", "Cost $0.0123 over 2 attempts"
    )
    assert reply_spend(1, Decimal(0), 0) == SpendText("free", "Cost nothing: a free model answered")
    unknown = reply_spend(1, Decimal(0), 1)
    assert unknown.text == "cost unknown" and "$0" not in unknown.label
    partly = reply_spend(3, Decimal("0.002"), 1)
    assert partly == SpendText(
        "≥ $0.002", "Cost at least $0.002: the price of 1 of 3 attempts is unknown"
    )


def test_the_conversation_total_reads_as_spent() -> None:
    assert conversation_spend(0, Decimal(0), 0) == SpendText()
    total = conversation_spend(4, Decimal("0.0123"), 0)
    assert total.text == "$0.0123 spent"
    assert total.label.startswith("Spent on this conversation so far: $0.0123")
    assert conversation_spend(2, Decimal(0), 0).text == "$0 spent"
    assert conversation_spend(2, Decimal(0), 2).text == "cost unknown"
    some = conversation_spend(3, Decimal("0.02"), 1)
    assert some.text == "≥ $0.02 spent" and "1 of 3" in some.label
    # "At least <$0.0001" says nothing: an unknown price with next to nothing known is unknown.
    assert conversation_spend(3, Decimal("0.00002"), 1).text == "cost unknown"
    assert reply_spend(2, Decimal("0.00002"), 1).text == "cost unknown"
