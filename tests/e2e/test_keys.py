"""Theme and keys in a real browser: the Theme picker, the command palette, the shortcuts."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e

MOD = "Control"  # Cmd on macOS; Chromium here runs on Linux


def word() -> str:
    return "k" + uuid.uuid4().hex[:10]


def chat_about(page: Page, app_url: str, text: str) -> str:
    open_new_chat(page, app_url)
    send(page, text)
    expect(last_reply(page)).to_contain_text(f"You said: {text}")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    return page.url


def html_class(page: Page) -> str:
    return page.evaluate("document.documentElement.className")


def palette(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Command palette")


def open_palette(page: Page) -> Locator:
    page.keyboard.press(f"{MOD}+k")
    dialog = palette(page)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("combobox", name="Search commands and conversations")).to_be_focused()
    return dialog


def selected(dialog: Locator) -> Locator:
    return dialog.get_by_role("option", selected=True)


def code_panel_flag(page: Page) -> str | None:
    return page.evaluate("localStorage.getItem('parley.code_panel.open')")


def test_theme_choice_applies_and_survives_a_reload(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    theme = page.get_by_role("combobox", name="Theme")
    expect(theme).to_have_value("system")
    theme.select_option(label="Dark")
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    expect(page.get_by_role("combobox", name="Theme")).to_have_value("dark")
    page.get_by_role("combobox", name="Theme").select_option(label="Light")
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    # System follows the operating system's preference, live.
    page.get_by_role("combobox", name="Theme").select_option(label="System")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    page.emulate_media(color_scheme="light")
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.reload()
    expect(page.get_by_role("combobox", name="Theme")).to_have_value("system", timeout=60_000)


def test_palette_finds_a_conversation_and_opens_it_by_keyboard(page: Page, app_url: str) -> None:
    rare = word()
    url = chat_about(page, app_url, f"palette target {rare}")
    chat_about(page, app_url, "another conversation for the palette")
    composer = page.get_by_role("textbox", name="Message")
    composer.focus()
    dialog = open_palette(page)
    box = dialog.get_by_role("combobox", name="Search commands and conversations")
    options = dialog.get_by_role("listbox", name="Commands and conversations")
    # Before typing: the commands, then recent conversations.
    expect(options.get_by_role("option", name="New chat")).to_be_visible()
    expect(selected(dialog)).to_have_text("New chat")
    page.keyboard.press("ArrowDown")
    expect(selected(dialog)).to_have_text("Toggle theme")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # wraps to the last option
    expect(selected(dialog)).not_to_have_text("New chat")
    # The box says which option is active, for screen readers.
    active_id = selected(dialog).get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", active_id or "")
    # Esc closes it and gives focus back to the composer.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(composer).to_be_focused()

    open_palette(page)
    page.keyboard.type(rare)
    hit = options.get_by_role("option", name=re.compile(rare))
    expect(hit).to_have_count(1)
    expect(options.get_by_role("option", name="New chat")).to_have_count(0)  # filtered out
    expect(selected(dialog)).to_contain_text(rare)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(url)
    expect(page.get_by_role("log")).to_contain_text(f"palette target {rare}")
    # A message sent now goes to that conversation.
    send(page, f"follow-up {rare}")
    expect(last_reply(page)).to_contain_text(f"You said: follow-up {rare}")
    expect(page).to_have_url(url)


def test_palette_offers_no_conversation_before_the_search_answers(page: Page, app_url: str) -> None:
    """Enter pressed before the server answered what was typed must not open a conversation
    from the list shown before typing (the latest ones): it used to open the first of them."""
    rare = word()
    url = chat_about(page, app_url, f"palette answer {rare}")
    chat_about(page, app_url, "the latest conversation, first before anything is typed")
    latest = page.url
    dialog = open_palette(page)
    options = dialog.get_by_role("listbox", name="Commands and conversations")
    stale = options.get_by_role("option", name=re.compile("the latest conversation"))
    expect(stale).to_be_visible()
    # Typed and entered well inside the search's debounce: no command matches, and the
    # conversations from before the query are not offered.
    page.keyboard.type(rare)
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(latest)
    hit = options.get_by_role("option", name=re.compile(rare))
    expect(hit).to_have_count(1)
    expect(stale).to_have_count(0)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(url)


def test_palette_commands(page: Page, app_url: str) -> None:
    chat_about(page, app_url, "palette commands here")
    model = page.get_by_role("combobox", name="Model")
    expect(model).to_have_value("fake")
    dialog = open_palette(page)
    page.keyboard.type("switch model")
    switch = dialog.get_by_role("option", name=re.compile("^Switch model to "))
    assert switch.count() >= 2, "every offered model should be listed"
    dialog.get_by_role("option", name=re.compile("Claude")).first.click()
    expect(dialog).to_be_hidden()
    expect(model).not_to_have_value("fake")

    before = html_class(page)
    open_palette(page)
    page.keyboard.type("toggle theme")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_class(
        re.compile(r"\bdark\b" if "dark" not in before else r"\blight\b")
    )

    flag = code_panel_flag(page)
    open_palette(page)
    page.keyboard.type("code panel")
    expect(selected(dialog)).to_have_text("Toggle code panel")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(old) => localStorage.getItem('parley.code_panel.open') !== old", arg=flag
    )

    open_palette(page)
    page.keyboard.type("new chat")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    expect(page.get_by_role("log")).not_to_contain_text("palette commands here")


def test_palette_says_when_nothing_matches(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    dialog = open_palette(page)
    page.keyboard.type(word())
    expect(dialog.get_by_role("status")).to_contain_text("Nothing matches")
    expect(dialog.get_by_role("option")).to_have_count(0)
    page.keyboard.press("Enter")  # nothing to run; the palette stays
    expect(dialog).to_be_visible()


def test_shortcut_help_lists_every_shortcut(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press(f"{MOD}+/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    table = dialog.get_by_role("table")
    for action in (
        "Open the command palette",
        "Show keyboard shortcuts",
        "New chat",
        "Show or hide the code panel",
        "Stop the reply",
    ):
        expect(table.get_by_role("row", name=re.compile(action))).to_have_count(1)
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    # The header's button opens it too, and focus returns to the button.
    button = page.get_by_role("button", name="Keyboard shortcuts")
    button.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()


def test_a_dialog_reopened_at_once_keeps_its_content_and_focus(page: Page, app_url: str) -> None:
    """A dialog's close event is queued: one closed and reopened in the same moment (Ctrl+/
    pressed three times fast) must not be emptied by the stale event when it arrives."""
    open_new_chat(page, app_url)
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press(f"{MOD}+/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    close = dialog.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    page.evaluate(
        """() => {
          document.querySelector("dialog[open]").close();
          window.dispatchEvent(new Event("parley:shortcuts"));
        }"""
    )
    page.wait_for_timeout(300)  # the stale close event has long arrived
    expect(dialog.get_by_role("table")).to_be_visible()
    expect(close).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()


def test_new_chat_and_code_panel_shortcuts(page: Page, app_url: str) -> None:
    chat_about(page, app_url, "shortcut new chat")
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press(f"{MOD}+Shift+O")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    flag = code_panel_flag(page)
    page.keyboard.press(f"{MOD}+Shift+L")
    page.wait_for_function(
        "(old) => localStorage.getItem('parley.code_panel.open') !== old", arg=flag
    )
    toggled = code_panel_flag(page)
    page.keyboard.press(f"{MOD}+Shift+L")
    page.wait_for_function(
        "(old) => localStorage.getItem('parley.code_panel.open') !== old", arg=toggled
    )


def test_escape_stops_a_streaming_reply_but_not_while_another_field_has_it(
    page: Page, app_url: str
) -> None:
    open_new_chat(page, app_url)
    send(page, "stop me")
    reply = last_reply(page)
    expect(reply).to_contain_text("word2")
    # In the sidebar's search box, Esc belongs to the box.
    search = page.get_by_role("searchbox", name="Search conversations")
    search.focus()
    page.keyboard.press("Escape")
    page.wait_for_timeout(1_000)
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    # In the composer it stops the reply.
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible(timeout=2_000)
    expect(reply).to_contain_text("Stopped")
    assert "word119" not in reply.inner_text()


def test_the_page_works_from_the_keyboard_alone(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the message box")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_be_focused()
    text = f"typed only {word()}"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(last_reply(page)).to_contain_text(f"You said: {text}")
    # Tabbing on from the composer reaches Send, with a visible focus ring.
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    composer.focus()
    page.keyboard.press("Tab")
    send_button = page.get_by_role("button", name="Send", exact=True)
    expect(send_button).to_be_focused()
    outline = send_button.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and float(outline[1].removesuffix("px")) >= 2, outline


def test_on_a_phone_the_code_panel_shortcut_opens_a_sheet_esc_closes(
    page: Page, app_url: str
) -> None:
    """Ctrl+Shift+L from the composer opens the sheet with focus in it; Esc closes it and
    focus lands on the header's Code panel button, never lost on the page's body."""
    page.set_viewport_size({"width": 390, "height": 844})
    open_new_chat(page, app_url)
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press(f"{MOD}+Shift+L")
    sheet = page.get_by_role("complementary", name="Code panel")
    expect(sheet.get_by_role("button", name="Close code panel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(sheet).to_have_count(0)
    expect(page.get_by_role("button", name="Code panel", exact=True)).to_be_focused()
