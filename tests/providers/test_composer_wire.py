"""What the composer adds, on the wire of both real SDKs (loopback server): images as the
vendor's image blocks, the system prompt, and the conversation's parameters. Also a request
built by the context builder from attachments reaches the wire intact."""

from __future__ import annotations

import base64

from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import ChatMessage, ChatRequest, ImagePart, StreamEvent, TextDelta
from app.llm.openai_api import OpenAIProvider
from app.services.attachments import AttachmentKind
from app.services.context import ContextFile, user_message
from tests.providers.loopback import LoopbackServer, Reply, anthropic_events, openai_events

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x01" * 8

REQUEST = ChatRequest(
    model="m",
    messages=(
        ChatMessage("system", "You review code."),
        ChatMessage("user", "What is in these?", (ImagePart("image/png", PNG),)),
        ChatMessage("assistant", "Two pictures."),
        ChatMessage("user", "", (ImagePart("image/webp", WEBP),)),
    ),
    temperature=0.4,
    max_tokens=321,
)


async def texts(events) -> str:
    out: list[StreamEvent] = [e async for e in events]
    return "".join(e.text for e in out if isinstance(e, TextDelta))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_anthropic_gets_base64_image_blocks_system_and_max_tokens(
    server: LoopbackServer, anthropic: AnthropicProvider
) -> None:
    server.script(Reply(pieces=anthropic_events(["seen"])))
    assert await texts(anthropic.stream(REQUEST)) == "seen"
    body = server.requests[0].body
    assert body["system"] == "You review code."
    assert body["max_tokens"] == 321
    assert "temperature" not in body  # Anthropic's API refuses sampling parameters now
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)},
                },
                {"type": "text", "text": "What is in these?"},
            ],
        },
        {"role": "assistant", "content": "Two pictures."},
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/webp", "data": b64(WEBP)},
                }
            ],
        },
    ]


async def test_openai_gets_image_url_data_parts_system_and_parameters(
    server: LoopbackServer, openai_provider: OpenAIProvider
) -> None:
    server.script(Reply(pieces=openai_events(["seen"])))
    assert await texts(openai_provider.stream(REQUEST)) == "seen"
    body = server.requests[0].body
    assert (body["temperature"], body["max_completion_tokens"]) == (0.4, 321)
    assert body["messages"] == [
        {"role": "system", "content": "You review code."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}},
            ],
        },
        {"role": "assistant", "content": "Two pictures."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/webp;base64,{b64(WEBP)}"}}
            ],
        },
    ]


async def test_a_message_without_images_stays_plain_text(
    server: LoopbackServer, openai_provider: OpenAIProvider, anthropic: AnthropicProvider
) -> None:
    plain = ChatRequest(model="m", messages=(ChatMessage("user", "hi"),))
    server.script(Reply(pieces=openai_events(["a"])), Reply(pieces=anthropic_events(["b"])))
    await texts(openai_provider.stream(plain))
    await texts(anthropic.stream(plain))
    assert [r.body["messages"] for r in server.requests] == [
        [{"role": "user", "content": "hi"}],
        [{"role": "user", "content": "hi"}],
    ]
    assert "temperature" not in server.requests[0].body


async def test_attachments_built_into_a_turn_reach_both_wires(
    server: LoopbackServer, openai_provider: OpenAIProvider, anthropic: AnthropicProvider
) -> None:
    files = [
        ContextFile("main.py", AttachmentKind.text, "text/plain", b"print('```')\n"),
        ContextFile("dot.png", AttachmentKind.image, "image/png", PNG),
    ]
    turn = user_message("Check these", files, vision=True)
    request = ChatRequest(model="m", messages=(turn,))
    server.script(Reply(pieces=openai_events(["a"])), Reply(pieces=anthropic_events(["b"])))
    await texts(openai_provider.stream(request))
    await texts(anthropic.stream(request))
    expected_text = "Check these\n\nAttached file `main.py`:\n````python\nprint('```')\n````"
    openai_content = server.requests[0].body["messages"][0]["content"]
    assert openai_content[0] == {"type": "text", "text": expected_text}
    assert openai_content[1]["image_url"]["url"] == f"data:image/png;base64,{b64(PNG)}"
    anthropic_content = server.requests[1].body["messages"][0]["content"]
    assert anthropic_content[-1] == {"type": "text", "text": expected_text}
    assert anthropic_content[0]["source"]["data"] == b64(PNG)
    # A model without vision gets a note instead of the image.
    blind = user_message("Check these", files, vision=False)
    assert blind.images == ()
    assert blind.content.endswith("[Image `dot.png` not shown: this model can't see images.]")
