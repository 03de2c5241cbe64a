"""How a finished reply renders: GitHub-flavoured markdown and labelled, copyable code."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e


def test_tables_task_lists_and_labelled_code_blocks(page: Page, app_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_new_chat(page, app_url)
    send(page, "show markdown")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    reply = last_reply(page)

    table = reply.get_by_role("table")
    expect(table.get_by_role("columnheader", name="Model")).to_be_visible()
    expect(table.get_by_role("cell", name="fast")).to_be_visible()

    boxes = reply.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    expect(boxes.first).to_be_checked()
    expect(boxes.last).not_to_be_checked()

    python = reply.get_by_role("group", name="python code")
    expect(python).to_contain_text("def greet(name):")
    expect(python.locator(".code-lang")).to_have_text("python")
    # Highlighted: the keyword sits in its own styled token.
    keyword = python.locator("span[style*='color']").filter(has_text=re.compile(r"^def$"))
    expect(keyword.first).to_be_visible()
    expect(reply.get_by_role("group", name="code", exact=True).locator(".code-lang")).to_have_text(
        "text"
    )

    python.get_by_role("button", name="Copy code").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == "def greet(name):\n    return f'hi {name}'"
