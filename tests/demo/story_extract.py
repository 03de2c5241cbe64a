"""Story 4: structured extraction (a customer's email read for its sentiment, a meetup's
speakers as contacts, each result copied as JSON or CSV), and an agent run whose steps show
the tool it called, the arguments, the result and how long it took."""

from __future__ import annotations

from playwright.async_api import expect

from tests.demo.director import Demo
from tests.demo.script import AGENT_QUESTION, COMPLAINT, SPEAKERS_QUESTION
from tests.demo.server import RunningApp
from tests.demo.story_kit import open_chat, sign_up_quietly


async def extraction_and_agent(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await sign_up_quietly(page.context, app, "katherine@example.com")
    await open_chat(demo, "A new chat")

    await demo.send_message(
        f"/sentiment {COMPLAINT}", caption="/sentiment: how does this customer's email feel?"
    )
    sentiment = demo.log.locator(".extraction[data-extractor='sentiment']")
    await demo.see(sentiment, "negative", caption="A card: the sentiment, how sure, and why")
    await expect(sentiment).to_contain_text("0.94")
    await demo.copy(
        sentiment.get_by_role("button", name="Copy as JSON"),
        '"sentiment": "negative"',
        caption="Copy it as JSON",
    )

    await demo.send_message(SPEAKERS_QUESTION, caption="Ask who spoke at a meetup")
    await demo.wait_for_reply("Grace Hopper", caption="The answer names two speakers")
    await demo.click(
        demo.last_reply.get_by_role("button", name="Extract contacts"),
        caption="Extract contacts from the answer",
    )
    table = demo.last_reply.locator(".extraction[data-extractor='contacts']").get_by_role("table")
    await demo.see(table, "Grace Hopper", caption="A table: one row per person")
    await expect(table.get_by_role("row")).to_have_count(3)  # the header and two people
    await expect(table.get_by_role("cell", name="ada@example.org")).to_be_visible()
    await demo.copy(
        demo.last_reply.get_by_role("button", name="Copy as CSV"),
        "Grace Hopper,grace@example.com",
        caption="Copy the table as CSV, for a spreadsheet",
    )

    await demo.new_chat(caption="A new chat, for a question with arithmetic in it")
    switch = page.get_by_role("switch", name="Agent mode")
    await demo.click(switch, caption="Turn on agent mode: the model may use tools")
    await expect(switch).to_be_checked()
    await demo.send_message(AGENT_QUESTION, caption="Ask for a total with VAT, and per month")
    steps = demo.last_reply.locator("details.agent-step")
    await demo.see(
        steps.first.locator("summary"),
        "calculate",
        caption="Each tool call is a step: the calculator, as it runs",
    )
    await demo.wait_for_reply("€229.13", caption="Two calculations, then the answer")
    await expect(steps).to_have_count(2)
    first = steps.first
    await demo.see(first, "2340 * 1.175", caption="Step 1: its arguments, result and duration")
    await expect(first.locator("pre").last).to_have_text("2749.5")
    await expect(first).to_have_attribute("data-status", "ok")
    await expect(first.locator("summary")).to_contain_text(" s")  # its duration
    await demo.see(steps.nth(1), "229.125", caption="Step 2: the monthly share")
    await demo.click(first.locator("summary"), caption="Collapse a step to its one line")
    await expect(first.locator("pre").last).to_be_hidden()
    await demo.click(first.locator("summary"), caption="Open it again")
    await expect(first.locator("pre").last).to_be_visible()
