"""Agent mode and extraction in a real browser: a step block streams in above the answer,
collapses, and is still there after a reload; a tool of a local MCP server; contacts
extracted into a table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e


def test_an_agent_turn_shows_its_steps_which_collapse_and_survive_a_reload(
    page: Page, app_url: str
) -> None:
    open_new_chat(page, app_url)
    switch = page.get_by_role("switch", name="Agent mode")
    switch.click()
    expect(switch).to_be_checked()
    send(page, "agent sum: what is 6 times 7?")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))

    # While the answer is still streaming (Stop is offered), the finished step is shown.
    step = last_reply(page).locator("details.agent-step")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    expect(step).to_have_attribute("data-status", "ok")
    expect(step.locator("summary")).to_contain_text("calculate")
    expect(step).to_contain_text("6*7")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()

    expect(last_reply(page)).to_contain_text("as the calculator says.", timeout=20_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    step = last_reply(page).locator("details.agent-step")
    expect(step).to_have_count(1)
    result = step.locator("pre").last
    expect(result).to_have_text("42")

    step.locator("summary").click()  # collapses
    expect(result).to_be_hidden()
    expect(step).not_to_have_attribute("open", "")

    page.reload()
    step = last_reply(page).locator("details.agent-step")
    expect(step).to_have_count(1, timeout=30_000)
    expect(step.locator("summary")).to_contain_text("calculate")
    expect(step.locator("pre").last).to_have_text("42")
    expect(last_reply(page)).to_contain_text("The product is 42")
    expect(page.get_by_role("switch", name="Agent mode")).to_be_checked()


def test_an_agent_turn_uses_a_tool_of_a_local_mcp_server(page: Page, app_url: str) -> None:
    """The e2e app runs with one MCP server (conftest's PARLEY_MCP_SERVERS): the SDK's own
    server side over stdio. The scripted model calls its ``add``; the step shows the server's
    answer, and the model's answer follows."""
    open_new_chat(page, app_url)
    switch = page.get_by_role("switch", name="Agent mode")
    switch.click()
    expect(switch).to_be_checked()
    send(page, "agent lab: add 20 and 22")

    step = last_reply(page).locator("details.agent-step")
    expect(step).to_have_attribute("data-status", "ok", timeout=30_000)
    expect(step.locator("summary")).to_contain_text("lab__add")
    expect(step.locator("pre").first).to_contain_text('"a": 20')
    expect(step.locator("pre").last).to_have_text("42")
    expect(last_reply(page)).to_contain_text("The lab server says 42.")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def test_contacts_are_extracted_into_a_table(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "/contacts Ada Lovelace, ada@example.org, +44 20 7946 0000, Analytical Engines")
    card = page.get_by_role("log").locator(".extraction[data-extractor='contacts']")
    expect(card).to_have_attribute("data-kind", "table", timeout=20_000)
    table = card.get_by_role("table")
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Name", "Email", "Phone", "Company", "Addresses"]
    )
    expect(table.get_by_role("cell", name="Ada Lovelace")).to_be_visible()
    expect(table.get_by_role("cell", name="ada@example.org")).to_be_visible()
    expect(table).to_contain_text("London")
    expect(page.get_by_role("button", name="Copy as CSV")).to_be_visible()


def test_an_admin_chooses_the_mcp_tools_a_project_may_use(page: Page, app_url: str) -> None:
    """The suite's user is the install's admin: /admin lists the lab server and its tools
    for the open project, all allowed until a choice is made."""
    page.goto(f"{app_url}/admin")
    whole = page.get_by_role("checkbox", name=re.compile(r"^Allow lab \(every tool\) in "))
    fail = page.get_by_role("checkbox", name=re.compile(r"^Allow lab: fail in "))
    expect(whole).to_be_checked(timeout=30_000)
    expect(fail).to_be_checked()
    fail.click()
    expect(page.get_by_role("status")).to_have_text("MCP tools saved.")
    expect(fail).not_to_be_checked()
    expect(whole).not_to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile(r"^Allow lab: add in "))).to_be_checked()
    page.get_by_role("button", name="Allow every server").click()
    expect(fail).to_be_checked()
    expect(whole).to_be_checked()
