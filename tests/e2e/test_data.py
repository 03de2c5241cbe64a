"""Your data in a real browser (issue 14): the /data page's export links download files, and
the file exported imports back through the page's upload, with its progress announced."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Download, Page, expect

from tests.e2e.conftest import E2E_PASSWORD, sign_up, watch_errors
from tests.e2e.test_chat import last_reply, open_new_chat, send

pytestmark = pytest.mark.e2e


def download(page: Page, link_name: str) -> tuple[Download, str]:
    """Click a link on the page, as a person would, and read the file that arrives."""
    row = page.get_by_role("list", name="Exports").get_by_role("listitem").first
    with page.expect_download() as clicked:
        row.get_by_role("link", name=link_name).click()
    file = clicked.value
    assert file.failure() is None
    return file, Path(file.path()).read_text(encoding="utf-8")


def test_export_downloads_and_imports_back(browser: Browser, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    sign_up(context, app_url, f"data-{uuid.uuid4().hex[:8]}@example.com", E2E_PASSWORD)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch_errors(page)
    try:
        rare = "d" + uuid.uuid4().hex[:10]
        open_new_chat(page, app_url)
        send(page, f"remember {rare}")
        expect(last_reply(page)).to_contain_text(f"You said: remember {rare}")

        page.goto(f"{app_url}/data")
        expect(page.get_by_role("heading", name="Your data")).to_be_visible()
        file, text = download(page, "JSON")
        assert file.suggested_filename.endswith(".json")
        exported = json.loads(text)
        assert f"remember {rare}" in json.dumps(exported)
        note, markdown = download(page, "Markdown")
        assert note.suggested_filename.endswith(".md")
        assert f"remember {rare}" in markdown and f"You said: remember {rare}" in markdown

        # The same file, imported through the page: one more conversation with that text.
        page.locator("input[type=file]").set_input_files(
            [{"name": "export.json", "mimeType": "application/json", "buffer": text.encode()}]
        )
        # An upload, then a background import: generous on a busy machine (a proof run at load
        # 14 took over 15 s).
        expect(page.get_by_role("status").filter(has_text="Imported")).to_contain_text(
            re.compile(r"Imported 1 conversations? \(2 messages\)"), timeout=60_000
        )
        page.goto(f"{app_url}/")
        nav = page.get_by_role("navigation", name="Conversations")
        expect(nav.get_by_role("link", name=re.compile(rare))).to_have_count(2)
        assert not problems, "the page reported errors:\n" + "\n".join(problems)
    finally:
        context.close()
