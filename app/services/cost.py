"""How spend reads on screen: pure functions over call-log totals.

The call log (``call_log``) is the truth: one row per attempt, failed attempts and titles
included, with ``cost`` in US dollars or NULL when the price is unknown. A reply's spend is
the sum of its own rows; a conversation's is every row it has (all branches, deleted
messages and titles). The rules, as shown:

- no rows: nothing is shown (the reply was not logged: a scripted model, or older data);
- every billed row priced: the sum, e.g. ``$0.0123``; the built-in model's rows cost 0, so
  its replies show ``free``;
- some rows priced, some unknown: ``≥ $0.0123`` (at least that much);
- no row priced (or under $0.0001 priced, some unknown): ``cost unknown``, never ``$0``.

An attempt that failed before any output with no usage reported (a 429, a 529) was not
billed; its NULL cost counts as nothing, not as unknown (``app.db.crud`` applies that rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SMALLEST = Decimal("0.0001")  # below this, amounts read "<$0.0001"


def format_usd(amount: Decimal) -> str:
    """A dollar amount, readable at a glance.

    ``$0``; under $0.0001 ``<$0.0001``; under $1 four decimals with trailing zeros dropped
    (but two kept): ``$0.0004``, ``$0.0123``, ``$0.50``; from $1 cents: ``$1.23``,
    ``$1,234.50``. Negative amounts (refunds do not exist here) are shown as 0.
    """
    if amount <= 0:
        return "$0"
    if amount < SMALLEST:
        return "<$0.0001"
    if amount < 1:
        rounded = amount.quantize(SMALLEST, rounding=ROUND_HALF_UP)
        if rounded < 1:
            digits = f"{rounded:.4f}".rstrip("0")
            whole, _, decimals = digits.partition(".")
            return f"${whole}.{decimals.ljust(2, '0')}"
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${cents:,.2f}"


@dataclass(frozen=True, slots=True)
class SpendText:
    """Spend as shown: a short text and a sentence for screen readers. Empty: show nothing."""

    text: str = ""
    label: str = ""


def reply_spend(calls: int, known: Decimal, unknown: int) -> SpendText:
    """One reply's cost, from its call-log rows (count, sum of priced, count unknown)."""
    if calls <= 0:
        return SpendText()
    attempts = "attempt" if calls == 1 else f"{calls} attempts"
    if unknown and known < SMALLEST:
        return SpendText("cost unknown", f"Cost unknown: no price is known for this {attempts}")
    if unknown:
        amount = format_usd(known)
        return SpendText(
            f"≥ {amount}",
            f"Cost at least {amount}: the price of {unknown} of {calls} attempts is unknown",
        )
    if known <= 0:
        return SpendText("free", "Cost nothing: a free model answered")
    amount = format_usd(known)
    label = f"Cost {amount}" + ("" if calls == 1 else f" over {calls} attempts")
    return SpendText(amount, label)


def conversation_spend(calls: int, known: Decimal, unknown: int) -> SpendText:
    """The conversation's running total, for its header."""
    if calls <= 0:
        return SpendText()
    what = "replies, their other versions and titles"
    if unknown and known < SMALLEST:
        return SpendText(
            "cost unknown", f"Spent on this conversation: unknown, no price is known ({what})"
        )
    amount = format_usd(known)
    if unknown:
        return SpendText(
            f"≥ {amount} spent",
            f"Spent on this conversation so far: at least {amount}; the price of {unknown} "
            f"of {calls} model calls is unknown ({what})",
        )
    return SpendText(
        f"{amount} spent", f"Spent on this conversation so far: {amount} in total ({what})"
    )
