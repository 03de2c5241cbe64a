"""What the scripted model answers in the demos (``PARLEY_FAKE_SCRIPT`` rules, first match
wins, searched in the last user message). Titles are asked for with the conversation as
"User: ...", so each story has a title rule too."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.code_panel_reply import CODE_PANEL_REPLY

LISBON = (
    "A relaxed weekend in **Lisbon**:\n\n"
    "1. **Saturday morning**: tram 28 up to Alfama, then the Castelo de São Jorge.\n"
    "2. **Saturday evening**: fado in a small tasca.\n"
    "3. **Sunday**: pastéis de Belém, the Jerónimos Monastery, a walk by the Tagus.\n"
)
LIGHTHOUSE = (
    "Once upon a time, on a rock far out at sea, there stood a lighthouse whose lamp had "
    "never once gone dark. Its keeper, old Maren, climbed the hundred and twelve steps every "
    "evening at dusk, trimmed the wick, polished the great lens and watched the ships slide "
    "past like slow fish of light. One winter the storms came early and stayed, and the "
    "supply boat could not land for weeks. Maren rationed her oil, then her candles, then "
    "her matches, and every night the lamp still turned. On the longest night a small boat "
    "came out of the dark, its sail torn, and the lamp showed it the only safe way in. "
    "The fisher who sailed it stayed until spring, and learned the steps, and the wick, and "
    "the lens, so that the light would never again depend on one pair of hands."
)
LIGHTHOUSE_CAT = (
    "Maren's cat, Pilot, believed the lighthouse was his. He slept on the warm lamp housing, "
    "chased moths around the lens, and every night he sat in the gallery window and counted "
    "the ships. When the storm came, it was Pilot who heard the small boat's bell first."
)
FIZZBUZZ = '''def fizzbuzz(n: int) -> list[str]:
    """The FizzBuzz sequence from 1 to n."""
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
        out.append(word or str(i))
    return out


if __name__ == "__main__":
    print("\\n".join(fizzbuzz(15)))
'''
FIZZBUZZ_EXPLAINED = (
    "`fizzbuzz.py` builds the FizzBuzz sequence:\n\n"
    "- For each number from 1 to `n` it adds **Fizz** when the number divides by 3 and "
    "**Buzz** when it divides by 5, so 15 becomes *FizzBuzz*.\n"
    "- When neither applies, the number itself is kept, as text.\n"
    "- Run as a script, it prints the first fifteen entries, one a line.\n\n"
    "A shorter test of the same rule:\n\n"
    "```python\nassert fizzbuzz(15)[-1] == 'FizzBuzz'\n```\n"
)

# Story 4: a customer's email read for its sentiment, the speakers of a meetup as contacts,
# and an agent that works a sum out with the calculator.
COMPLAINT = (
    "I waited three weeks for an answer, and the update you finally sent broke our monthly "
    "exports. We are seriously thinking about leaving."
)
SENTIMENT = {
    "sentiment": "negative",
    "confidence": 0.94,
    "reasoning": "A long wait, a fix that broke something else, and a threat to leave.",
}
SPEAKERS_QUESTION = "Who spoke at the Lisbon meetup, and how do I reach them?"
SPEAKERS = (
    "Two people spoke at the Lisbon meetup:\n\n"
    "- **Ada Lovelace** of Analytical Engines, on programs as notes for a machine: "
    "ada@example.org, +44 20 7946 0000 (office at 12 St James's Square, London).\n"
    "- **Grace Hopper** of Cobol Works, on compilers for everyone: grace@example.com, "
    "+1 212 555 0142 (office at 1 Navy Yard, New York).\n"
)
CONTACTS = {
    "contacts": [
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "phone": "+44 20 7946 0000",
            "company": "Analytical Engines",
            "addresses": [{"street": "12 St James's Square", "city": "London", "type": "work"}],
        },
        {
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+1 212 555 0142",
            "company": "Cobol Works",
            "addresses": [{"street": "1 Navy Yard", "city": "New York", "type": "work"}],
        },
    ]
}
AGENT_QUESTION = (
    "An order of 2,340 euros plus 17.5% VAT: what is the total, and what is it a month "
    "over 12 months?"
)
AGENT_CALLS = [
    {"name": "calculate", "arguments": {"expression": "2340 * 1.175"}},
    {"name": "calculate", "arguments": {"expression": "2340 * 1.175 / 12"}},
]
AGENT_ANSWER = (
    "With 17.5% VAT the order comes to **€2,749.50**. Spread over 12 months, that is "
    "**€229.13** a month (229.125, rounded to the cent)."
)
# Story 5: the answer "Anthropic" (the loopback server) gives, whose usage uses most of a
# small monthly token budget.
QUARTER = " ".join(
    [
        "This quarter's support tickets, in short: 412 tickets came in, 9% more than last "
        "quarter, and 388 were closed, most of them within a day.",
        "Exports were the biggest theme: the October update broke scheduled monthly exports "
        "for about forty teams, and those tickets took the longest to close because the fix "
        "needed a second release.",
        "Sign-in problems fell by half after single sign-on arrived, and billing questions "
        "stayed flat.",
        "Satisfaction after a closed ticket averaged 4.3 out of 5, down from 4.5, almost "
        "entirely because of the export tickets.",
        "The busiest day was the Monday after the update, with 61 tickets, and the quietest "
        "weeks were over the holidays, as usual.",
        "Three customers asked about leaving, all of them over exports; two have stayed "
        "since the fix, and the third is waiting for the next release.",
        "Two suggestions: warn teams before an update that touches exports, and give the "
        "support team a dashboard of the tickets still open after three days.",
    ]
)
QUARTER_QUESTION = "Summarise this quarter's support tickets, please."


def rules(*, fast: bool) -> list[dict[str, Any]]:
    """The rule file. Fast mode streams quickly, except the reply the Stop story needs to
    still be streaming when Stop is pressed."""
    delay = 2 if fast else 35
    return [
        {"match": "^Write a slugify", "reply": CODE_PANEL_REPLY, "chunk_chars": 6,
         "delay_ms": delay},
        {"match": "^User: Write a slugify", "reply": "Slugify helper for URLs"},
        {"match": "^Plan a weekend in Lisbon", "reply": LISBON, "chunk_chars": 6,
         "delay_ms": delay},
        {"match": "^User: Plan a weekend", "reply": "A weekend in Lisbon"},
        {"match": "^Tell me a story about a lighthouse keeper's cat", "reply": LIGHTHOUSE_CAT,
         "chunk_chars": 5, "delay_ms": delay},
        {"match": "^Tell me a story about a lighthouse", "reply": LIGHTHOUSE, "chunk_chars": 4,
         "delay_ms": 40 if fast else 70},
        {"match": "^User: Tell me a story", "reply": "The lighthouse keeper"},
        {"match": "^Explain this file", "reply": FIZZBUZZ_EXPLAINED, "chunk_chars": 6,
         "delay_ms": delay},
        {"match": "^User: Explain this file", "reply": "FizzBuzz, explained"},
        # Story 4. Extraction asks for its tool with the text as the user's message. A slash
        # command has no reply, so the next question is sent joined to it (one user turn).
        {"match": "^" + re.escape(COMPLAINT[:30]),
         "tool_calls": [{"name": "sentiment", "arguments": SENTIMENT}]},
        # The title's rule comes first: the title's prompt holds the question too.
        {"match": "^User: (/sentiment|Who spoke)", "reply": "A customer, and the speakers"},
        {"match": re.escape(SPEAKERS_QUESTION), "reply": SPEAKERS, "chunk_chars": 6,
         "delay_ms": delay},
        {"match": "^" + re.escape(SPEAKERS[:30]),
         "tool_calls": [{"name": "contacts", "arguments": CONTACTS}]},
        {"match": "^An order of 2,340 euros", "reply": "Let me work that out. ",
         "tool_calls": AGENT_CALLS},
        {"match": "^An order of 2,340 euros", "after_tool": True, "reply": AGENT_ANSWER,
         "chunk_chars": 4, "delay_ms": delay, "first_delay_ms": 0 if fast else 2500},
        {"match": "^User: An order of", "reply": "VAT on an order"},
    ]  # fmt: skip
