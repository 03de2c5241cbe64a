"""Message actions in a real browser: regenerate and the version switcher, edit and resend,
copy, delete, and what each reply and the whole conversation cost."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.models import CallLog, Message
from app.services.cost import format_usd
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.e2e.test_providers import HAIKU_4, expect_title, expected_cost, pick, title_reply
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events

pytestmark = pytest.mark.e2e


def messages(page: Page, role: str) -> Locator:
    """The visible messages of one role, oldest first."""
    return page.get_by_role("log").locator(f".message[data-role='{role}']:visible")


def claude(text: str, input_tokens: int, output_tokens: int) -> Reply:
    return Reply(
        pieces=anthropic_events(
            [text], model=HAIKU_4, input_tokens=input_tokens, output_tokens=output_tokens
        )
    )


def test_regenerate_keeps_both_versions_and_costs_add_up(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(
        claude("The first answer.", 21, 13),
        title_reply("Two answers"),
        claude("The second.", 21, 9),
    )
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    send(page, "Answer me twice")
    reply = last_reply(page)
    expect(reply).to_contain_text("The first answer.")
    expect_title(page, "Two answers")
    first_cost = expected_cost(HAIKU_4, 21, 13)
    title_cost = expected_cost(HAIKU_4, 40, 4)
    expect(reply.locator(".reply-cost")).to_have_text(format_usd(first_cost))
    spend = page.get_by_label(re.compile("^Spent on this conversation"))
    expect(spend).to_have_text(f"{format_usd(first_cost + title_cost)} spent")

    reply.get_by_role("button", name="Regenerate", exact=True).click()
    second = last_reply(page)
    expect(second).to_contain_text("The second.")
    expect(second.get_by_label("Version 2 of 2")).to_have_text("2 / 2")
    expect(messages(page, "assistant")).to_have_count(1)
    # The model was asked the question again, without the answer it replaces.
    regenerated = anthropic.requests[-1].body["messages"]
    assert [m["role"] for m in regenerated] == ["user"]
    second_cost = expected_cost(HAIKU_4, 21, 9)
    expect(second.locator(".reply-cost")).to_have_text(format_usd(second_cost))
    total = first_cost + title_cost + second_cost
    expect(spend).to_have_text(f"{format_usd(total)} spent")

    # The switcher browses the versions; the old one is intact.
    second.get_by_role("button", name="Previous version", exact=True).click()
    older = last_reply(page)
    expect(older).to_contain_text("The first answer.")
    expect(older.get_by_label("Version 1 of 2")).to_be_visible()
    expect(older.get_by_role("button", name="Previous version", exact=True)).to_be_disabled()
    older.get_by_role("button", name="Next version", exact=True).click()
    expect(last_reply(page)).to_contain_text("The second.")
    # The versions survive a reload, and the header's total counts every call, both
    # versions and the title, as the call log has them.
    page.reload()
    expect(last_reply(page)).to_contain_text("The second.", timeout=30_000)
    expect(last_reply(page).get_by_label("Version 2 of 2")).to_be_visible()
    with Session(app_database) as session:
        reply_row = session.exec(
            select(Message).where(Message.content == "The second.").order_by(col(Message.id))
        ).first()
        assert reply_row is not None
        costs = session.exec(
            select(CallLog).where(CallLog.conversation_id == reply_row.conversation_id)
        ).all()
    assert sum((c.cost for c in costs if c.cost is not None), Decimal(0)) == total
    expect(spend).to_have_text(f"{format_usd(total)} spent")


def test_edit_and_resend_starts_a_branch_and_the_old_one_stays(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "first wording of the question")
    expect(last_reply(page)).to_contain_text("You said: first wording of the question")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()

    question = messages(page, "user").last
    question.get_by_role("button", name="Edit", exact=True).click()
    editor = page.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("first wording of the question")
    editor.fill("second wording of the question")
    page.get_by_role("button", name="Save and send", exact=True).click()
    expect(last_reply(page)).to_contain_text("You said: second wording of the question")
    expect(editor).to_have_count(0)
    question = messages(page, "user").last
    expect(question).to_contain_text("second wording of the question")
    expect(question.get_by_label("Version 2 of 2")).to_be_visible()
    expect(page.get_by_role("log")).not_to_contain_text("first wording")

    # The old question, with its own reply, is one click away.
    question.get_by_role("button", name="Previous version", exact=True).click()
    expect(messages(page, "user").last).to_contain_text("first wording of the question")
    expect(last_reply(page)).to_contain_text("You said: first wording of the question")
    expect(messages(page, "user")).to_have_count(1)
    # Cancel leaves the question as it was.
    messages(page, "user").last.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_role("textbox", name="Edit message").fill("never sent")
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_role("textbox", name="Edit message")).to_have_count(0)
    expect(messages(page, "user").last).to_contain_text("first wording of the question")


def test_copy_puts_the_text_on_the_clipboard(page: Page, app_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    open_new_chat(page, app_url)
    send(page, "copy this exact text")
    reply = last_reply(page)
    expect(reply).to_contain_text("You said: copy this exact text")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    reply.get_by_role("button", name="Copy", exact=True).click()
    page.wait_for_function(
        "async () => (await navigator.clipboard.readText()) === 'You said: copy this exact text'"
    )
    messages(page, "user").last.get_by_role("button", name="Copy", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()") == "copy this exact text"


def test_delete_asks_then_removes_the_message_and_its_reply(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "keep this one")
    expect(last_reply(page)).to_contain_text("You said: keep this one")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    send(page, "delete this one")
    expect(last_reply(page)).to_contain_text("You said: delete this one")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()

    doomed = messages(page, "user").last
    doomed.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("alertdialog", name="Delete this message and its replies?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("log")).to_contain_text("delete this one")

    messages(page, "user").last.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete", exact=True).click()
    log = page.get_by_role("log")
    expect(log).not_to_contain_text("delete this one")
    expect(messages(page, "user")).to_have_count(1)
    expect(last_reply(page)).to_contain_text("You said: keep this one")
    page.reload()
    expect(last_reply(page)).to_contain_text("You said: keep this one", timeout=30_000)
    expect(page.get_by_role("log")).not_to_contain_text("delete this one")
