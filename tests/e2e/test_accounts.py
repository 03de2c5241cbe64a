"""Accounts in a real browser: sign-up, login and logout through the pages; two users who can
see nothing of each other (conversations, live streams, files); and a page on another origin
that cannot drive Parley even in a browser signed in to it."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from app.services.credentials import SESSION_COOKIE
from tests.e2e.conftest import (
    E2E_PASSWORD,
    has_session,
    new_signed_in_context,
    post_auth,
    sign_up,
    watch_errors,
)
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.e2e.test_composer import attach, chips

pytestmark = pytest.mark.e2e

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
CONVERSATION_URL = re.compile(r"/c/[0-9a-f]{32}$")
GONE_FRAME = 'e{"status":"gone","error":""}'
CONVERSATION_GONE = "That conversation does not exist. It may have been deleted."

# Every frame a websocket sends until it closes; "refused" if it never opened.
READ_SOCKET_JS = """(url) => new Promise((resolve) => {
  const frames = [];
  let opened = false;
  const ws = new WebSocket(url);
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e) => frames.push(String(e.data));
  ws.onclose = () => resolve(opened ? frames : ["refused"]);
  setTimeout(() => { ws.close(); resolve([...frames, "timeout"]); }, 20000);
})"""
# Whether a websocket handshake to ``url`` is accepted ("open") or refused.
OPEN_SOCKET_JS = """(url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onopen = () => { resolve("open"); ws.close(); };
  ws.onerror = () => resolve("refused");
  setTimeout(() => resolve("timeout"), 20000);
})"""
# A form POST as a foreign page can send one (no CORS preflight), cookies included.
POST_FORM_JS = """([url, body]) => fetch(url, {
  method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "application/x-www-form-urlencoded"}, body,
}).then(() => "sent", () => "failed")"""


def new_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def fresh_user(browser: Browser, app_url: str, who: str) -> tuple[BrowserContext, Page]:
    """A new user, signed up through the real route, with a page of their own."""
    context = browser.new_context(viewport=DESKTOP)
    sign_up(context, app_url, new_email(who), E2E_PASSWORD)
    return context, context.new_page()


def ws_url(app_url: str, path: str) -> str:
    return app_url.replace("http://", "ws://", 1) + path


def test_sign_up_log_in_and_log_out_through_the_pages(browser: Browser, app_url: str) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems = watch_errors(page)
    page.goto(app_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))  # nobody: sent to log in
    page.get_by_role("link", name="Sign up").click()
    # The sign-up form, not the login form still shown while the page changes (the email
    # once went into the login form's box, which then went away).
    expect(page.get_by_role("heading", name="Create a Parley account")).to_be_visible()
    email = new_email("pages")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_label("Repeat password").fill(E2E_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)
    (session,) = [c for c in context.cookies(app_url) if c.get("name") == SESSION_COOKIE]
    assert session.get("httpOnly") and session.get("sameSite") == "Lax"
    # Page scripts cannot read the session.
    assert SESSION_COOKIE not in page.evaluate("() => document.cookie")

    page.goto(app_url + "/account")
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    assert not has_session(context, app_url)
    # The session is over on the server too: its token, replayed, is nobody's.
    replay = browser.new_context()
    token = session.get("value", "")
    replay.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": app_url}])
    replayed = replay.new_page()
    replayed.goto(app_url + "/")
    expect(replayed).to_have_url(re.compile(r"/login"))
    replay.close()

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert not has_session(context, app_url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)
    assert has_session(context, app_url)
    context.close()
    assert not problems, "\n".join(problems)


def test_two_users_cannot_see_each_others_conversations_streams_or_files(
    browser: Browser, app_url: str
) -> None:
    context_a, page_a = fresh_user(browser, app_url, "alice")
    context_b, page_b = fresh_user(browser, app_url, "bob")
    problems = watch_errors(page_a) + watch_errors(page_b)
    streams: list[str] = []
    page_a.on(
        "websocket", lambda ws: streams.append(ws.url) if "/_parley/stream/" in ws.url else None
    )

    # Alice: a file, and a slow reply still streaming while Bob tries.
    open_new_chat(page_a, app_url)
    attach(page_a, ("alice-notes.md", "text/markdown", b"# Alice's plan\n"))
    expect(chips(page_a).get_by_text("alice-notes.md")).to_be_visible()
    send(page_a, "stop me, this is Alice's question")
    expect(page_a).to_have_url(CONVERSATION_URL)
    alice_chat = page_a.url
    expect(last_reply(page_a)).to_contain_text("word2")
    file_link = page_a.get_by_role("group", name="Attachments").get_by_role("link").first
    file_url = file_link.get_attribute("href") or ""
    assert "/_parley/attachment/" in file_url, file_url
    assert context_a.request.get(file_url).status == 200  # her own file: she reads it
    stream_url = streams[-1].split("?", 1)[0]

    open_new_chat(page_b, app_url)
    nav_b = page_b.get_by_role("navigation", name="Conversations")
    expect(nav_b).not_to_contain_text("Alice")
    # Her conversation, by its address: the same answer as one that does not exist.
    page_b.goto(alice_chat)
    expect(page_b.get_by_text(CONVERSATION_GONE)).to_be_visible()
    expect(page_b.get_by_role("log")).not_to_contain_text("Alice")
    # Her live reply, with the key itself: nothing but "gone", while it still streams.
    assert page_b.evaluate(READ_SOCKET_JS, stream_url + "?from=0") == [GONE_FRAME]
    expect(page_a.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    # Her file: not found for Bob, nor for nobody.
    assert context_b.request.get(file_url).status == 404
    nobody = browser.new_context()
    assert nobody.request.get(file_url).status == 404
    assert nobody.new_page().evaluate(READ_SOCKET_JS, stream_url) in (["refused"], [GONE_FRAME])
    nobody.close()
    page_a.get_by_role("button", name="Stop", exact=True).click()
    expect(last_reply(page_a)).to_contain_text("Stopped")

    # And the other way round: Bob's conversation is nothing to Alice.
    send(page_b, "show markdown for Bob")
    expect(page_b).to_have_url(CONVERSATION_URL)
    expect(last_reply(page_b)).to_contain_text("plain text block")
    page_a.goto(page_b.url)
    expect(page_a.get_by_text(CONVERSATION_GONE)).to_be_visible()
    expect(page_a.get_by_role("log")).not_to_contain_text("Bob")
    context_a.close()
    context_b.close()
    assert not problems, "\n".join(problems)


class _ForeignPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Another site</title><p>Nothing to see.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def foreign_origin() -> Iterator[str]:
    """A page on another loopback port: the same site as Parley (so a SameSite=Lax cookie
    goes along), another origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_page_on_another_origin_cannot_drive_parley(
    browser: Browser, app_url: str, e2e_account: tuple[str, str], foreign_origin: str
) -> None:
    # A browser signed in to Parley: the attacker's best case.
    context = new_signed_in_context(browser, app_url, e2e_account, viewport=DESKTOP)
    event_socket = ws_url(app_url, "/_event/?EIO=4&transport=websocket")
    own = context.new_page()
    open_new_chat(own, app_url)
    assert own.evaluate(OPEN_SOCKET_JS, event_socket) == "open"  # from Parley's own page

    page = context.new_page()
    page.goto(foreign_origin + "/")
    assert page.evaluate(OPEN_SOCKET_JS, event_socket) == "refused"
    live = ws_url(app_url, "/_parley/stream/" + "A" * 22)
    assert page.evaluate(OPEN_SOCKET_JS, live) == "refused"

    email = new_email("forged")
    form = f"email={email}&password=forged+password&confirm=forged+password"
    for path, body in (("/_parley/auth/signup", form), ("/_upload", "x=1")):
        with page.expect_response(app_url + path) as answer:
            page.evaluate(POST_FORM_JS, [app_url + path, body])
        assert answer.value.status == 403, path
    # Nothing was made: the forged sign-up's account does not exist.
    target = post_auth(context, app_url, "login", {"email": email, "password": "forged password"})
    assert "error=" in target
    context.close()
