"""The chat in a real browser: streaming, Stop, reload, switching, errors, and inert HTML."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.e2e.conftest import LONG_REPLY, LONG_REPLY_CHUNK_CHARS, WIRE_REPLY

pytestmark = pytest.mark.e2e


def send(page: Page, text: str) -> None:
    """Type ``text`` and press Send, then wait until the server has answered the send: the
    box is emptied, or the composer shows why not. Typing the next message before that could
    be overwritten by this send's late update on a busy machine."""
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    expect(box).to_have_value(text)
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_function(
        """() => {
          const box = document.querySelector("textarea[name=message]");
          return (box && box.value === "") || document.querySelector("form [role=alert]");
        }""",
        timeout=15_000,
    )


def last_reply(page: Page):
    return page.get_by_role("log").locator(".message[data-role='assistant']").last


def open_new_chat(page: Page, app_url: str) -> None:
    page.goto(app_url + "/")
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)


def test_a_reply_grows_in_steps_then_settles(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    # Record the reply's length at every DOM change while it streams.
    page.evaluate(
        """() => {
          window.__lengths = [];
          new MutationObserver(() => {
            const log = document.querySelector('[role=log]');
            if (!log) return;
            const replies = log.querySelectorAll(".message[data-role='assistant']");
            const last = replies[replies.length - 1];
            if (last) window.__lengths.push(last.innerText.length);
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    send(page, "count slowly")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    expect(last_reply(page)).to_contain_text("word119", timeout=20_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    lengths: list[int] = page.evaluate("window.__lengths")
    distinct = sorted(set(lengths))
    assert len(distinct) >= 3, f"the reply appeared in {len(distinct)} steps: {distinct}"
    # Appended as it arrives: never more steps than the provider's chunks (plus the
    # placeholder and the finished message), never character by character.
    chunks = -(-len(LONG_REPLY) // LONG_REPLY_CHUNK_CHARS)
    assert len(distinct) <= chunks + 3, (len(distinct), chunks)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")


def test_stop_keeps_the_partial_reply_marked_stopped(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "stop me")
    reply = last_reply(page)
    expect(reply).to_contain_text("word3", timeout=15_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    # Stop acts within a second: Send is back and the reply is marked.
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible(timeout=1_000)
    expect(reply).to_contain_text("Stopped")
    partial = reply.inner_text()
    assert "word119" not in partial
    page.wait_for_timeout(500)
    assert reply.inner_text() == partial, "text kept arriving after Stop"
    page.reload()
    reloaded = last_reply(page)
    expect(reloaded).to_contain_text("Stopped", timeout=30_000)
    assert "word119" not in reloaded.inner_text()
    expect(reloaded).to_contain_text("word3")


def test_reload_shows_the_conversation_as_it_was(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "remember the walrus")
    expect(last_reply(page)).to_contain_text("You said: remember the walrus", timeout=15_000)
    url = page.url
    page.reload()
    expect(page).to_have_url(url)
    log = page.get_by_role("log")
    expect(log).to_contain_text("remember the walrus", timeout=30_000)
    expect(last_reply(page)).to_contain_text("You said: remember the walrus")
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("link", name="remember the walrus")).to_be_visible()


def test_two_conversations_switch_back_and_forth(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "first topic alpha")
    expect(last_reply(page)).to_contain_text("You said: first topic alpha", timeout=15_000)
    first_url = page.url
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page).to_have_url(app_url + "/")
    expect(page.get_by_role("log")).not_to_contain_text("alpha")
    send(page, "second topic beta")
    expect(last_reply(page)).to_contain_text("You said: second topic beta", timeout=15_000)
    second_url = page.url
    assert second_url != first_url

    nav = page.get_by_role("navigation", name="Conversations")
    nav.get_by_role("link", name="first topic alpha").click()
    expect(page).to_have_url(first_url)
    expect(page.get_by_role("log")).to_contain_text("first topic alpha")
    expect(page.get_by_role("log")).not_to_contain_text("beta")
    nav.get_by_role("link", name="second topic beta").click()
    expect(page).to_have_url(second_url)
    expect(page.get_by_role("log")).to_contain_text("second topic beta")
    expect(page.get_by_role("log")).not_to_contain_text("alpha")


def test_a_provider_error_keeps_the_message_and_says_why(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "break please")
    log = page.get_by_role("log")
    expect(log.get_by_role("alert")).to_contain_text("overloaded (scripted)", timeout=15_000)
    expect(log).to_contain_text("break please")
    expect(last_reply(page)).to_contain_text("Half a")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def test_html_in_a_reply_stays_inert(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "show xss")
    reply = last_reply(page)
    expect(reply).to_contain_text("print('safe')", timeout=15_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert page.evaluate("window.__xss === undefined")
    assert reply.locator("img").count() == 0
    assert reply.locator("script").count() == 0
    expect(reply).to_contain_text('<img src=x onerror="window.__xss=1">')
    link = reply.get_by_role("link", name="a link")
    if link.count():
        href = link.get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript:")
        link.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss === undefined")
    # The code block is highlighted and has a copy button.
    expect(reply.get_by_role("button", name="Copy code")).to_be_visible()


def test_empty_message_is_refused_clearly(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    page.get_by_role("textbox", name="Message").fill("   ")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Type a message first")
    expect(page).to_have_url(app_url + "/")


def test_long_reply_text_matches_the_provider(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    send(page, "count slowly again")
    reply = last_reply(page)
    expect(reply).to_contain_text("word119", timeout=20_000)
    text = reply.inner_text()
    assert LONG_REPLY in " ".join(text.split())


def test_a_long_reply_costs_each_byte_about_once_on_the_wire(page: Page, app_url: str) -> None:
    """Counts every websocket frame the page receives (Reflex's socket and the live-reply
    channel) while a 2000-token reply streams: within 3x the reply, plus a fixed allowance
    for Reflex's updates when the reply starts and ends (the finished message is in the
    3x: it travels once, at the end)."""
    received: dict[str, list[int]] = {}

    def on_websocket(ws: WebSocket) -> None:
        sizes = received.setdefault(ws.url, [])

        def on_frame(payload: str | bytes) -> None:
            sizes.append(len(payload.encode() if isinstance(payload, str) else payload))

        ws.on("framereceived", on_frame)

    page.on("websocket", on_websocket)
    open_new_chat(page, app_url)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    page.wait_for_timeout(300)  # let hydration's frames arrive before counting
    before = {url: len(sizes) for url, sizes in received.items()}
    send(page, "measure the wire")
    reply = last_reply(page)
    expect(reply).to_contain_text("t1999", timeout=30_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect(reply.locator(".reply-caption")).to_be_visible()  # the finished message
    page.wait_for_timeout(300)

    frames = {url: sizes[before.get(url, 0) :] for url, sizes in received.items()}
    channel = sum(sum(s) for url, s in frames.items() if "/_parley/stream/" in url)
    reflex = sum(sum(s) for url, s in frames.items() if "/_parley/stream/" not in url)
    reply_bytes = len(WIRE_REPLY.encode())
    allowance = 16_000  # start and end updates: sidebar, messages, redirect, on_load
    print(
        f"\nwire: reply {reply_bytes} B; channel {channel} B "
        f"({channel / reply_bytes:.2f}x); Reflex {reflex} B ({reflex / reply_bytes:.2f}x)"
    )
    assert channel > 0, "the reply did not come over the live-reply channel"
    assert channel <= 1.5 * reply_bytes
    assert channel + reflex <= 3 * reply_bytes + allowance
    assert " ".join(WIRE_REPLY.split()) in " ".join(reply.inner_text().split())


def test_a_reload_mid_reply_picks_the_stream_up_and_finishes_it(page: Page, app_url: str) -> None:
    """The reloaded page reads the live reply from its start, then the rest as it comes."""
    open_new_chat(page, app_url)
    send(page, "count slowly after a reload")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    expect(last_reply(page)).to_contain_text("word10", timeout=15_000)
    page.reload()
    reply = last_reply(page)
    expect(reply).to_contain_text("word3", timeout=30_000)
    expect(reply).to_contain_text("word119", timeout=30_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert LONG_REPLY in " ".join(reply.inner_text().split())
