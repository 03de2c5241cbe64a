"""Structured extraction through the provider interface, with Instructor validating and
re-asking (app/llm/structured.py), and properties of the schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.errors import ProviderOverloaded
from app.extract import EXTRACTORS, ExtractionFailed, extract, register
from app.extract.schemas import Address, Contact, Contacts, Sentiment
from app.llm.base import ToolCall
from app.llm.fake import ScriptedProvider, ScriptedReply

GOOD = {"sentiment": "positive", "confidence": 0.9, "reasoning": "They loved it."}
RECALL = "Recall the function correctly, fix the errors"  # Instructor's re-ask, tools mode
CORRECT_JSON = "Correct your JSON ONLY RESPONSE"  # Instructor's re-ask, JSON modes


def tool_reply(arguments: object, call_id: str = "t1") -> ScriptedReply:
    return ScriptedReply(
        chunks=(), tool_calls=(ToolCall(call_id, "Sentiment", json.dumps(arguments)),)
    )


async def test_tools_mode_forces_the_tool_and_validates_its_arguments() -> None:
    provider = ScriptedProvider([tool_reply(GOOD)])
    result = await extract(
        provider, model="m", extractor="sentiment", text="Loved it!", metadata={"user_id": "u"}
    )
    assert result.value == Sentiment(**GOOD)
    assert type(result.value) is Sentiment and "_raw_response" not in vars(result.value)
    assert result.attempts == 1
    (request,) = provider.requests
    # Instructor's tool: named after the class, described by its docstring, the class's
    # JSON Schema as its parameters; and forced.
    (tool,) = request.tools
    assert (tool.name, request.tool_choice) == ("Sentiment", "Sentiment")
    assert tool.description == Sentiment.__doc__
    assert tool.parameters["properties"] == Sentiment.model_json_schema()["properties"]
    assert tool.parameters["required"] == ["confidence", "reasoning", "sentiment"]
    assert request.metadata == {"user_id": "u", "feature": "extract", "extractor": "sentiment"}
    assert request.temperature == 0 and request.response_schema is None
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.messages[1].content == "Loved it!"


async def test_an_invalid_answer_is_re_asked_with_the_errors_and_then_fixed() -> None:
    provider = ScriptedProvider([tool_reply({**GOOD, "confidence": 7}), tool_reply(GOOD, "t2")])
    result = await extract(provider, model="m", extractor="sentiment", text="Loved it!")
    assert result.value == Sentiment(**GOOD)
    assert result.attempts == 2
    first, retry = (r.messages for r in provider.requests)
    assert retry[: len(first)] == first
    # Instructor's re-ask: the model's own call, then the call's result: the errors.
    call, answer = retry[len(first) :]
    assert call.role == "assistant" and call.tool_calls[0].id == "t1"
    assert json.loads(call.tool_calls[0].arguments)["confidence"] == 7
    assert (answer.role, answer.tool_call_id, answer.is_error) == ("tool", "t1", True)
    assert RECALL in answer.content
    assert "confidence\n  Input should be less than or equal to 1" in answer.content
    assert provider.requests[1].tool_choice == "Sentiment"


async def test_after_bounded_retries_the_error_names_the_field() -> None:
    provider = ScriptedProvider(lambda request: tool_reply({**GOOD, "sentiment": "ecstatic"}))
    with pytest.raises(ExtractionFailed) as caught:
        await extract(provider, model="m", extractor="sentiment", text="x", max_retries=2)
    assert len(provider.requests) == 3
    assert caught.value.fields == ("sentiment",)
    assert caught.value.message.startswith(
        "Sentiment: The model's answer was still invalid after 3 tries. Field(s): sentiment. "
        "sentiment: Input should be 'positive', 'negative' or 'neutral'"
    )
    # Each retry re-asked about the answer before it: 2 re-asks on the last request.
    assert sum(RECALL in m.content for m in provider.requests[-1].messages) == 2


async def test_a_nested_field_is_named_by_its_path() -> None:
    bad = {"contacts": [{"name": "Ada", "addresses": [{"type": "castle"}]}]}
    provider = ScriptedProvider(lambda request: tool_reply(bad))
    with pytest.raises(ExtractionFailed) as caught:
        await extract(provider, model="m", extractor="contacts", text="x", max_retries=0)
    assert len(provider.requests) == 1
    assert caught.value.fields == ("contacts.0.addresses.0.type",)
    assert "after 1 try." in caught.value.message


async def test_an_answer_without_the_tool_call_is_re_asked() -> None:
    provider = ScriptedProvider([ScriptedReply.of("It is positive."), tool_reply(GOOD)])
    result = await extract(provider, model="m", extractor="sentiment", text="Loved it!")
    assert result.attempts == 2
    retry = provider.requests[1].messages
    assert (retry[-2].role, retry[-2].content) == ("assistant", "It is positive.")
    assert retry[-1].role == "user" and RECALL in retry[-1].content


async def test_a_provider_failure_is_raised_as_itself_and_not_re_asked() -> None:
    provider = ScriptedProvider([ScriptedReply(chunks=(), error=ProviderOverloaded())])
    with pytest.raises(ProviderOverloaded):
        await extract(provider, model="m", extractor="sentiment", text="x")
    assert len(provider.requests) == 1


async def test_an_answer_cut_off_at_the_token_limit_is_a_clear_error() -> None:
    provider = ScriptedProvider([ScriptedReply(chunks=("{",), finish="length")])
    with pytest.raises(ExtractionFailed, match="cut off at the model's token limit"):
        await extract(provider, model="local", extractor="sentiment", text="x", mode="json_schema")


async def test_json_schema_mode_reads_the_reply_text() -> None:
    contacts = {
        "contacts": [
            {
                "name": "Ada Lovelace",
                "email": "ada@example.org",
                "phone": "+44 20 7946 0000",
                "company": "Analytical Engines",
                "addresses": [{"street": "1 St James's Sq", "city": "London", "type": "home"}],
            }
        ]
    }
    provider = ScriptedProvider([ScriptedReply.of(json.dumps(contacts))])
    result = await extract(
        provider, model="local", extractor="contacts", text="...", mode="json_schema"
    )
    assert isinstance(result.value, Contacts)
    assert result.value.contacts[0].addresses[0].city == "London"
    (request,) = provider.requests
    assert request.tools == () and request.tool_choice is None
    assert request.response_schema == Contacts.model_json_schema()


async def test_json_schema_mode_re_asks_an_answer_that_is_not_the_json() -> None:
    provider = ScriptedProvider([ScriptedReply.of("Sure! Here it is."),
                                 ScriptedReply.of(json.dumps(GOOD))])  # fmt: skip
    result = await extract(
        provider, model="local", extractor="sentiment", text="x", mode="json_schema"
    )
    assert (result.value, result.attempts) == (Sentiment(**GOOD), 2)
    retry = provider.requests[1].messages
    assert (retry[-2].role, retry[-2].content) == ("assistant", "Sure! Here it is.")
    assert retry[-1].role == "user" and CORRECT_JSON in retry[-1].content
    assert provider.requests[1].response_schema == Sentiment.model_json_schema()


async def test_an_unknown_extractor_is_a_clear_error() -> None:
    with pytest.raises(ExtractionFailed, match=r"No extractor named 'tone'\. Try: sentiment"):
        await extract(ScriptedProvider([]), model="m", extractor="tone", text="x")


def test_an_extractor_is_one_class_and_one_registration() -> None:
    class Todo(BaseModel):
        """Tasks the text asks for."""

        tasks: list[str]

    register("todo_test", "To-dos", Todo)
    try:
        assert EXTRACTORS["todo_test"].schema is Todo
        with pytest.raises(ValueError, match="already registered"):
            register("todo_test", "again", Todo)
    finally:
        del EXTRACTORS["todo_test"]


# ----- properties of the schemas -------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
sentiments = st.builds(
    Sentiment,
    sentiment=st.sampled_from(["positive", "negative", "neutral"]),
    confidence=st.floats(0, 1),
    reasoning=words,
)
addresses = st.builds(
    Address,
    street=st.none() | words,
    city=st.none() | words,
    state=st.none() | words,
    zip=st.none() | st.from_regex(r"[0-9]{5}", fullmatch=True),
    type=st.sampled_from(["home", "work", "other"]),
)
contacts = st.builds(
    Contacts,
    contacts=st.lists(
        st.builds(
            Contact,
            name=words,
            email=st.none() | st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True),
            phone=st.none() | st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True),
            company=st.none() | words,
            addresses=st.lists(addresses, max_size=3),
        ),
        max_size=4,
    ),
)


@given(st.one_of(sentiments, contacts))
@settings(max_examples=200, deadline=None)
def test_valid_values_round_trip_through_json_and_fit_the_json_schema(value: BaseModel) -> None:
    dumped = value.model_dump_json()
    assert type(value).model_validate_json(dumped) == value
    jsonschema.validate(json.loads(dumped), type(value).model_json_schema())


@given(st.floats(allow_nan=False).filter(lambda x: not 0 <= x <= 1))
def test_a_confidence_outside_0_to_1_is_refused_naming_the_field(confidence: float) -> None:
    with pytest.raises(ValidationError) as caught:
        Sentiment(sentiment="neutral", confidence=confidence, reasoning="r")
    assert [e["loc"] for e in caught.value.errors()] == [("confidence",)]


@given(st.text(max_size=30).filter(lambda t: t not in ("home", "work", "other")))
def test_an_address_type_outside_home_work_other_is_refused(kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Address.model_validate({"type": kind})
    assert [e["loc"] for e in caught.value.errors()] == [("type",)]
