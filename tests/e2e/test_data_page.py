"""The /data page in a real browser: its export links download the file (they are backend
routes, which React Router's Link would send to the app's 404 page)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_an_export_link_downloads_the_export(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/data")
    exports = page.get_by_role("list", name="Exports")
    link = exports.get_by_role("link", name="JSON").first
    expect(link).to_be_visible()  # the list comes from the page's state: the page is live
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".json")
    assert isinstance(json.loads(Path(download.path()).read_text("utf-8")), dict)
    expect(page).to_have_url(f"{app_url}/data/")
