"""The sidebar in a real browser: search old messages, rename, pin, delete with undo."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e


def word() -> str:
    """A word no other test uses, so each test finds only its own conversations."""
    return "w" + uuid.uuid4().hex[:10]


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


def chat_about(page: Page, app_url: str, *messages: str) -> str:
    """A new conversation with these messages (each answered); returns its URL."""
    open_new_chat(page, app_url)
    for text in messages:
        send(page, text)
        expect(last_reply(page)).to_contain_text(f"You said: {text}", timeout=15_000)
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    return page.url


def actions_for(page: Page, title_part: str) -> None:
    nav(page).get_by_role("button", name=re.compile(f"Actions for .*{title_part}")).click()


def test_search_finds_a_word_from_an_old_message(page: Page, app_url: str) -> None:
    rare = word()
    url = chat_about(page, app_url, f"the first thing: {rare} matters", "a later message")
    chat_about(page, app_url, "an unrelated conversation")
    search = nav(page).get_by_role("searchbox", name="Search conversations")
    search.fill(rare)
    results = nav(page).get_by_role("list", name="Search results")
    hit = results.get_by_role("link")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text(rare)
    hit.click()
    # The link names the best matching message, whose branch goes on screen.
    expect(page).to_have_url(re.compile(re.escape(url) + r"\?m=\d+$"))
    expect(page.get_by_role("log")).to_contain_text(rare)
    search.fill(word())  # nothing has it
    expect(nav(page)).to_contain_text("No conversation matches.")
    nav(page).get_by_role("button", name="Clear search").click()
    expect(nav(page).get_by_role("list", name="Recent conversations")).to_be_visible()


def test_rename_persists_and_updates_the_heading(page: Page, app_url: str) -> None:
    topic = word()
    chat_about(page, app_url, f"rename me {topic}")
    actions_for(page, topic)
    page.get_by_role("menuitem", name="Rename").click()
    title = nav(page).get_by_role("textbox", name="Conversation title")
    new_title = f"Renamed {topic}"
    title.fill(new_title)
    nav(page).get_by_role("button", name="Save").click()
    expect(nav(page).get_by_role("link", name=new_title)).to_be_visible()
    expect(page.get_by_role("heading", name=new_title)).to_be_visible()
    page.reload()
    expect(nav(page).get_by_role("link", name=new_title)).to_be_visible(timeout=30_000)
    # An empty title is refused with a readable reason.
    actions_for(page, topic)
    page.get_by_role("menuitem", name="Rename").click()
    nav(page).get_by_role("textbox", name="Conversation title").fill("   ")
    nav(page).get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_be_visible()


def test_pin_moves_a_conversation_to_the_pinned_group(page: Page, app_url: str) -> None:
    topic = word()
    chat_about(page, app_url, f"pin me {topic}")
    chat_about(page, app_url, "a newer conversation")
    pinned = nav(page).get_by_role("list", name="Pinned conversations")
    expect(pinned).to_have_count(0)
    actions_for(page, topic)
    page.get_by_role("menuitem", name="Pin").click()
    expect(pinned.get_by_role("link", name=re.compile(topic))).to_be_visible()
    recent = nav(page).get_by_role("list", name="Recent conversations")
    expect(recent.get_by_role("link", name=re.compile(topic))).to_have_count(0)
    actions_for(page, topic)
    page.get_by_role("menuitem", name="Unpin").click()
    expect(recent.get_by_role("link", name=re.compile(topic))).to_be_visible()


def test_delete_can_be_undone(page: Page, app_url: str) -> None:
    topic = word()
    url = chat_about(page, app_url, f"delete me {topic}")
    actions_for(page, topic)
    page.get_by_role("menuitem", name="Delete").click()
    # The open conversation was deleted: back to a new chat, with Undo offered.
    expect(page).to_have_url(app_url + "/")
    expect(nav(page).get_by_role("link", name=re.compile(topic))).to_have_count(0)
    nav(page).get_by_role("button", name="Undo").click()
    link = nav(page).get_by_role("link", name=re.compile(topic))
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(url)
    expect(page.get_by_role("log")).to_contain_text(f"delete me {topic}")
