"""The gateway end to end (issue 14): a user creates an API key on /keys, copies it from the
page (it is shown once), a script calls Parley's /v1 API with it through the official
``openai`` and ``anthropic`` SDKs, and the calls appear on /usage under the feature "api",
with their tokens and cost, and as the key's last use on /keys.

The script is a real one: a separate Python process that gets only the base URL and the key.
Upstream is the loopback Anthropic server (ANTHROPIC_BASE_URL), scripted per call."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.models import CallLog, User
from app.services.cost import format_usd
from tests.e2e.conftest import E2E_EMAIL
from tests.e2e.test_providers import HAIKU_4, expected_cost
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events

pytestmark = pytest.mark.e2e

KEY_NAME = "Notebook script"
# One streamed call through the openai SDK, one whole call through the anthropic SDK.
SCRIPT = textwrap.dedent(
    """
    import os

    import anthropic
    import openai

    base, key = os.environ["PARLEY_BASE_URL"], os.environ["PARLEY_API_KEY"]
    client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
    stream = client.chat.completions.create(
        model=os.environ["MODEL"],
        messages=[{"role": "user", "content": "Say hello over the API"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    print("openai:", text, usage.prompt_tokens, usage.completion_tokens)

    claude = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
    message = claude.messages.create(
        model=os.environ["MODEL"],
        max_tokens=200,
        messages=[{"role": "user", "content": "And once more, whole"}],
    )
    print("anthropic:", message.content[0].text, message.usage.input_tokens,
          message.usage.output_tokens)
    """
)


def run_script(base_url: str, key: str) -> list[str]:
    """The script's output lines; it sees only the base URL and the key."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PARLEY_BASE_URL": base_url,
        "PARLEY_API_KEY": key,
        "MODEL": HAIKU_4,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def api_calls(database: Engine, user_id: str) -> list[CallLog]:
    with Session(database) as session:
        query = select(CallLog).where(CallLog.feature == "api", CallLog.user_id == user_id)
        return list(session.exec(query.order_by(col(CallLog.id))).all())


def wait_for_api_calls(database: Engine, user_id: str, count: int) -> list[CallLog]:
    """The call log is written as each call ends, off the response's path: wait for it."""
    deadline = time.monotonic() + 15
    while len(calls := api_calls(database, user_id)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return calls


def test_a_key_made_on_the_page_works_from_a_script_and_its_calls_show_on_usage(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(
        Reply(pieces=anthropic_events(["Hello ", "from ", "the API."], model=HAIKU_4,
                                      input_tokens=31, output_tokens=9)),
        Reply(pieces=anthropic_events(["Whole ", "answer."], model=HAIKU_4,
                                      input_tokens=17, output_tokens=5)),
    )  # fmt: skip
    with Session(app_database) as session:
        me = session.exec(select(User).where(User.email == E2E_EMAIL)).one()
    assert api_calls(app_database, me.id) == []

    # Create the key, read it off the page: shown once.
    page.goto(f"{app_url}/keys")
    page.get_by_label("Name", exact=True).fill(KEY_NAME)
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("New API key")
    expect(shown).to_have_text(re.compile(r"^pk-\S{30,}$"))
    key = shown.inner_text()
    expect(page.get_by_role("status").filter(has_text="it is not shown again")).to_be_visible()
    keys = page.get_by_role("table")
    row = keys.get_by_role("row").filter(has_text=KEY_NAME)
    expect(row).to_contain_text(key[:10] + "…")  # its prefix only
    expect(row).to_contain_text(re.compile(r"UTCnevernever"))  # no expiry, never used
    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_label("New API key")).to_have_count(0)
    page.reload()
    expect(keys.get_by_role("row").filter(has_text=KEY_NAME)).to_be_visible()
    assert key not in page.content()

    # A real script uses it through both SDKs.
    out = run_script(app_url, key)
    assert out == ["openai: Hello from the API. 31 9", "anthropic: Whole answer. 17 5"]
    assert [r.body["model"] for r in anthropic.requests] == [HAIKU_4, HAIKU_4]
    assert all(key not in str(r.headers) for r in anthropic.requests)  # never sent upstream
    calls = wait_for_api_calls(app_database, me.id, 2)
    assert [(c.model, c.status, c.input_tokens, c.output_tokens) for c in calls] == [
        (HAIKU_4, "ok", 31, 9),
        (HAIKU_4, "ok", 17, 5),
    ]
    cost = expected_cost(HAIKU_4, 31, 9) + expected_cost(HAIKU_4, 17, 5)
    assert sum((c.cost or Decimal(0) for c in calls), Decimal(0)) == cost > 0

    # The usage page counts them under "api", as this user's.
    page.goto(f"{app_url}/usage")
    page.get_by_label("Feature", exact=True).select_option("api")
    expect(page).to_have_url(re.compile(r"feature=api"))
    page.get_by_label("User", exact=True).select_option(me.id)
    expect(page).to_have_url(re.compile(r"user="))
    figure = lambda name: page.get_by_role("group", name=name).get_by_test_id("figure-value")  # noqa: E731
    expect(figure("Requests")).to_have_text("2")
    expect(figure("Input tokens")).to_have_text("48")
    expect(figure("Output tokens")).to_have_text("14")
    expect(figure("Cost")).to_have_text(format_usd(cost))
    opened = page.get_by_role("button", name=re.compile(r"^Open call \d+"))
    expect(opened).to_have_count(2)
    for call in calls:
        log_row = page.get_by_role("row").filter(
            has=page.get_by_role("button", name=f"Open call {call.id}")
        )
        expect(log_row).to_contain_text("api")
        expect(log_row).to_contain_text(HAIKU_4)
    page.get_by_role("button", name=f"Open call {calls[0].id}").click()
    dialog = page.get_by_role("dialog", name="Call details")
    expect(dialog).to_contain_text("api")
    expect(dialog).to_contain_text(me.id)
    dialog.get_by_role("button", name="Close").click()

    # And the key shows its last use.
    page.goto(f"{app_url}/keys")
    row = page.get_by_role("table").get_by_role("row").filter(has_text=KEY_NAME)
    # Created, expires never, last used (a time now, no longer "never"), live.
    expect(row).to_contain_text(re.compile(r"UTCnever\d{4}-\d\d-\d\d \d\d:\d\d UTClive"))
