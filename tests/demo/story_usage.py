"""Story 5: the usage dashboard on a generated year of calls (bench/gen_calls.py, written
into the demo app's database before the story starts). The install's admin widens it to the
year, filters one model, drills into a call, downloads the CSV (its rows add up to the
headline); then gives herself a small monthly token budget, and one long answer in the chat
raises the alert the dashboard shows."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Locator, Page, expect
from sqlalchemy import create_engine

from app.services.cost import format_usd
from bench.gen_calls import load
from tests.demo.director import Demo
from tests.demo.script import QUARTER, QUARTER_QUESTION
from tests.demo.server import OPERATOR_EMAIL, RunningApp
from tests.demo.story_kit import open_chat, sign_in_as_operator
from tests.providers.loopback import Reply, anthropic_events

YEAR_OF_CALLS = 24_000
MODEL = "claude-sonnet-4-6"
# The summary comes from "Anthropic" (the loopback server), whose calls the call log prices;
# the scripted model's are not logged. The budget guard lets a call through only if its
# worst case (the input's estimate plus Max tokens) fits: with Max tokens at 150 the question
# fits 200 tokens (and warns: 171 is over 80%), and the answer's usage (24 in, 140 out, as
# the loopback reports it) is 82% of it.
CHAT_MODEL = "claude-haiku-4-5"
TOKEN_BUDGET = "200"
MAX_TOKENS = "150"
TOKENS_IN, TOKENS_OUT = 24, 140
LOADING_MS = 30_000  # the dashboard reads a year of calls again after each filter


def load_a_year(app: RunningApp) -> None:
    engine = create_engine(f"sqlite:///{app.database}")
    try:
        load(engine, YEAR_OF_CALLS, end=datetime.now(UTC), seed=5)
    finally:
        engine.dispose()


def headline_cost(page: Page) -> Locator:
    return page.get_by_role("group", name="Cost").get_by_test_id("figure-value")


def csv_total(path: Path) -> tuple[int, set[str], Decimal]:
    """The export's rows: how many, their models, and their costs' sum."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    costs = (Decimal(r["cost_usd"]) for r in rows if r["cost_usd"])
    return len(rows), {r["model"] for r in rows}, sum(costs, Decimal(0))


async def usage_dashboard(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    await asyncio.to_thread(load_a_year, app)
    await sign_in_as_operator(page.context, app)

    await demo.open("/usage", caption="The usage dashboard, as the admin: the last 30 days")
    await expect(headline_cost(page)).to_have_text(re.compile(r"\$"))
    month_cost = await headline_cost(page).inner_text()
    last = date.fromisoformat(await page.get_by_label("To", exact=True).input_value())
    first = (last - timedelta(days=364)).isoformat()
    await demo.set_date(
        page.get_by_label("From", exact=True),
        first,
        caption="Widen it to the whole year",
        wait_ms=LOADING_MS,
    )
    await expect(page).to_have_url(re.compile(f"from={first}"))
    await expect(headline_cost(page)).not_to_have_text(month_cost, timeout=LOADING_MS)
    await demo.see(
        page.get_by_role("heading", name=re.compile("^Cost per day")),
        "Cost per day",
        caption="A year of calls: cost per day by model, tokens, features, latency",
    )
    await expect(page.locator("svg.recharts-surface").first).to_be_visible()
    year_cost = await headline_cost(page).inner_text()

    await demo.choose(
        page.get_by_label("Model"),
        MODEL,
        caption="Filter: Claude Sonnet 4.6 only",
        wait_ms=LOADING_MS,
    )
    await expect(page).to_have_url(re.compile(f"model={MODEL}"))
    await expect(headline_cost(page)).not_to_have_text(year_cost, timeout=LOADING_MS)
    cost = await headline_cost(page).inner_text()

    await demo.click(
        page.get_by_role("button", name=re.compile(r"^Open call \d+")).first,
        caption="Drill into a call from the call log",
    )
    dialog = page.get_by_role("dialog", name="Call details")
    await demo.see(
        dialog, "Price version", caption="Every attempt: model, tokens, latency, cost, prices"
    )
    await expect(dialog).to_contain_text(MODEL)
    await demo.click(dialog.get_by_role("button", name="Close"), caption="Close it")
    await expect(dialog).to_be_hidden()

    csv_file = await demo.download(
        page.get_by_role("link", name="Download CSV"), caption="Download the filtered calls as CSV"
    )
    count, models, total = csv_total(csv_file)
    if models != {MODEL} or cost.removeprefix("≥ ") != format_usd(total):
        raise AssertionError(f"the CSV has {models} adding up to {total}, the headline {cost}")
    await demo.note(f"{csv_file.name}: {count:,} calls, adding up to the headline's {cost}")

    await demo.open("/admin", caption="The admin page: budgets per user and per project")
    await demo.fill(
        page.get_by_label(f"Monthly token budget of {OPERATOR_EMAIL}"),
        TOKEN_BUDGET,
        caption="Give yourself a small monthly token budget",
    )
    await demo.click(
        page.get_by_role("button", name=f"Save budget of {OPERATOR_EMAIL}"), caption="Save it"
    )
    saved = page.get_by_role("status").filter(has_text="Budget saved.")
    await demo.see(saved, "Budget saved.", caption="Saved")

    app.anthropic.reset()
    pieces = [QUARTER[i : i + 24] for i in range(0, len(QUARTER), 24)]
    events = anthropic_events(
        pieces, model=CHAT_MODEL, input_tokens=TOKENS_IN, output_tokens=TOKENS_OUT
    )
    app.anthropic.script(Reply(pieces=events, delay=0 if demo.pace.fast else 0.04))
    await open_chat(demo, "Back in the chat")
    await demo.pick_model(CHAT_MODEL, caption="Choose Claude Haiku 4.5")
    await demo.click(
        page.get_by_role("button", name="Parameters", exact=True), caption="Open Parameters"
    )
    await demo.fill(
        page.get_by_label("Max tokens"), MAX_TOKENS, caption="Cap the answer at 150 tokens"
    )
    await demo.click(
        page.get_by_role("button", name="Save parameters"), caption="Save the parameters"
    )
    await expect(page.get_by_role("dialog", name="Parameters")).to_be_hidden()
    await demo.send_message(QUARTER_QUESTION, caption="Ask for a summary of the quarter")
    await demo.see(
        page.get_by_text(re.compile("monthly token budget is 80% used")),
        "80% used",
        caption="A warning: this request could take the budget to 80%",
    )
    await demo.wait_for_reply("dashboard of the tickets", caption="The summary")
    used = f"{TOKENS_IN} in · {TOKENS_OUT} out"
    await demo.see(demo.last_reply, used, caption=f"It used {used} tokens: 82% of the budget")

    await demo.open("/usage", caption="Back to the dashboard")
    alerts = page.get_by_role("region", name="Alerts")
    await demo.see(
        alerts, "80% of its monthly token budget", caption="The budget alert, at the top"
    )
    await demo.see(
        page.get_by_role("group", name=re.compile(r"^user .* budget$")),
        f"of {TOKEN_BUDGET} tokens",
        caption="and the budget's bar, with the month-end projection",
    )
