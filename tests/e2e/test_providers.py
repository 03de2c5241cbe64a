"""Real providers in the browser: Anthropic's wire format from a loopback server reached
through ANTHROPIC_BASE_URL, failover on 529, Retry after a mid-stream error, the local model."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.models import CallLog, Message
from tests.e2e.conftest import ANTHROPIC_TEST_KEY
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.providers.loopback import LoopbackServer, Reply, anthropic_error, anthropic_events

pytestmark = pytest.mark.e2e

HAIKU_4 = "claude-haiku-4-5"
HAIKU_5 = "claude-haiku-5-5"  # the next model in HAIKU_4's chain (app/llm/catalogue.toml)


def pick(page: Page, model_id: str) -> None:
    picker = page.get_by_role("combobox", name="Model")
    expect(picker.locator(f"option[value='{model_id}']")).to_have_count(1)
    picker.select_option(model_id)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(model_id)


def latest_reply_row(database: Engine) -> Message:
    with Session(database) as session:
        row = session.exec(
            select(Message).where(Message.role == "assistant").order_by(col(Message.id).desc())
        ).first()
    assert row is not None
    return row


def calls_for(database: Engine, message_id: int | None) -> list[CallLog]:
    with Session(database) as session:
        query = select(CallLog).where(CallLog.message_id == message_id).order_by(col(CallLog.id))
        return list(session.exec(query).all())


def title_reply(title: str, model: str = HAIKU_4) -> Reply:
    """What the model answers when Parley asks it to title the conversation."""
    return Reply(pieces=anthropic_events([title], model=model, input_tokens=40, output_tokens=4))


def expect_title(page: Page, title: str) -> None:
    """The model's title replaces the provisional one, in the heading and the sidebar."""
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("link", name=title)).to_be_visible()


def expected_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return Decimal(genai_prices.calc_price(usage, model, provider_id="anthropic").total_price)


def test_the_picker_offers_only_configured_models(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    expect(
        page.get_by_role("combobox", name="Model").locator("option[value='local']")
    ).to_have_count(1)
    values = (
        page.get_by_role("combobox", name="Model")
        .locator("option")
        .evaluate_all("options => options.map(o => o.value)")
    )
    assert {HAIKU_4, HAIKU_5, "local", "fake"} <= set(values)
    # OpenAI has no key in this run, so none of its models is offered.
    assert not [v for v in values if v.startswith("gpt-")]


def test_a_claude_reply_streams_and_records_tokens_and_cost(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(
        Reply(
            pieces=anthropic_events(
                ["Hello ", "from ", "the ", "loopback ", "Claude."],
                model=HAIKU_4,
                input_tokens=21,
                output_tokens=13,
            ),
            delay=0.05,
        ),
        title_reply("Greeting the loopback"),
    )
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    send(page, "Hi Claude")
    reply = last_reply(page)
    expect(reply).to_contain_text("Hello from the loopback Claude.")
    expect(reply).to_contain_text("Claude Haiku 4.5")
    expect(reply).to_contain_text("21 in · 13 out")
    expect_title(page, "Greeting the loopback")

    request, titling = anthropic.requests
    assert titling.body["model"] == HAIKU_4 and titling.body.get("temperature") in (0, 0.0, None)
    assert request.path.endswith("/messages")
    assert request.body["model"] == HAIKU_4 and request.body["stream"] is True
    assert request.body["messages"][-1]["content"] in (
        "Hi Claude",
        [{"type": "text", "text": "Hi Claude"}],
    )

    row = latest_reply_row(app_database)
    assert (row.model, row.input_tokens, row.output_tokens, row.status) == (
        HAIKU_4,
        21,
        13,
        "complete",
    )
    calls = calls_for(app_database, row.id)
    assert [(c.model, c.status, c.input_tokens, c.output_tokens) for c in calls] == [
        (HAIKU_4, "ok", 21, 13)
    ]
    assert calls[0].cost == expected_cost(HAIKU_4, 21, 13) > 0
    assert ANTHROPIC_TEST_KEY not in repr(calls[0].model_dump())
    with Session(app_database) as session:
        title_calls = session.exec(
            select(CallLog).where(
                CallLog.conversation_id == row.conversation_id, CallLog.feature == "title"
            )
        ).all()
    assert [(c.model, c.status, c.input_tokens, c.output_tokens) for c in title_calls] == [
        (HAIKU_4, "ok", 40, 4)
    ]


def test_a_529_fails_over_to_the_next_model_and_the_log_shows_both(
    page: Page, app_url: str, anthropic: LoopbackServer, app_database: Engine
) -> None:
    anthropic.script(
        anthropic_error(529, "overloaded_error", "Overloaded"),
        Reply(pieces=anthropic_events(["Answered ", "by the fallback."], model=HAIKU_5)),
        title_reply("Checking presence"),
    )
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    send(page, "Are you there?")
    reply = last_reply(page)
    expect(reply).to_contain_text("Answered by the fallback.")
    expect(reply).to_contain_text("Claude Haiku 5.5")
    expect(reply.get_by_text("fallback", exact=True)).to_be_visible()
    expect_title(page, "Checking presence")
    # The reply: a 529 from the model asked for, then its fallback; then the title request,
    # which goes to the conversation's own model again.
    assert [r.body["model"] for r in anthropic.requests] == [HAIKU_4, HAIKU_5, HAIKU_4]

    row = latest_reply_row(app_database)
    assert (row.model, row.requested_model, row.status) == (HAIKU_5, HAIKU_4, "complete")
    calls = calls_for(app_database, row.id)
    assert [(c.model, c.status, c.attempt, c.failover_from) for c in calls] == [
        (HAIKU_4, "error", 1, None),
        (HAIKU_5, "ok", 2, HAIKU_4),
    ]
    assert calls[0].error_type and "overload" in calls[0].error_type.lower()


def test_an_error_after_text_keeps_the_partial_reply_and_retry_completes_it(
    page: Page, app_url: str, anthropic: LoopbackServer
) -> None:
    anthropic.script(
        Reply(
            pieces=anthropic_events(
                ["Partial ", "answer"],
                model=HAIKU_4,
                error={"type": "overloaded_error", "message": "Overloaded"},
            )
        )
    )
    open_new_chat(page, app_url)
    pick(page, HAIKU_4)
    send(page, "Tell me something")
    reply = last_reply(page)
    expect(reply.get_by_role("alert")).to_be_visible()
    expect(reply).to_contain_text("Partial answer")
    expect(page.get_by_role("log")).to_contain_text("Tell me something")

    anthropic.script(
        Reply(pieces=anthropic_events(["A complete ", "answer."], model=HAIKU_4)),
        title_reply("Something told"),
    )
    reply.get_by_role("button", name="Retry", exact=True).click()
    expect(last_reply(page)).to_contain_text("A complete answer.")
    expect_title(page, "Something told")
    expect(last_reply(page).get_by_role("alert")).to_have_count(0)
    # Shown no more: the failed version is hidden, or gone if the list was sent anew (a
    # hidden message stays in the DOM, so the visible text is what counts).
    expect(page.get_by_role("log")).not_to_contain_text("Partial answer", use_inner_text=True)


def test_the_built_in_model_answers_with_no_key(page: Page, app_url: str) -> None:
    open_new_chat(page, app_url)
    pick(page, "local")
    send(page, "Say hello in one short sentence.")
    reply = last_reply(page)
    expect(reply).to_contain_text("SmolLM2", timeout=60_000)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible(timeout=60_000)
    text = reply.inner_text().replace("Assistant", "").replace("SmolLM2 135M (built-in)", "")
    assert len(text.strip()) > 3
    expect(reply).to_contain_text(" out")  # token counts recorded
