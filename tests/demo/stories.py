"""The demo stories, each told as a person would use Parley. A story whose feature has not
landed yet is listed with what it waits for, and is never faked."""

from __future__ import annotations

import re
import struct
import zlib

from playwright.async_api import expect
from sqlmodel import Session, col, create_engine, select

from app.db.models import CallLog, Message
from tests.demo.director import Demo
from tests.demo.script import FIZZBUZZ
from tests.demo.server import RunningApp
from tests.demo.story_extract import extraction_and_agent
from tests.demo.story_kit import PASSWORD, Story, open_chat, sign_up_quietly
from tests.demo.story_usage import usage_dashboard
from tests.e2e.code_panel_reply import CODE_PANEL_PY
from tests.providers.loopback import Reply, anthropic_error, anthropic_events

HAIKU_4 = "claude-haiku-4-5"
HAIKU_5 = "claude-haiku-5-5"  # next in HAIKU_4's fallback chain (app/llm/catalogue.toml)


# ----- 1. Sign-up and a first chat --------------------------------------------------------


async def first_chat(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await demo.sign_up("ada@example.com", "Ada", PASSWORD, caption="Sign up for an account")
    await demo.send_message(
        "Write a slugify helper for blog post URLs, in Python.", caption="Ask for a function"
    )
    await demo.see(demo.last_reply, "Save it as", caption="The answer streams in as it is written")
    await demo.wait_for_reply("a preview component", caption="Code comes highlighted, per block")
    await demo.click(
        page.get_by_role("button", name="Code panel", exact=True),
        caption="Open the code panel: every code block of the chat",
    )
    panel = page.get_by_role("complementary", name="Code panel")
    await demo.click(
        panel.get_by_role("button", name="Open slugify.py"),
        caption="Open slugify.py, named for you",
    )
    copied = await demo.copy(
        panel.get_by_role("button", name="Copy", exact=True), CODE_PANEL_PY, caption="Copy the file"
    )
    if copied != CODE_PANEL_PY:
        raise AssertionError("Copy put more than slugify.py on the clipboard")
    await demo.note("slugify.py is on the clipboard, ready to paste")


# ----- 2. Stop, Regenerate, Edit and branch, Ctrl+K -------------------------------------------


async def steer_a_reply(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    await sign_up_quietly(page.context, app, "grace@example.com")
    await open_chat(demo, "Signed in, with a chat from last week")
    await demo.send_message("Plan a weekend in Lisbon", caption="An earlier chat: Lisbon")
    await demo.wait_for_reply("Tagus", caption="Planned")
    await demo.new_chat(caption="Start a new chat")
    await demo.send_message("Tell me a story about a lighthouse", caption="Ask for a long story")
    await demo.see(demo.last_reply, "keeper", caption="It starts to stream...")
    await demo.click(
        page.get_by_role("button", name="Stop", exact=True), caption="...Stop it mid-sentence"
    )
    await demo.see(demo.last_reply, "Stopped", caption="The partial reply is kept, marked Stopped")
    await demo.click(
        demo.last_reply.get_by_role("button", name="Regenerate", exact=True),
        caption="Regenerate: write it again",
    )
    await demo.wait_for_reply("one pair of hands", caption="The whole story this time")
    await demo.see(demo.last_reply.get_by_label("Version 2 of 2"), "2 / 2", caption="Both kept")
    question = demo.messages("user").last
    await demo.click(
        question.get_by_role("button", name="Edit", exact=True), caption="Edit the question"
    )
    await demo.fill(
        page.get_by_role("textbox", name="Edit message"),
        "Tell me a story about a lighthouse keeper's cat",
        caption="Ask about the keeper's cat instead",
    )
    await demo.click(
        page.get_by_role("button", name="Save and send", exact=True),
        caption="Save and send: a new branch",
    )
    await demo.wait_for_reply("bell first", caption="The new branch has its own answer")
    await demo.click(
        demo.messages("user").last.get_by_role("button", name="Previous version", exact=True),
        caption="The first branch is one click away",
    )
    await demo.see(demo.last_reply, "one pair of hands", caption="The original story, untouched")
    await demo.press("Control+k", caption="Ctrl+K: find anything")
    dialog = page.get_by_role("dialog", name="Command palette")
    await expect(dialog).to_be_visible()
    await demo.type_keys("Lisbon", caption="Type a word from last week's chat")
    await demo.see(
        dialog.get_by_role("option", name=re.compile("Lisbon")), "Lisbon", caption="Found"
    )
    # Only conversations that answer the typed word are offered (none from before it).
    await expect(dialog.get_by_role("option", name=re.compile("lighthouse"))).to_have_count(0)
    await demo.press("Enter", caption="Enter opens it")
    await demo.see(demo.log, "Plan a weekend in Lisbon", caption="Back in the Lisbon chat")


# ----- 3. Attachments -------------------------------------------------------------------------


def bar_chart_png(width: int = 240, height: int = 160) -> bytes:
    """A small PNG of four bars, made here so the story needs no image file."""
    bars = [(30, 0.45, b"\x3b\x82\xf6"), (80, 0.8, b"\x10\xb9\x81"), (130, 0.6, b"\xf5\x9e\x0b")]
    bars.append((180, 0.95, b"\xef\x44\x44"))
    rows = []
    for y in range(height):
        row = bytearray(b"\xff\xff\xff" * width)
        for left, share, colour in bars:
            if y >= height - int(share * (height - 10)):
                row[left * 3 : (left + 36) * 3] = colour * 36
        rows.append(b"\x00" + bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(b"".join(rows))),
            chunk(b"IEND", b""),
        )
    )


async def attachments(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    await sign_up_quietly(page.context, app, "linus@example.com")
    await open_chat(demo, "A new chat")
    await demo.attach(
        [("fizzbuzz.py", "text/x-python", FIZZBUZZ.encode())], caption="Attach a code file"
    )
    await demo.send_message("Explain this file, please.", caption="Ask what it does")
    await demo.wait_for_reply("FizzBuzz", caption="The model read the file and explains it")
    await demo.see(
        demo.messages("user").last.get_by_role("link", name="Open fizzbuzz.py"),
        "fizzbuzz.py",
        caption="The file stays with the message",
    )
    await demo.attach([("sales.png", "image/png", bar_chart_png())], caption="Attach a chart")
    await demo.fill(demo.composer, "What does this chart show?", caption="Ask about the image")
    await demo.click(demo.send_button, caption="Send")
    await demo.see(
        page.get_by_role("alert").filter(has_text="can't see images"),
        "sales.png",
        caption="No vision model is configured: refused, nothing lost",
    )
    await expect(demo.composer).to_have_value("What does this chart show?")
    await demo.click(
        page.get_by_role("button", name="Remove sales.png"), caption="Remove the image"
    )


# ----- 7. Failover ----------------------------------------------------------------------------


def attempts_of_last_reply(app: RunningApp) -> list[CallLog]:
    """The call log's rows for the latest reply, from the app's own database."""
    engine = create_engine(f"sqlite:///{app.database}")
    try:
        with Session(engine) as session:
            reply = session.exec(
                select(Message).where(Message.role == "assistant").order_by(col(Message.id).desc())
            ).first()
            assert reply is not None, "no reply was saved"
            # Story 5's generated year numbers its messages too: the conversation tells them apart.
            query = (
                select(CallLog)
                .where(
                    CallLog.message_id == reply.id,
                    CallLog.conversation_id == reply.conversation_id,
                )
                .order_by(col(CallLog.id))
            )
            return list(session.exec(query).all())
    finally:
        engine.dispose()


async def failover(demo: Demo, app: RunningApp) -> None:
    page = demo.page
    app.anthropic.reset()
    app.anthropic.script(
        anthropic_error(529, "overloaded_error", "Overloaded"),  # the model asked for
        Reply(pieces=anthropic_events(["Yes, answered by ", "the fallback model."], model=HAIKU_5)),
        Reply(pieces=anthropic_events(["Failover check"], model=HAIKU_4)),  # the title
    )
    await sign_up_quietly(page.context, app, "barbara@example.com")
    await open_chat(demo, "A new chat")
    await demo.pick_model(HAIKU_4, caption="Choose Claude Haiku 4.5")
    await demo.send_message("Are you there?", caption="Ask; its provider answers 529 Overloaded")
    await demo.wait_for_reply("the fallback model", caption="The router moved on to the next model")
    await demo.see(
        demo.last_reply, "Claude Haiku 5.5", caption="The reply names the model that answered"
    )
    await demo.see(
        demo.last_reply.get_by_text("fallback", exact=True),
        "fallback",
        caption="and is marked as a fallback",
    )
    calls = attempts_of_last_reply(app)
    got = [(c.model, c.status, c.attempt, c.failover_from) for c in calls]
    want = [(HAIKU_4, "error", 1, None), (HAIKU_5, "ok", 2, HAIKU_4)]
    if got != want:
        raise AssertionError(f"the call log has {got}, not {want}")
    await demo.open("/usage", caption="Her usage page")
    await demo.choose(page.get_by_label("Feature"), "chat", caption="Only her chat calls")
    await demo.click(
        page.get_by_role("button", name=re.compile(r"^Open call \d+")).first,
        caption="Open the latest call",
    )
    dialog = page.get_by_role("dialog", name="Call details")
    await demo.see(dialog, HAIKU_5, caption="Both attempts: a 529 from Haiku 4.5, then Haiku 5.5")
    await expect(dialog.locator("dl")).to_have_count(2)
    await expect(dialog.locator("dl").first).to_contain_text(HAIKU_4)
    await expect(dialog.locator("dl").first).to_contain_text("error")


STORIES: tuple[Story, ...] = (
    Story(1, "first-chat", "Sign up and a first chat", first_chat),
    Story(2, "steer-a-reply", "Stop, Regenerate, Edit and branch, Ctrl+K", steer_a_reply),
    Story(3, "attachments", "Attachments: a code file, and an image refused", attachments),
    Story(4, "extraction-agent", "Structured extraction and an agent run", extraction_and_agent),
    Story(
        5,
        "usage-dashboard",
        "The usage dashboard: a year of calls, a CSV, a budget alert",
        usage_dashboard,
        notes=(
            "A year of generated calls (bench/gen_calls.py) is written into the app's "
            "database before the story starts; the budget alert comes from a real call.",
        ),
    ),
    Story(6, "sharing", "A shared conversation, live", waiting_for="sharing (issue 13)"),
    Story(
        7,
        "failover",
        "Failover to the next model",
        failover,
        notes=("The call log's rows are checked in the app's database too, attempt by attempt.",),
    ),
)
