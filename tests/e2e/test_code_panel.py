"""The code panel in a real browser: list, open, copy, download, resize, remember, phone.

``test_open_copy_and_download_a_block`` also regenerates the README's screenshot,
``assets/screenshots/chat-code-panel.png`` (1280x800), when this file runs on its own:
``pytest tests/e2e/test_code_panel.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.code_panel_reply import CODE_PANEL_PY, CODE_PANEL_SH, CODE_PANEL_TSX
from tests.e2e.conftest import ROOT
from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "assets" / "screenshots" / "chat-code-panel.png"
TITLE = "Slugify helper for URLs"  # what the scripted model titles the coding chat


def toggle(page: Page) -> Locator:
    return page.get_by_role("button", name="Code panel", exact=True)


def panel(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Code panel")


def block_rows(page: Page) -> Locator:
    return panel(page).get_by_role("list", name="Code blocks").get_by_role("listitem")


def save_screenshot(page: Page) -> None:
    """The README's picture, taken only on a fresh app (this file run alone, this test
    first), so that the sidebar shows this conversation and not other tests' chats."""
    conversations = page.get_by_role("navigation", name="Conversations").get_by_role("link")
    expect(conversations.filter(has_text=TITLE).first).to_be_visible()
    if conversations.count() != 1:
        return
    page.mouse.move(0, 0)
    page.get_by_role("log").evaluate("log => { log.scrollTop = 0; }")  # the question too
    page.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)


def wait_for_stored(page: Page, key: str, value: str) -> None:
    """Wait until the browser's local storage holds ``value`` under ``key``."""
    stored = None
    for _ in range(100):
        stored = page.evaluate("key => window.localStorage.getItem(key)", key)
        if stored == value:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"local storage {key!r} is {stored!r}, not {value!r}")


def coding_chat(page: Page, app_url: str) -> None:
    """A new conversation whose reply has three code blocks, finished."""
    open_new_chat(page, app_url)
    send(page, "Show code: a slugify helper for blog post URLs, please.")
    expect(last_reply(page)).to_contain_text("a preview component")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def test_open_copy_and_download_a_block(page: Page, app_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    coding_chat(page, app_url)
    expect(toggle(page)).to_have_attribute("aria-expanded", "false")
    expect(panel(page)).to_have_count(0)

    toggle(page).click()
    expect(toggle(page)).to_have_attribute("aria-expanded", "true")
    rows = block_rows(page)
    expect(rows).to_have_count(3)
    # Each with its language, a file name, its first line and the message it came from.
    expect(rows.nth(0)).to_contain_text("python")
    expect(rows.nth(0)).to_contain_text("slugify.py")  # named in the text before it
    expect(rows.nth(0)).to_contain_text("def slugify(title: str, limit: int = 60) -> str:")
    expect(rows.nth(0)).to_contain_text("From Reply 1")
    expect(rows.nth(1)).to_contain_text("bash")
    expect(rows.nth(1)).to_contain_text("snippet.sh")
    expect(rows.nth(2)).to_contain_text("SlugPreview.tsx")  # named in its first line
    expect(rows.nth(2)).to_contain_text("export function SlugPreview(")

    panel(page).get_by_role("button", name="Open slugify.py").click()
    code = panel(page).get_by_role("region", name="Code of slugify.py")
    expect(panel(page).get_by_role("button", name="Back to code blocks")).to_be_focused()
    expect(code).to_contain_text("def slugify(title: str, limit: int = 60) -> str:")
    # Highlighted: Prism split the code into coloured tokens, keywords among them.
    keyword = code.locator("span.token", has_text=re.compile(r"^def$"))
    expect(keyword).to_have_count(1)
    expect(keyword).to_have_attribute("style", re.compile(r"color: rgb"))
    save_screenshot(page)

    panel(page).get_by_role("button", name="Copy", exact=True).click()
    clipboard = ""
    for _ in range(50):
        clipboard = page.evaluate("navigator.clipboard.readText()")
        if clipboard == CODE_PANEL_PY:
            break
        page.wait_for_timeout(100)
    assert clipboard == CODE_PANEL_PY

    with page.expect_download() as info:
        panel(page).get_by_role("button", name="Download", exact=True).click()
    download = info.value
    assert download.suggested_filename == "slugify.py"
    assert Path(download.path()).read_text(encoding="utf-8") == CODE_PANEL_PY

    # Back to the list, then the other blocks download under their own names.
    panel(page).get_by_role("button", name="Back to code blocks").click()
    for name, text in (("snippet.sh", CODE_PANEL_SH), ("SlugPreview.tsx", CODE_PANEL_TSX)):
        panel(page).get_by_role("button", name=f"Open {name}").click()
        with page.expect_download() as info:
            panel(page).get_by_role("button", name="Download", exact=True).click()
        assert info.value.suggested_filename == name
        assert Path(info.value.path()).read_text(encoding="utf-8") == text
        panel(page).get_by_role("button", name="Back to code blocks").click()

    panel(page).get_by_role("button", name="Close code panel").click()
    expect(panel(page)).to_have_count(0)
    expect(toggle(page)).to_have_attribute("aria-expanded", "false")


def test_resize_by_keyboard_and_drag_and_remember_it(page: Page, app_url: str) -> None:
    sent: list[str] = []  # every frame the page sends on Reflex's socket
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))),
    )
    coding_chat(page, app_url)
    toggle(page).click()
    handle = page.get_by_role("separator", name="Resize code panel")
    start = int(handle.get_attribute("aria-valuenow") or 0)
    assert start > 0
    box = panel(page).bounding_box()
    assert box is not None and abs(box["width"] - start) <= 1

    handle.focus()
    page.keyboard.press("ArrowLeft")  # the handle moves left: the panel widens
    page.keyboard.press("ArrowLeft")
    expect(handle).to_have_attribute("aria-valuenow", str(start + 32))
    page.keyboard.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", str(start + 16))
    page.keyboard.press("Shift+ArrowLeft")
    expect(handle).to_have_attribute("aria-valuenow", str(start + 80))
    page.keyboard.press("Home")
    minimum = handle.get_attribute("aria-valuemin") or ""
    expect(handle).to_have_attribute("aria-valuenow", minimum)
    # The run of key presses reaches the server once, when the keys rest.
    wait_for_stored(page, "parley.code_panel.width", minimum)
    assert len([f for f in sent if "resize" in f]) == 1, [f for f in sent if "resize" in f]

    # Drag the handle 120 px to the left: one event, when it is released.
    now = int(minimum)
    grip = handle.bounding_box()
    assert grip is not None
    x, y = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y, steps=5)
    page.mouse.move(x - 120, y, steps=5)
    page.mouse.up()
    expect(handle).to_have_attribute("aria-valuenow", str(now + 120))
    box = panel(page).bounding_box()
    assert box is not None and abs(box["width"] - (now + 120)) <= 1
    wait_for_stored(page, "parley.code_panel.width", str(now + 120))
    assert len([f for f in sent if "resize" in f]) == 2

    # Open and width are remembered in this browser.
    page.reload()
    expect(panel(page)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("separator", name="Resize code panel")).to_have_attribute(
        "aria-valuenow", str(now + 120)
    )
    expect(block_rows(page)).to_have_count(3)
    toggle(page).click()
    expect(toggle(page)).to_have_attribute("aria-expanded", "false")
    wait_for_stored(page, "parley.code_panel.open", "0")
    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=30_000)
    expect(toggle(page)).to_have_attribute("aria-expanded", "false")
    expect(panel(page)).to_have_count(0)


def test_the_list_follows_the_conversation(page: Page, app_url: str) -> None:
    coding_chat(page, app_url)
    url = page.url
    toggle(page).click()
    expect(block_rows(page)).to_have_count(3)
    # A new chat has no code yet; a reply with code adds its blocks when it finishes.
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(panel(page)).to_contain_text("No code in this conversation yet")
    send(page, "no code here")
    expect(last_reply(page)).to_contain_text("You said: no code here")
    expect(panel(page)).to_contain_text("No code in this conversation yet")
    send(page, "show code again")
    expect(block_rows(page)).to_have_count(3)
    expect(block_rows(page).nth(0)).to_contain_text("From Reply 2")
    # Going back to the first conversation shows its blocks.
    page.goto(url)
    expect(block_rows(page)).to_have_count(3)
    expect(block_rows(page).nth(0)).to_contain_text("From Reply 1")


def test_on_a_phone_the_panel_is_a_full_width_sheet(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    coding_chat(page, app_url)
    toggle(page).click()
    box = panel(page).bounding_box()
    assert box is not None
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    expect(page.get_by_role("separator", name="Resize code panel")).to_be_hidden()
    panel(page).get_by_role("button", name="Open slugify.py").click()
    expect(panel(page).get_by_role("region", name="Code of slugify.py")).to_be_visible()
    panel(page).get_by_role("button", name="Close code panel").click()
    expect(panel(page)).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()


def test_on_a_tablet_the_panel_is_a_sheet_over_the_log(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 900, "height": 800})
    coding_chat(page, app_url)
    toggle(page).click()
    expect(block_rows(page)).to_have_count(3)
    box = panel(page).bounding_box()
    handle = page.get_by_role("separator", name="Resize code panel")
    assert box is not None
    assert box["x"] + box["width"] == 900  # at the right edge
    assert box["width"] == int(handle.get_attribute("aria-valuenow") or 0) < 900
    # The log keeps the whole width beside the sidebar, under the sheet.
    sidebar = page.get_by_role("navigation", name="Conversations").bounding_box()
    assert sidebar is not None
    log = page.get_by_role("log")
    expect(log).to_have_js_property("clientWidth", 900 - sidebar["width"])
