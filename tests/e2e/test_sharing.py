"""Sharing in a real browser (issue 13), two users in two browser contexts: the owner shares a
conversation with the other as viewer (read only: no composer), upgrades them to participant
(they send), revokes (they lose it); a read-only link opens for a signed-in account and is
refused to nobody (public links are off, the default), and dies when revoked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import E2E_PASSWORD, sign_up, watch_errors
from tests.e2e.test_accounts import CONVERSATION_GONE, CONVERSATION_URL, DESKTOP, new_email
from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e

READ_ONLY = "You can read this conversation, not send in it."


def share_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=re.compile("^Share"))).to_be_visible()
    return dialog


def close(dialog: Locator) -> None:
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()


def test_share_view_participate_revoke_and_link(browser: Browser, app_url: str) -> None:
    owner_context = browser.new_context(viewport=DESKTOP)
    sign_up(owner_context, app_url, new_email("owner"), E2E_PASSWORD)
    owner = owner_context.new_page()
    guest_email = new_email("guest")
    guest_context = browser.new_context(viewport=DESKTOP)
    sign_up(guest_context, app_url, guest_email, E2E_PASSWORD)
    guest = guest_context.new_page()
    problems = watch_errors(owner) + watch_errors(guest)

    open_new_chat(owner, app_url)
    send(owner, "show markdown for the team")
    expect(owner).to_have_url(CONVERSATION_URL)
    expect(last_reply(owner)).to_contain_text("plain text block")
    conversation = owner.url

    # Before any share: the guest gets what a stranger gets.
    open_new_chat(guest, app_url)
    guest.goto(conversation)
    expect(guest.get_by_text(CONVERSATION_GONE)).to_be_visible()

    # Shared as a viewer.
    dialog = share_dialog(owner)
    dialog.get_by_label("Email").fill(guest_email)
    dialog.get_by_label("Role", exact=True).select_option("viewer")
    dialog.get_by_role("button", name="Add person").click()
    people = dialog.get_by_role("list", name="Who has access")
    expect(people).to_contain_text(guest_email)
    close(dialog)
    expect(owner.locator("header").get_by_text("Shared", exact=True)).to_be_visible()
    sidebar = owner.get_by_role("navigation", name="Conversations")
    expect(sidebar.get_by_role("list", name="Recent conversations")).to_contain_text("Shared")

    guest.goto(conversation)
    expect(guest.get_by_role("log")).to_contain_text("show markdown for the team")
    expect(guest.get_by_role("log")).to_contain_text("plain text block")
    expect(guest.get_by_text(READ_ONLY)).to_be_visible()
    expect(guest.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(guest.get_by_role("button", name="Send", exact=True)).to_have_count(0)
    expect(guest.get_by_role("button", name="Regenerate")).to_have_count(0)
    expect(guest.get_by_role("button", name="Share", exact=True)).to_have_count(0)
    expect(guest.locator("header").get_by_text("Shared with you: view only")).to_be_visible()
    shared_with_me = guest.get_by_role("list", name="Shared with me")
    expect(shared_with_me).to_contain_text("show markdown for the team")

    # Upgraded to participant: the guest sends, and the owner sees it.
    dialog = share_dialog(owner)
    # The guest's row is named by their name and email ("Role of <name> (<email>)").
    role = dialog.get_by_label(re.compile(f"^Role of .*{re.escape(guest_email)}"))
    role.select_option("participant")
    expect(role).to_have_value("participant")
    close(dialog)
    guest.reload()
    expect(guest.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)
    expect(guest.locator("header").get_by_text("Shared with you", exact=True)).to_be_visible()
    send(guest, "show markdown from the guest")
    expect(guest.get_by_role("log")).to_contain_text("show markdown from the guest")
    expect(last_reply(guest)).to_contain_text("plain text block")
    owner.reload()
    expect(owner.get_by_role("log")).to_contain_text("show markdown from the guest")

    # A read-only link: a signed-in account that was never shared with opens it.
    dialog = share_dialog(owner)
    dialog.get_by_role("button", name="Create link").click()
    link_box = dialog.get_by_label("Link", exact=True)
    expect(link_box).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{43}$"))
    link = link_box.input_value()
    expect(dialog.get_by_role("button", name="Copy link")).to_be_visible()

    # Revoked: the guest loses the conversation at once.
    dialog.get_by_role("button", name=re.compile(f"^Remove .*{re.escape(guest_email)}")).click()
    expect(people).not_to_contain_text(guest_email)
    close(dialog)
    guest.goto(conversation)
    expect(guest.get_by_text(CONVERSATION_GONE)).to_be_visible()
    expect(guest.get_by_role("log")).not_to_contain_text("show markdown for the team")

    guest.goto(link)
    expect(guest.get_by_role("heading", level=1)).to_contain_text("show markdown for the team")
    messages = guest.get_by_role("log", name="Messages")
    expect(messages).to_contain_text("show markdown from the guest")
    expect(guest.get_by_role("textbox", name="Message")).to_have_count(0)

    # Nobody: refused (and offered the login page), not shown the conversation.
    nobody_context = browser.new_context(viewport=DESKTOP)
    nobody = nobody_context.new_page()
    nobody.goto(link)
    expect(nobody.get_by_text("Log in to open this shared conversation.")).to_be_visible()
    expect(nobody.get_by_role("link", name="Log in")).to_be_visible()
    expect(nobody.get_by_role("log", name="Messages")).to_have_count(0)
    nobody_context.close()

    # The link revoked: it opens for nobody any more.
    dialog = share_dialog(owner)
    dialog.get_by_role("button", name="Revoke link").click()
    expect(dialog.get_by_role("button", name="Create link")).to_be_visible()
    close(dialog)
    guest.goto(link)
    expect(guest.get_by_text(re.compile("was revoked"))).to_be_visible()
    expect(guest.get_by_role("log", name="Messages")).to_have_count(0)

    owner_context.close()
    guest_context.close()
    assert not problems, "\n".join(problems)
