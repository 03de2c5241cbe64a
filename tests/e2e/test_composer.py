"""The composer in a real browser: attachments into the model's context (text as a fenced
block, images as image blocks to a vision model), refused files, parameters on the wire,
prompt versions recorded per reply, and Enter / Shift+Enter."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import struct
import uuid
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.models import Attachment, Conversation, Message, PromptVersion
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.e2e.test_providers import HAIKU_4, expect_title, latest_reply_row, pick, title_reply
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events

pytestmark = pytest.mark.e2e


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\x20\x80\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png(3, 2)


def claude(*texts: str) -> Reply:
    return Reply(pieces=anthropic_events(list(texts), model=HAIKU_4))


def attach(page: Page, *files: tuple[str, str, bytes]) -> None:
    """Choose files in the Attach files picker (the dropzone's file input)."""
    expect(page.get_by_role("button", name="Attach files")).to_be_visible()
    page.locator("input[type=file]").set_input_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files]
    )


def attach_by_button(page: Page, name: str, mime: str, data: bytes) -> None:
    """Press Attach files (keyboard) and pick a file in the chooser it opens."""
    button = page.get_by_role("button", name="Attach files")
    with page.expect_file_chooser() as chooser:
        button.click()
    chooser.value.set_files([{"name": name, "mimeType": mime, "buffer": data}])


def chips(page: Page):
    return page.get_by_label("Files to send")


def test_a_text_file_goes_into_the_message_as_a_fenced_block(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(claude("Read ", "it."), title_reply("Notes"))
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    attach_by_button(page, "notes.md", "text/markdown", b"# Plan\n\n- ship the composer\n")
    expect(chips(page).get_by_text("notes.md")).to_be_visible()
    # The button is the only file control a screen reader meets.
    expect(page.get_by_role("button", name=re.compile("choose file", re.I))).to_have_count(0)
    send(page, "Summarise my notes")
    expect(last_reply(page)).to_contain_text("Read it.")
    expect_title(page, "Notes")
    user = page.get_by_role("log").locator(".message[data-role='user']").last
    expect(user.get_by_role("link", name="Open notes.md")).to_be_visible()
    expect(chips(page)).to_have_count(0)

    content = anthropic.requests[0].body["messages"][-1]["content"]
    assert content == (
        "Summarise my notes\n\nAttached file `notes.md`:\n```markdown\n"
        "# Plan\n\n- ship the composer\n```"
    )
    row = latest_reply_row(app_database)
    with Session(app_database) as session:
        stored = session.exec(
            select(Attachment).where(Attachment.conversation_id == row.conversation_id)
        ).one()
    assert stored.filename == "notes.md" and stored.kind == "text"
    assert re.fullmatch(r"[0-9a-f]{32}\.md", stored.stored_name)
    # The chip's link serves the file by id, as a download that cannot run.
    response = page.request.get(f"{app_url}/_parley/attachment/{stored.id}")
    assert response.ok and response.body() == b"# Plan\n\n- ship the composer\n"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert page.request.get(f"{app_url}/_parley/attachment/{uuid.uuid4().hex}").status == 404
    # A path that climbs out reaches no file: its ../ lands on /etc/passwd, which the chat
    # route answers with the app's page (saying there is no such page), never the file.
    climbed = page.request.get(f"{app_url}/_parley/attachment/..%2F..%2Fetc%2Fpasswd")
    assert climbed.headers["content-type"].startswith("text/html")
    assert b"root:" not in climbed.body()


def test_an_image_reaches_a_vision_model_as_an_image_block(
    page: Page, app_url: str, anthropic: LoopbackServer
) -> None:
    anthropic.script(claude("A ", "pixel."), title_reply("Pixel"))
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    attach(page, ("dot.png", "image/png", PNG))
    expect(chips(page).get_by_text("dot.png")).to_be_visible()
    send(page, "What is this?")
    expect(last_reply(page)).to_contain_text("A pixel.")
    expect_title(page, "Pixel")
    user = page.get_by_role("log").locator(".message[data-role='user']").last
    thumbnail = user.locator("img")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_js_property("naturalWidth", 3)  # loaded from the file route

    content = anthropic.requests[0].body["messages"][-1]["content"]
    assert content == [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        },
        {"type": "text", "text": "What is this?"},
    ]


def test_refused_files_show_why_and_lose_nothing(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("my draft stays")
    attach(
        page,
        ("report.exe", "application/octet-stream", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("big.log", "text/plain", b"x" * 1_200_000),
        ("ok.txt", "text/plain", b"fine"),
    )
    alert = page.get_by_role("alert").filter(has_text="report.exe")
    expect(alert).to_contain_text(
        "report.exe: this kind of file can't be attached. "
        "Attach text, code, or PNG/JPEG/GIF/WebP images."
    )
    expect(alert).to_contain_text("big.log is 1.2 MB; the limit is 1 MB.")
    expect(chips(page).get_by_text("ok.txt")).to_be_visible()
    expect(box).to_have_value("my draft stays")

    # An image for a model that can't see images is refused before anything is saved.
    attach(page, ("dot.png", "image/png", PNG))
    expect(chips(page).get_by_text("dot.png")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="can't see images")).to_contain_text("dot.png")
    expect(box).to_have_value("my draft stays")
    expect(page.get_by_role("log").locator(".message")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/$"))

    page.get_by_role("button", name="Remove dot.png").click()
    expect(chips(page).get_by_text("dot.png")).to_have_count(0)
    expect(chips(page).get_by_text("ok.txt")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(last_reply(page)).to_contain_text("You said: my draft stays")


def open_parameters(page: Page) -> None:
    page.get_by_role("button", name="Parameters").click()
    expect(page.get_by_role("dialog", name="Parameters")).to_be_visible()


def test_parameters_are_checked_kept_for_a_new_chat_and_reach_the_wire(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(claude("Short."), title_reply("Short"))
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    open_parameters(page)
    dialog = page.get_by_role("dialog", name="Parameters")
    dialog.get_by_label("Temperature").fill("0.5")
    dialog.get_by_role("button", name="Save parameters").click()
    expect(dialog.get_by_role("alert")).to_contain_text("takes no temperature")
    dialog.get_by_label("Temperature").fill("")
    dialog.get_by_label("Max tokens").fill("0")
    dialog.get_by_role("button", name="Save parameters").click()
    expect(dialog.get_by_role("alert")).to_contain_text("must be between 1 and 64,000")
    dialog.get_by_label("Max tokens").fill("300")
    dialog.get_by_role("button", name="Save parameters").click()
    expect(dialog).to_be_hidden()

    send(page, "Be short")
    expect(last_reply(page)).to_contain_text("Short.")
    expect_title(page, "Short")
    assert anthropic.requests[0].body["max_tokens"] == 300
    assert "temperature" not in anthropic.requests[0].body
    row = latest_reply_row(app_database)
    with Session(app_database) as session:
        conversation = session.get(Conversation, row.conversation_id)
    assert conversation is not None and conversation.max_tokens == 300

    # Reopened after a reload, the dialog shows the saved value.
    page.reload()
    open_parameters(page)
    expect(page.get_by_role("dialog").get_by_label("Max tokens")).to_have_value("300")


def test_a_reply_records_its_prompt_version_and_an_edit_does_not_rewrite_it(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    name = f"Reviewer {uuid.uuid4().hex[:6]}"
    page.goto(app_url + "/prompts")
    page.get_by_role("button", name="New prompt").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Text", exact=True).fill("You review code.")
    page.get_by_role("button", name="Save prompt").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created {name} v1.")

    anthropic.script(claude("Looks ", "fine."), title_reply("Review"), claude("Still fine."))
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    page.get_by_role("combobox", name="System prompt").select_option(label=name)
    send(page, "Review this")
    first = last_reply(page)
    expect(first).to_contain_text("Looks fine.")
    expect(first).to_contain_text(f"{name} v1")
    expect_title(page, "Review")
    assert anthropic.requests[0].body["system"] == "You review code."
    conversation_url = page.url

    # A changed text is version 2; saving it again unchanged adds nothing.
    page.goto(app_url + "/prompts")
    page.get_by_role("button", name=f"Edit {name}").click()
    page.get_by_label("Text", exact=True).fill("You review code, harshly.")
    page.get_by_role("button", name="Save prompt").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {name} v2.")
    page.get_by_role("button", name=f"Edit {name}").click()
    page.get_by_role("button", name="Save prompt").click()
    expect(page.get_by_role("status")).to_contain_text("unchanged, so still v2")
    page.get_by_role("button", name=f"Version history of {name}").click()
    history = page.get_by_role("region", name=f"Versions of {name}")
    expect(history).to_contain_text("You review code, harshly.")
    expect(history).to_contain_text("You review code.")

    page.goto(conversation_url)
    expect(page.get_by_role("combobox", name="System prompt")).to_have_value(re.compile(r"\d+"))
    expect(last_reply(page)).to_contain_text(f"{name} v1")
    send(page, "And now?")
    expect(last_reply(page)).to_contain_text("Still fine.")
    expect(last_reply(page)).to_contain_text(f"{name} v2")
    assert anthropic.requests[2].body["system"] == "You review code, harshly."

    with Session(app_database) as session:
        replies = session.exec(
            select(Message)
            .where(Message.role == "assistant")
            .order_by(col(Message.id).desc())
            .limit(2)
        ).all()
        versions = [session.get(PromptVersion, r.prompt_version_id) for r in reversed(replies)]
    assert [(v.version, v.body) for v in versions if v] == [
        (1, "You review code."),
        (2, "You review code, harshly."),
    ]


def test_enter_sends_and_shift_enter_adds_a_line(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    box.click()
    box.press_sequentially("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    expect(page.get_by_role("log").locator(".message")).to_have_count(0)
    box.press("Enter")
    user = page.get_by_role("log").locator(".message[data-role='user']").last
    expect(user).to_contain_text("line one")
    expect(user).to_contain_text("line two")
    expect(last_reply(page)).to_contain_text("line two")
    expect(box).to_have_value("")


def test_pasted_and_dropped_files_are_attached_too(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("draft")
    box.evaluate(
        """(box) => {
          const data = new DataTransfer();
          data.items.add(new File(["pasted text"], "clip.txt", {type: "text/plain"}));
          box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
        }"""
    )
    expect(chips(page).get_by_text("clip.txt")).to_be_visible()
    box.evaluate(
        """(box) => {
          const data = new DataTransfer();
          data.items.add(new File(["dropped"], "drop.py", {type: "text/x-python"}));
          box.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    expect(chips(page).get_by_text("drop.py")).to_be_visible()
    expect(chips(page).get_by_text("clip.txt")).to_be_visible()
    expect(box).to_have_value("draft")


def _listening_pid(port: int) -> int:
    """The process listening on ``port`` on this machine (the app's backend), from /proc."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # LISTEN
                    inodes.add(f"socket:[{inode}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return int(pid)
    raise LookupError(f"nothing listens on port {port}")


@contextlib.contextmanager
def server_stopped(app_url: str) -> Iterator[None]:
    """A deliberately slow server: every process of the app (its process group) is stopped
    with SIGSTOP until the block ends, then continued. What the browser sends meanwhile waits
    in the socket, as it would behind a busy or distant server."""
    group = os.getpgid(_listening_pid(urlsplit(app_url).port or 80))
    assert group != os.getpgid(0), "the app must run in its own process group"
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def test_text_typed_while_the_server_answers_a_send_is_never_lost(page: Page, app_url: str) -> None:
    """Issue 9: the box was controlled through Reflex, so the server's emptied draft replaced
    what was typed between pressing Send and its answer. Now the box is the browser's: the
    server only removes the text it posted, and only while the box still starts with it."""
    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    log = page.get_by_role("log")
    box.fill("first question")
    with server_stopped(app_url):
        box.press("Enter")
        box.press_sequentially("second thought")
        page.wait_for_timeout(500)  # the server is silent: nothing may touch the box
        expect(box).to_have_value("first questionsecond thought")
    # The send is answered: a new conversation (so a new page, and a new box), and the
    # text typed meanwhile is what is left in it.
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    expect(log.locator(".message[data-role='user']").last).to_have_text(
        re.compile("first question")
    )
    expect(box).to_have_value("second thought")
    expect(last_reply(page)).to_contain_text("You said: first question")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect(box).to_have_value("second thought")  # the reply's end did not touch it either

    # In the same conversation (no page change), sending with the button.
    with server_stopped(app_url):
        page.get_by_role("button", name="Send", exact=True).click()
        box.press("End")
        box.press_sequentially(", and a third")
        page.wait_for_timeout(500)
        expect(box).to_have_value("second thought, and a third")
    expect(last_reply(page)).to_contain_text("You said: second thought")
    expect(box).to_have_value(", and a third")
    # What is left outlives a reload of the page (the tab keeps it).
    page.reload()
    expect(box).to_have_value(", and a third")
