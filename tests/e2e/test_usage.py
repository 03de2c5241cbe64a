"""The /usage dashboard on generated data: filter, drill into a call, download a CSV whose
sum is the headline's cost. With ``PARLEY_UPDATE_SCREENSHOTS=1`` it also saves the README's
picture, assets/screenshots/usage-dashboard.png (a plain run leaves the checkout clean)."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.services.cost import format_usd
from bench.gen_calls import load

pytestmark = pytest.mark.e2e
SCREENSHOT = Path(__file__).resolve().parents[2] / "assets" / "screenshots" / "usage-dashboard.png"


def test_the_dashboard_filters_drills_into_a_call_and_exports_its_headline(
    page: Page, app_url: str, app_database: Engine
) -> None:
    end = datetime.now(UTC)
    load(app_database, 4000, end=end, seed=21)
    first, last = (end - timedelta(days=29)).date(), end.date()
    page.goto(f"{app_url}/usage?from={first}&to={last}&tz=Europe/Paris")
    cost = page.get_by_role("group", name="Cost").get_by_test_id("figure-value")
    expect(cost).to_have_text(re.compile(r"\$"))
    expect(page.locator("svg.recharts-surface").first).to_be_visible()  # the charts drew
    if os.environ.get("PARLEY_UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    unfiltered = cost.inner_text()  # read now: once the filter applies it is another figure
    page.get_by_label("Model").select_option("gpt-5")
    expect(page).to_have_url(re.compile(r"model=gpt-5"))
    expect(cost).not_to_have_text(unfiltered)
    headline = page.get_by_role("group", name="Cost").get_by_test_id("figure-value").inner_text()

    page.get_by_role("button", name=re.compile(r"^Open call \d+")).first.click()
    dialog = page.get_by_role("dialog", name="Call details")
    expect(dialog).to_contain_text("Price version")
    expect(dialog).to_contain_text("gpt-5")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    link = page.get_by_role("link", name="Download CSV")
    href = link.get_attribute("href") or ""
    assert href.startswith("/_parley/usage/export/calls.csv?") and "model=gpt-5" in href
    with page.expect_download() as clicked:  # as a person would: click, and a file arrives
        link.click()
    download = clicked.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["model"] for r in rows} == {"gpt-5"}
    total = sum((Decimal(r["cost_usd"]) for r in rows if r["cost_usd"]), Decimal(0))
    assert headline.removeprefix("≥ ") == format_usd(total)
