"""Moving between a new chat and saved conversations: the races between the browser's address,
Reflex's on_load and the page's own events, each reproduced on a deliberately slow page.

Two causes, both fixed where they start:
- ``/`` and ``/c/<id>`` were two routes, so every move between them (a new chat's first
  message, New chat, a sidebar link from a new chat) unmounted the whole page and mounted
  another, whenever the new route had loaded: focus, an open palette or a half-typed key
  went with the old page. One route now serves both (app/app.py).
- New chat emptied the log in one update and moved the address in the next, so Back in
  between left the app from an empty page. The log now empties in ``/``'s on_load, once the
  address is ``/`` (state/chat.py, ``new_chat``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e

CONVERSATION = re.compile(r"/c/[0-9a-f]{32}$")
MOD = "Control"


def slow_down(page: Page, rate: float = 6) -> None:
    """Run the page on a CPU ``rate`` times slower (Chrome DevTools' throttling)."""
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": rate})


def mark_page(page: Page) -> None:
    """Tag the page's composer and sidebar, to tell later whether they were mounted anew."""
    page.evaluate(
        """() => {
          window.__marked = [
            document.querySelector("textarea[name=message]"),
            document.querySelector("nav[aria-label=Conversations]"),
          ];
        }"""
    )


def same_page(page: Page) -> bool:
    return page.evaluate(
        """() => window.__marked[0] === document.querySelector("textarea[name=message]")
             && window.__marked[1] === document.querySelector("nav[aria-label=Conversations]")"""
    )


class HeldRedirects:
    """Passes Reflex's socket through, but holds back every redirect the server sends until
    :meth:`release`: the slow moment between two updates, made as long as a test needs."""

    def __init__(self, page: Page) -> None:
        self.held: list[str | bytes] = []
        self._owner = page
        self._page: WebSocketRoute | None = None
        page.route_web_socket(re.compile(r"/_event"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        self._page = ws
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(self._from_server)

    def _from_server(self, message: str | bytes) -> None:
        assert self._page is not None
        if '"_redirect"' in str(message):
            self.held.append(message)
        else:
            self._page.send(message)

    def wait(self) -> None:
        """Until a redirect is held (the page's waits let the socket's messages through)."""
        for _ in range(150):
            if self.held:
                return
            self._owner.wait_for_timeout(100)
        raise AssertionError("no redirect came within 15 s")

    def release(self) -> None:
        assert self._page is not None
        while self.held:
            self._page.send(self.held.pop(0))


def test_new_chat_empties_the_log_only_with_the_address_so_back_returns(
    page: Page, app_url: str
) -> None:
    redirects = HeldRedirects(page)
    open_new_chat(page, app_url)
    # Not send(), which waits for the box to empty: the composer's "let go of the text"
    # script travels in the same socket message as the redirect, which is held back here.
    page.get_by_role("textbox", name="Message").fill("come back")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(last_reply(page)).to_contain_text("You said: come back")
    redirects.release()  # the first message's move to /c/<id>
    expect(page).to_have_url(CONVERSATION)
    conversation = page.url

    page.get_by_role("button", name="New chat", exact=True).click()
    redirects.wait()  # the server has answered New chat; its redirect is held back
    page.wait_for_timeout(300)  # whatever else the answer changes has reached the page
    # Still at the conversation's address, so the screen must still show the conversation
    # (it used to be empty here, and Back from it left the app).
    expect(page).to_have_url(conversation)
    expect(last_reply(page)).to_contain_text("You said: come back")
    redirects.release()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("log")).not_to_contain_text("come back")
    page.go_back()
    expect(page).to_have_url(conversation)
    expect(last_reply(page)).to_contain_text("You said: come back")


def test_the_page_stays_mounted_while_moving_between_chats(page: Page, app_url: str) -> None:
    """A new chat's first message moves the address to /c/<id>; New chat and the sidebar
    move it back and forth. None of it mounts a new page: the composer keeps its focus and
    the palette opened meanwhile stays open."""
    open_new_chat(page, app_url)
    slow_down(page)
    mark_page(page)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("stay mounted")
    composer.press("Enter")
    # The palette, opened before the address changes, is still open after it has.
    page.keyboard.press(f"{MOD}+k")
    palette = page.get_by_role("dialog", name="Command palette")
    expect(palette).to_be_visible()
    expect(page).to_have_url(CONVERSATION)
    expect(last_reply(page)).to_contain_text("You said: stay mounted")
    page.wait_for_timeout(500)  # a page mounted anew would have replaced this one by now
    expect(palette).to_be_visible()
    assert same_page(page)
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()
    conversation = page.url

    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("log")).not_to_contain_text("stay mounted")
    assert same_page(page)

    path = conversation[conversation.index("/c/") :]
    sidebar = page.get_by_role("navigation", name="Conversations")
    sidebar.locator(f"a[href='{path}']").first.click()
    expect(page).to_have_url(conversation)
    expect(last_reply(page)).to_contain_text("You said: stay mounted")
    assert same_page(page)
    composer.focus()
    page.keyboard.type("still here")
    expect(composer).to_have_value("still here")
    expect(composer).to_be_focused()


def test_an_address_that_is_no_page_says_so(page: Page, app_url: str) -> None:
    page.goto(app_url + "/nowhere")
    expect(page.get_by_text("There is no page at /nowhere.")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("textbox", name="Message")).to_be_editable()
    send(page, "from nowhere")
    expect(page).to_have_url(CONVERSATION)
    expect(last_reply(page)).to_contain_text("You said: from nowhere")
