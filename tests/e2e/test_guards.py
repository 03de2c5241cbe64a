"""The guards in a real browser: a send refused by a limit says when to try again and keeps
its text and files; a send refused by a budget shows its figures and keeps its text; an
upload over the cap says which file, how large, and the limit, and loses nothing.

Each test is a fresh user of its own (signed up through the real route), so the limits and
budgets it fills are nobody else's.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from app.db.models import Budget, Conversation
from app.guards.store import POLICY_TTL
from tests.e2e.conftest import (
    E2E_PASSWORD,
    STREAMS_PER_USER,
    has_session,
    post_auth,
    sign_up,
)
from tests.e2e.test_accounts import DESKTOP, fresh_user, new_email
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.e2e.test_composer import attach, chips

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _suite_account_first(e2e_account: tuple[str, str]) -> None:
    """The suite's user is the install's first account (its admin), as in a full run, even
    when these tests run alone: the fresh users they sign up must not take that place."""


CONVERSATION_URL = re.compile(r"/c/[0-9a-f]{32}$")


def composer_alert(page: Page):
    """The composer's own refusal (role=alert inside the form)."""
    return page.locator("form").get_by_role("alert")


def test_a_rate_limited_send_says_when_to_try_again_and_keeps_its_text_and_files(
    browser: Browser, app_url: str
) -> None:
    context, page = fresh_user(browser, app_url, "limited")
    streaming: list[Page] = []
    for i in range(STREAMS_PER_USER):  # slow replies (about 100 s each), one tab each
        tab = context.new_page()
        open_new_chat(tab, app_url)
        send(tab, f"hold the line, reply {i}")
        expect(tab).to_have_url(CONVERSATION_URL)
        expect(last_reply(tab)).to_contain_text("word1")
        streaming.append(tab)

    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    attach(page, ("limits.md", "text/markdown", b"# what the limit spared\n"))
    expect(chips(page).get_by_text("limits.md")).to_be_visible()
    send(page, "one reply too many, keep me")
    refusal = composer_alert(page)
    expect(refusal).to_contain_text(f"You already have {STREAMS_PER_USER} replies in progress")
    expect(refusal).to_contain_text(re.compile(r"try again \(in about \d+ s\)"))
    # Nothing lost, nothing sent: the text and the file wait in the composer.
    expect(box).to_have_value("one reply too many, keep me")
    expect(chips(page).get_by_text("limits.md")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("log").locator(".message")).to_have_count(0)

    # One reply stopped frees a slot: the same send now goes, file and all.
    streaming[0].get_by_role("button", name="Stop", exact=True).click()
    expect(last_reply(streaming[0])).to_contain_text("Stopped")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(CONVERSATION_URL)
    expect(box).to_have_value("")
    expect(page.get_by_role("group", name="Attachments")).to_contain_text("limits.md")
    for tab in streaming[1:]:  # stop the rest, so they hold nothing after the test
        tab.get_by_role("button", name="Stop", exact=True).click()
        expect(last_reply(tab)).to_contain_text("Stopped")
    context.close()


def _set_token_budget(engine: Engine, user_id: str, tokens: int | None) -> None:
    """The user's own monthly token budget, as the admin page stores it (None: no row).
    Written by this process, not the app's: the app keeps budget limits for POLICY_TTL
    seconds (app/guards/store.py), so the change counts once that has passed."""
    with Session(engine) as session:
        session.exec(  # pyright: ignore[reportCallIssue, reportArgumentType]
            delete(Budget).where(col(Budget.scope) == "user", col(Budget.subject_id) == user_id)
        )
        if tokens is not None:
            session.add(Budget(scope="user", subject_id=user_id, token_limit=tokens))
        session.commit()
    time.sleep(POLICY_TTL + 0.5)  # nothing in the page shows when the app has read it


def test_a_budget_refusal_shows_its_figures_and_keeps_the_text(
    browser: Browser, app_url: str, app_database: Engine
) -> None:
    context, page = fresh_user(browser, app_url, "budget")
    open_new_chat(page, app_url)
    send(page, "a first question within budget")
    expect(last_reply(page)).to_contain_text("You said: a first question within budget")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    # The scripted model's calls cost nothing and are not in the call log: spent is 0.
    user_id = _owner_of_page(page, app_database)
    _set_token_budget(app_database, user_id, 100)

    box = page.get_by_role("textbox", name="Message")
    send(page, "a second question, over budget")
    refusal = composer_alert(page)
    expect(refusal).to_contain_text(
        "This request could go over the user's monthly token budget: "
        "0 tokens spent of 100 tokens, and this request could cost up to "
    )
    expect(refusal).to_contain_text("Lower Max tokens")
    worst = re.search(r"could cost up to ([\d,]+) tokens", refusal.inner_text())
    assert worst is not None
    # The worst case: the input estimate plus max tokens (the default, 4096).
    assert int(worst.group(1).replace(",", "")) > 4096
    expect(box).to_have_value("a second question, over budget")
    expect(page.get_by_role("log").locator(".message[data-role='user']")).to_have_count(1)

    # The admin lifts the budget: the same text sends as it stood.
    _set_token_budget(app_database, user_id, None)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(last_reply(page)).to_contain_text("You said: a second question, over budget")
    expect(box).to_have_value("")
    context.close()


def _owner_of_page(page: Page, engine: Engine) -> str:
    """The signed-in user's id: the owner of the conversation on the page."""
    conversation_id = page.url.rsplit("/", 1)[-1]
    with Session(engine) as session:
        owner = session.exec(
            select(Conversation.user_id).where(Conversation.id == conversation_id)
        ).one()
    assert owner, "the conversation has no owner"
    return owner


def test_an_upload_over_the_cap_says_which_file_how_large_and_the_limit(
    browser: Browser, app_url: str, tmp_path: Path
) -> None:
    """A file larger than one upload may carry used to die as a bare HTTP 413 that the page
    never showed. The browser now refuses it itself, naming it, its size and the limit, and
    nothing else is lost: the text, the files already attached, the other files chosen."""
    context, page = fresh_user(browser, app_url, "uploader")
    uploads: list[int] = []
    page.on("response", lambda r: uploads.append(r.status) if "/_upload" in r.url else None)
    open_new_chat(page, app_url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("my draft survives")
    attach(page, ("kept.md", "text/markdown", b"# kept\n"))
    expect(chips(page).get_by_text("kept.md")).to_be_visible()
    # Over the body cap (10 files x 5 MB + framing, about 50.1 MB), and a small one with it
    # (from files on disk: Playwright sends no buffer over 50 MB).
    huge, small = tmp_path / "huge.log", tmp_path / "small.txt"
    with huge.open("wb") as out:
        out.truncate(51_000_000)
    small.write_text("fine")
    page.locator("input[type=file]").set_input_files([huge, small])
    alert = page.get_by_role("alert").filter(has_text="huge.log")
    expect(alert).to_contain_text("huge.log is 51 MB; the limit is 5 MB.")
    expect(chips(page).get_by_text("small.txt")).to_be_visible()  # the rest went through
    expect(chips(page).get_by_text("kept.md")).to_be_visible()
    expect(chips(page).get_by_text("huge.log")).to_have_count(0)
    expect(box).to_have_value("my draft survives")
    assert 413 not in uploads, uploads  # refused before a byte of it was sent

    # Too many files at once: one line says the most, and none of them is sent.
    many = [(f"note{i}.txt", "text/plain", b"n") for i in range(11)]
    attach(page, *many)
    expect(page.get_by_role("alert").filter(has_text="at a time")).to_contain_text(
        "11 files at once is more than one message can carry: attach at most 10 at a time."
    )
    expect(chips(page).get_by_text("note0.txt")).to_have_count(0)
    expect(box).to_have_value("my draft survives")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(last_reply(page)).to_contain_text("my draft survives")
    context.close()


def test_failed_sign_ins_are_limited_and_the_login_page_says_how_long(
    browser: Browser, app_url: str
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    email = new_email("guessed")
    sign_up(context, app_url, email, E2E_PASSWORD)
    context.clear_cookies()
    for _ in range(5):  # PARLEY_RATE_LOGIN_PER_ACCOUNT's default: 5 a minute
        target = post_auth(context, app_url, "login", {"email": email, "password": "a guess"})
        assert "error=signin" in target, target
    refused = context.request.post(
        f"{app_url}/_parley/auth/login",
        form={"email": email, "password": E2E_PASSWORD},
        headers={"Origin": app_url},
        max_redirects=0,
    )
    assert refused.status == 303 and "error=limited" in refused.headers["location"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert not has_session(context, app_url)  # the right password, unchecked

    page = context.new_page()
    page.goto(app_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"Too many failed sign-in attempts\. .*wait \d+ s, then try again\.")
    )
    assert not has_session(context, app_url)
    context.close()
