"""Accessibility in a real browser: axe-core over every page state, themes and sizes; the
log's live-region semantics; visible focus.

axe-core comes from the npm registry, pinned in the Makefile (``make axe``) and injected
into each page by Playwright.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, new_signed_in_context
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.e2e.test_code_panel import coding_chat
from tests.e2e.test_composer import PNG, attach, chips
from tests.e2e.test_providers import HAIKU_4, expect_title, pick, title_reply
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
BLOCKING = ("serious", "critical")
CONVERSATION_URL = re.compile(r"/c/[0-9a-f]{32}$")

Audit = Callable[[Page, str], None]


def _axe_path() -> Path:
    found = re.search(r"^AXE_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile pins AXE_VERSION"
    return ROOT / ".cache" / f"axe-core-{found.group(1)}" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js at the pinned version; fetched with ``make axe`` when it is missing."""
    path = _axe_path()
    if not path.exists():
        subprocess.run(["make", "-s", "axe"], cwd=ROOT, check=True)
    assert path.exists(), f"make axe did not produce {path}"
    return path


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']} - {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')[:300]}")
    return "\n".join(lines)


@pytest.fixture
def audit(axe_script: Path) -> Audit:
    """Run axe on the page as it is now; fail on any serious or critical violation."""

    def run(page: Page, where: str) -> None:
        # Colours mid-animation (a dialog fading in) are not the page's colours.
        page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(axe_script))
        result = page.evaluate(
            """async () => {
              const r = await axe.run(document, {resultTypes: ['violations']});
              return JSON.stringify(r.violations);
            }"""
        )
        violations = [v for v in json.loads(result) if v["impact"] in BLOCKING]
        assert not violations, f"axe found problems on {where}:\n{_describe(violations)}"

    return run


def set_theme(page: Page, mode: str) -> None:
    page.get_by_role("combobox", name="Theme").select_option(mode)
    expect(page.locator("html")).to_have_class(re.compile(rf"\b{mode}\b"))


def idle(page: Page) -> None:
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def rich_conversation(browser: Any, app_url: str, e2e_account: tuple[str, str]) -> str:
    """A conversation with a finished reply holding code, a stopped reply and an error."""
    context = new_signed_in_context(browser, app_url, e2e_account, viewport=DESKTOP)
    page = context.new_page()
    open_new_chat(page, app_url)
    send(page, "show a function")
    expect(last_reply(page).get_by_role("button", name="Copy code")).to_be_visible()
    idle(page)
    send(page, "stop me")
    expect(last_reply(page)).to_contain_text("word2")
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(last_reply(page)).to_contain_text("Stopped")
    idle(page)
    send(page, "break please")
    expect(last_reply(page).get_by_role("alert")).to_be_visible()
    idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    url = page.url
    context.close()
    return url


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_finds_nothing_serious(
    page: Page, app_url: str, rich_conversation: str, audit: Audit, mode: str, viewport: Any
) -> None:
    page.set_viewport_size(viewport)
    open_new_chat(page, app_url)
    set_theme(page, mode)
    audit(page, f"/ ({mode})")

    page.goto(rich_conversation)
    log = page.get_by_role("log")
    expect(log.get_by_role("button", name="Copy code")).to_be_visible(timeout=30_000)
    expect(log).to_contain_text("Stopped")
    expect(log.get_by_role("alert")).to_be_visible()
    expect(page.locator("html")).to_have_class(re.compile(rf"\b{mode}\b"))
    audit(page, f"a conversation ({mode})")

    # The dialogs: palette, shortcut help, and (on phones) the conversations drawer.
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.press("Control+k")
    expect(page.get_by_role("dialog", name="Command palette")).to_be_visible()
    audit(page, f"the command palette ({mode})")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+/")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    audit(page, f"the shortcut help ({mode})")
    page.keyboard.press("Escape")
    if viewport == PHONE:
        page.get_by_role("button", name="Conversations").click()
        expect(page.get_by_role("dialog", name="Conversations")).to_be_visible()
        audit(page, f"the conversations drawer ({mode})")


def test_axe_while_a_reply_streams_and_after_jumping(
    page: Page, app_url: str, audit: Audit
) -> None:
    open_new_chat(page, app_url)
    send(page, "many lines")
    log = page.get_by_role("log")
    expect(log).to_contain_text("line 020")
    log.evaluate("(el) => { el.scrollTop = 0; }")
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    audit(page, "a streaming reply, scrolled up")
    page.get_by_role("button", name="Stop", exact=True).click()
    idle(page)


def listen_to_announcements(page: Page) -> None:
    """Record what the polite region announces: every paragraph added to it, in order."""
    page.evaluate(
        """() => {
          window.__heard = [];
          new MutationObserver((records) => {
            for (const record of records) {
              if (!record.target.closest('[aria-label="Reply announcements"]')) continue;
              for (const node of record.addedNodes) window.__heard.push(node.textContent.trim());
            }
          }).observe(document.body, {subtree: true, childList: true});
        }"""
    )


def heard(page: Page) -> list[str]:
    return page.evaluate("window.__heard")


def test_a_streaming_reply_is_read_once_part_by_part(page: Page, app_url: str) -> None:
    """The log is not a live region (a loaded conversation is not read out); a polite region
    reads the streaming reply: each finished paragraph as the next starts, the last at the
    end, and nothing again when the finished message replaces the live one."""
    open_new_chat(page, app_url)
    log = page.get_by_role("log", name="Messages")
    expect(log).to_have_attribute("aria-live", "off")
    region = page.get_by_role("status", name="Reply announcements")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_attribute("aria-atomic", "false")
    listen_to_announcements(page)

    send(page, "many lines")
    expect(region).to_contain_text("line 010")
    assert "line 199" not in heard(page)  # read as it is written, not at the end
    idle(page)
    expect(last_reply(page)).to_contain_text("line 199")
    expect(region).to_contain_text("line 199")
    said = heard(page)
    assert said[0] == "The assistant is replying."
    # Every line once, in order: line by line as they stream (the last few may come together,
    # with the finished message).
    assert " ".join(said[1:]) == " ".join(f"line {i:03d}" for i in range(200))
    assert len(said) > 150, said

    # A one-paragraph reply is read whole, once, when it ends.
    send(page, "count slowly")
    expect(last_reply(page)).to_contain_text("word119")
    idle(page)
    expect(region).to_contain_text("word119")
    said = heard(page)[len(said) :]
    assert said[0] == "The assistant is replying."
    assert len(said) == 2 and said[1].startswith("word0 word1"), said
    assert said[1].endswith("word119"), said

    # A stopped reply says so.
    send(page, "stop me")
    expect(last_reply(page)).to_contain_text("word3")
    page.get_by_role("button", name="Stop", exact=True).click()
    idle(page)
    expect(region).to_contain_text("Reply stopped.")

    # Opening a conversation reads nothing.
    expect(page).to_have_url(CONVERSATION_URL)  # so Back returns to it
    before = heard(page)
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(log).not_to_contain_text("Stopped")
    page.go_back()
    expect(last_reply(page)).to_contain_text("Stopped", timeout=30_000)
    page.wait_for_timeout(500)
    assert heard(page) == before


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_focus_is_visible_on_every_control(page: Page, app_url: str, mode: str) -> None:
    """Tab through the page: every control that takes focus shows a clear outline."""
    open_new_chat(page, app_url)
    set_theme(page, mode)
    page.locator("body").focus()
    seen: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              const label = el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30)
                || el.tagName;
              let node = el;
              // A field's ring may be drawn by its Radix wrapper.
              for (let i = 0; i < 3 && node; i++, node = node.parentElement) {
                const s = getComputedStyle(node);
                if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                  return {label, ok: true};
              }
              return {label, ok: false};
            }"""
        )
        if info is None:
            break
        assert info["ok"], f"no visible focus on {info['label']!r} ({mode})"
        seen.append(info["label"])
    assert {"Message", "Theme", "Model", "Search conversations"} <= set(seen), seen


# ----- the states the merged features added: each audited in both themes, wide and phone ----

TEXT_FILE = ("notes.md", "text/markdown", b"# Plan\n\n- audit every state\n")


@pytest.fixture(scope="module")
def feature_conversations(
    browser: Any, app_url: str, anthropic_server: LoopbackServer, e2e_account: tuple[str, str]
) -> dict[str, str]:
    """Two conversations: one whose reply holds three code blocks, and one (on Claude, so it
    has a cost) whose question carries a text file and an image and whose reply was
    regenerated (a version switcher)."""
    context = new_signed_in_context(browser, app_url, e2e_account, viewport=DESKTOP)
    page = context.new_page()
    coding_chat(page, app_url)
    expect(page).to_have_url(CONVERSATION_URL)
    urls = {"code": page.url}

    anthropic_server.reset()
    anthropic_server.script(
        claude_reply("A note and a pixel."), title_reply("Files"), claude_reply("Again.")
    )
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    attach(page, TEXT_FILE, ("dot.png", "image/png", PNG))
    expect(chips(page).get_by_text("dot.png")).to_be_visible()
    expect(chips(page).get_by_text("notes.md")).to_be_visible()
    send(page, "What are these?")
    expect(last_reply(page)).to_contain_text("A note and a pixel.")
    expect_title(page, "Files")
    last_reply(page).get_by_role("button", name="Regenerate", exact=True).click()
    expect(last_reply(page).get_by_label("Version 2 of 2")).to_be_visible()
    idle(page)
    assert anthropic_server.pending == 0
    expect(page).to_have_url(CONVERSATION_URL)
    urls["files"] = page.url
    context.close()
    return urls


def claude_reply(text: str) -> Reply:
    return Reply(pieces=anthropic_events([text], model=HAIKU_4, input_tokens=30, output_tokens=12))


def in_mode(page: Page, mode: str) -> None:
    expect(page.locator("html")).to_have_class(re.compile(rf"\b{mode}\b"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_on_message_actions_attachments_and_dialogs(
    page: Page,
    app_url: str,
    feature_conversations: dict[str, str],
    audit: Audit,
    mode: str,
    viewport: Any,
) -> None:
    page.set_viewport_size(viewport)
    open_new_chat(page, app_url)
    set_theme(page, mode)

    # The composer with pending chips and a refused file's error.
    attach(page, TEXT_FILE, ("tool.exe", "application/octet-stream", b"MZ\x90\x00"))
    expect(chips(page).get_by_text("notes.md")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="tool.exe")).to_be_visible()
    audit(page, f"the composer with files and an upload error ({mode})")
    page.get_by_role("button", name="Remove notes.md").click()
    expect(chips(page)).to_have_count(0)

    # The Parameters dialog, with a refused value.
    page.get_by_role("button", name="Parameters").click()
    dialog = page.get_by_role("dialog", name="Parameters")
    expect(dialog).to_be_visible()
    audit(page, f"the Parameters dialog ({mode})")
    dialog.get_by_label("Max tokens").fill("0")
    dialog.get_by_role("button", name="Save parameters").click()
    expect(dialog.get_by_role("alert")).to_be_visible()
    audit(page, f"the Parameters dialog with an error ({mode})")
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    expect(dialog).to_be_hidden()

    # Sent attachments (a text chip, an image thumbnail), cost, and a version switcher.
    page.goto(feature_conversations["files"])
    reply = last_reply(page)
    expect(reply.get_by_label("Version 2 of 2")).to_be_visible(timeout=30_000)
    expect(reply.locator(".reply-cost")).to_be_visible()
    user = page.get_by_role("log").locator(".message[data-role='user']").last
    expect(user.get_by_role("link", name="Open notes.md")).to_be_visible()
    expect(user.locator("img")).to_have_js_property("naturalWidth", 3)
    in_mode(page, mode)
    audit(page, f"attachments, versions and cost ({mode})")

    # A message being edited.
    user.get_by_role("button", name="Edit", exact=True).click()
    expect(page.get_by_role("textbox", name="Edit message")).to_be_visible()
    audit(page, f"a message in edit mode ({mode})")
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_role("textbox", name="Edit message")).to_have_count(0)

    # The delete confirmation.
    user.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_be_visible()
    audit(page, f"the delete confirmation ({mode})")
    confirm.get_by_role("button", name="Cancel", exact=True).click()
    expect(confirm).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_on_the_code_panel(
    page: Page,
    app_url: str,
    feature_conversations: dict[str, str],
    audit: Audit,
    mode: str,
    viewport: Any,
) -> None:
    page.set_viewport_size(viewport)
    open_new_chat(page, app_url)
    set_theme(page, mode)
    page.goto(feature_conversations["code"])
    expect(last_reply(page)).to_contain_text("a preview component", timeout=30_000)
    in_mode(page, mode)
    page.get_by_role("button", name="Code panel", exact=True).click()
    panel = page.get_by_role("complementary", name="Code panel")
    expect(panel.get_by_role("list", name="Code blocks").get_by_role("listitem")).to_have_count(3)
    audit(page, f"the code panel's list ({mode})")
    panel.get_by_role("button", name="Open slugify.py").click()
    code = panel.get_by_role("region", name="Code of slugify.py")
    expect(code.locator("span.token").first).to_be_visible()
    audit(page, f"a block in the code panel ({mode})")
    panel.get_by_role("button", name="Close code panel").click()
    expect(panel).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_on_the_prompt_library(
    page: Page, app_url: str, audit: Audit, mode: str, viewport: Any
) -> None:
    page.set_viewport_size(viewport)
    open_new_chat(page, app_url)
    set_theme(page, mode)
    page.goto(app_url + "/prompts")
    expect(page.get_by_role("heading", name="Prompt library")).to_be_visible(timeout=30_000)
    in_mode(page, mode)
    expect(page.get_by_role("button", name="New prompt")).to_be_visible()
    # Empty: each run archives the prompt it made, and the list hides archived ones.
    expect(page.get_by_role("list", name="Prompts").get_by_role("listitem")).to_have_count(0)
    expect(page.get_by_text("No prompts yet.")).to_be_visible()
    audit(page, f"the empty prompt library ({mode})")

    name = f"Auditor {mode} {viewport['width']}"
    page.get_by_role("button", name="New prompt").click()
    audit(page, f"a new prompt's editor ({mode})")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Text", exact=True).fill("You check contrast.")
    page.get_by_role("button", name="Save prompt").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created {name} v1.")
    audit(page, f"the prompt library with a prompt ({mode})")

    page.get_by_role("button", name=f"Edit {name}").click()
    page.get_by_label("Text", exact=True).fill("You check contrast, twice.")
    page.get_by_role("button", name="Save prompt").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {name} v2.")
    page.get_by_role("button", name=f"Edit {name}").click()
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save prompt").click()
    expect(page.locator("form").get_by_role("alert")).to_be_visible()
    audit(page, f"editing a prompt, with an error ({mode})")
    page.get_by_role("button", name="Cancel", exact=True).click()

    page.get_by_role("button", name=f"Version history of {name}").click()
    history = page.get_by_role("region", name=f"Versions of {name}")
    expect(history).to_contain_text("You check contrast, twice.")
    audit(page, f"a prompt's version history ({mode})")
    page.get_by_role("button", name="Close history").click()

    page.get_by_role("button", name=f"Archive {name}").click()
    expect(page.get_by_role("button", name=f"Archive {name}")).to_have_count(0)


def test_axe_on_the_share_dialog_and_the_link_page(page: Page, app_url: str, audit: Audit) -> None:
    """Sharing (issue 13): the Share dialog with a person and a link, and the link's page."""
    open_new_chat(page, app_url)
    send(page, "show a function to share")
    expect(last_reply(page)).to_contain_text("Done.")
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Create link").click()
    link_box = dialog.get_by_label("Link", exact=True)
    expect(link_box).to_have_value(re.compile(r"/s/"))
    dialog.get_by_role("button", name="Share with project members").click()
    expect(dialog.get_by_role("list", name="Who has access")).to_contain_text("Everyone")
    audit(page, "the Share dialog")
    link = link_box.input_value()
    page.goto(link)
    expect(page.get_by_role("log", name="Messages")).to_contain_text("def add")
    audit(page, "a read-only link's page")
