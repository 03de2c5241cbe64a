"""An XSS corpus in what users name things: display names, conversation titles and saved
prompt names, each stored as a payload and loaded where it renders (the sidebar, the chat's
heading, the command palette, the System prompt menu, the prompt library, the admin's user
list). No payload may run (a flag it would set stays unset, no dialog opens,
no element it would inject exists) and each shows as the literal text typed.
(Model output has its own corpus: tests/e2e/test_chat.py, test_rendering.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Locator, Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.models import Conversation, Membership, Prompt, PromptVersion, User
from tests.e2e.conftest import E2E_PASSWORD, post_auth, watch_errors
from tests.e2e.test_accounts import DESKTOP, new_email

pytestmark = pytest.mark.e2e

# Each would set window.__xss (or open a dialog) if it ever ran; all fit in 100 characters.
PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">',
    "javascript:window.__xss=4",
    "[click me](javascript:window.__xss=5)",
    '<a href="javascript:window.__xss=6">a link</a>',
    '![pic](x" onerror="window.__xss=7)',
    '<iframe srcdoc="<script>parent.__xss=8</script>"></iframe>',
    '<details open ontoggle="window.__xss=9">',
    "{{constructor.constructor('window.__xss=10')()}}",
    "${window.__xss=11}`'\";alert(12)//",
    "<img src=x onerror=alert(13)>",
]
MOD = "Control"

# Anything a payload would leave behind if the page had turned it into markup.
INJECTED_JS = """() => ({
  flag: window.__xss ?? null,
  injected: document.querySelectorAll(
    'img[src="x"], svg[onload], iframe[srcdoc], details[ontoggle]'
  ).length,
  jsLinks: [...document.querySelectorAll("a[href]")]
    .filter((a) => a.getAttribute("href").trim().toLowerCase().startsWith("javascript:"))
    .length,
})"""


def assert_inert(page: Page, dialogs: list[str]) -> None:
    found = page.evaluate(INJECTED_JS)
    assert found["flag"] is None, f"a payload ran: window.__xss = {found['flag']}"
    assert found["jsLinks"] == 0, "a javascript: link was rendered"
    assert dialogs == [], f"a payload opened a dialog: {dialogs}"
    assert found["injected"] == 0, "a payload's element is in the page"


def record_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


@pytest.fixture(scope="module")
def xss_user(
    browser: Browser, app_url: str, app_database: Engine, e2e_account: tuple[str, str]
) -> Iterator[BrowserContext]:
    """Users named by the corpus (signed up through the real route); the last one, signed
    in, also owns a conversation titled, and a prompt named, by each payload. (After the
    suite's own user, the install's admin, whose page shows the user list.)"""
    context = browser.new_context(viewport=DESKTOP)
    email = ""
    for payload in PAYLOADS:
        email = new_email("xss")
        form = {
            "email": email,
            "password": E2E_PASSWORD,
            "confirm": E2E_PASSWORD,
            "display_name": payload,
        }
        assert "error=" not in post_auth(context, app_url, "signup", form)
    with Session(app_database) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.display_name == PAYLOADS[-1]  # stored as typed
        project = session.exec(select(Membership.project_id).where(Membership.user_id == user.id))
        project_id = project.one()
        for payload in PAYLOADS:
            session.add(
                Conversation(title=payload, model="fake", user_id=user.id, project_id=project_id)
            )
            prompt = Prompt(name=payload, user_id=user.id, project_id=project_id)
            session.add(prompt)
            session.flush()
            assert prompt.id is not None
            session.add(PromptVersion(prompt_id=prompt.id, version=1, body="Be brief."))
        session.commit()
    yield context
    context.close()


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


def test_titles_prompt_names_and_a_display_name_render_as_text(
    xss_user: BrowserContext, app_url: str
) -> None:
    page = xss_user.new_page()
    dialogs = record_dialogs(page)
    problems = watch_errors(page)
    page.goto(app_url + "/")
    expect(page.get_by_role("textbox", name="Message")).to_be_editable(timeout=60_000)
    # The sidebar: every title, literally.
    for payload in PAYLOADS:
        expect(nav(page).get_by_role("link", name=payload, exact=True)).to_be_visible()
    # The System prompt menu: every prompt name as an option's text.
    menu = page.get_by_role("combobox", name="System prompt")
    options = menu.locator("option").all_inner_texts()
    assert all(payload in options for payload in PAYLOADS), options
    assert_inert(page, dialogs)

    # A conversation's heading.
    nav(page).get_by_role("link", name=PAYLOADS[0], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PAYLOADS[0])
    assert_inert(page, dialogs)

    # The command palette lists the conversations by title.
    page.keyboard.press(f"{MOD}+k")
    palette = page.get_by_role("dialog", name="Command palette")
    expect(palette).to_be_visible()
    listed = palette.get_by_role("group", name="Conversations").get_by_role("option")
    expect(listed.first).to_be_visible()
    titles = listed.all_inner_texts()
    assert len(titles) >= 6 and all(t in PAYLOADS for t in titles), titles
    assert_inert(page, dialogs)
    page.keyboard.press("Escape")

    # The prompt library.
    page.goto(app_url + "/prompts")
    library = page.get_by_role("list", name="Prompts")
    for payload in PAYLOADS:
        expect(library.get_by_role("heading", name=payload, exact=True)).to_be_visible()
    assert_inert(page, dialogs)

    assert not problems, "\n".join(problems)


def test_the_admins_user_list_shows_the_names_as_text(
    xss_user: BrowserContext, page: Page, app_url: str
) -> None:
    dialogs = record_dialogs(page)
    page.goto(app_url + "/admin")  # the suite's user is the install's first account: admin
    users = page.get_by_role("region", name="Users")
    for payload in PAYLOADS:
        expect(users.get_by_role("cell", name=payload, exact=True)).to_be_visible()
    assert_inert(page, dialogs)
