"""Layout in a real browser: the phone layout's drawer, and the log's scroll-follow."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e

CONVERSATION_URL = re.compile(r"/c/[0-9a-f]{32}$")
PHONE: ViewportSize = {"width": 390, "height": 844}


def idle(page: Page) -> None:
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.body.scrollWidth]"
    )
    assert max(widths[0], widths[2]) <= widths[1], f"the page scrolls sideways: {widths}"


def in_viewport(page: Page, locator: Locator) -> None:
    box = locator.bounding_box()
    assert box is not None
    size = page.viewport_size
    assert size is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5, box


def test_phone_layout_puts_the_sidebar_in_a_drawer(page: Page, app_url: str) -> None:
    page.set_viewport_size(PHONE)
    open_new_chat(page, app_url)
    send(page, "phone first topic")
    expect(last_reply(page)).to_contain_text("You said: phone first topic")
    idle(page)
    expect(page).to_have_url(CONVERSATION_URL)
    first = page.url
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    send(page, "phone second topic " + "long words " * 40)
    expect(last_reply(page)).to_contain_text("You said: phone second topic")
    idle(page)

    # The sidebar is not on screen; the composer and its button are, with no sideways scroll.
    expect(page.get_by_role("navigation", name="Conversations")).to_be_hidden()
    composer = page.get_by_role("textbox", name="Message")
    in_viewport(page, composer)
    in_viewport(page, page.get_by_role("button", name="Send", exact=True))
    no_horizontal_scroll(page)
    # Every header control is on screen, and the title keeps room to be read.
    for control in (
        page.get_by_role("button", name="Conversations"),
        page.get_by_role("combobox", name="Model"),
        page.get_by_role("combobox", name="Theme"),
        page.get_by_role("button", name="Command palette"),
        page.get_by_role("button", name="New chat", exact=True),
    ):
        in_viewport(page, control)
    title = page.get_by_role("heading", level=1)
    in_viewport(page, title)
    assert (title.bounding_box() or {"width": 0})["width"] >= 100

    opener = page.get_by_role("button", name="Conversations")
    # Esc closes the drawer and focus returns to its button.
    opener.click()
    drawer = page.get_by_role("dialog", name="Conversations")
    expect(drawer).to_be_visible()
    nav = drawer.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("link", name="phone first topic")).to_be_visible()
    no_horizontal_scroll(page)
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(opener).to_be_focused()
    # So does its close button.
    opener.click()
    expect(drawer).to_be_visible()
    drawer.get_by_role("button", name="Close conversations").click()
    expect(drawer).to_be_hidden()
    # Choosing a conversation opens it and closes the drawer.
    opener.click()
    drawer.get_by_role("link", name="phone first topic").click()
    expect(drawer).to_be_hidden()
    expect(page).to_have_url(first)
    expect(page.get_by_role("log")).to_contain_text("phone first topic")
    # New chat from the drawer too.
    opener.click()
    drawer.get_by_role("button", name="New chat", exact=True).click()
    expect(drawer).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/$"))
    # The chat still works at this size.
    send(page, "phone third topic")
    expect(last_reply(page)).to_contain_text("You said: phone third topic")
    in_viewport(page, composer)
    no_horizontal_scroll(page)


def test_wide_layout_shows_the_sidebar_and_no_drawer_button(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
    expect(page.get_by_role("button", name="Conversations")).to_be_hidden()
    no_horizontal_scroll(page)


def scroll_gap(log: Locator) -> float:
    """How far the log is from its bottom, in pixels."""
    return log.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight")


def reaches_bottom(page: Page, log: Locator) -> None:
    """The log is at its bottom within a moment (new text lands a frame before the scroll)."""
    page.wait_for_function(
        "(el) => el.scrollHeight - el.scrollTop - el.clientHeight <= 48",
        arg=log.element_handle(),
        timeout=2_000,
    )


def test_the_log_follows_only_at_the_bottom(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    log = page.get_by_role("log", name="Messages")
    jump = page.get_by_role("button", name="Jump to latest")
    send(page, "many lines")
    expect(log).to_contain_text("line 030")
    # At the bottom, it follows the new lines as they stream.
    assert log.evaluate("(el) => el.scrollHeight > el.clientHeight")
    expect(jump).to_be_hidden()
    for _ in range(3):
        page.wait_for_timeout(200)
        reaches_bottom(page, log)
    # Scrolled up, it stays where the reader is, and offers a way down.
    log.hover()
    page.mouse.wheel(0, -600)
    expect(jump).to_be_visible()
    top = log.evaluate("(el) => el.scrollTop")
    expect(log).to_contain_text("line 080")  # more arrived meanwhile
    assert log.evaluate("(el) => el.scrollTop") == top
    assert scroll_gap(log) > 600
    jump.click()
    expect(jump).to_be_hidden()
    reaches_bottom(page, log)
    # And follows again from there.
    expect(log).to_contain_text("line 120")
    reaches_bottom(page, log)
    page.get_by_role("button", name="Stop", exact=True).click()
    idle(page)
