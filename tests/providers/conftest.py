"""Fixtures for the provider suite: the loopback server, and the real SDK providers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.llm.anthropic_api import AnthropicProvider
from app.llm.openai_api import OpenAIProvider
from tests.providers.loopback import LoopbackServer

ANTHROPIC_KEY = "sk-ant-test-SECRET-0123456789"
OPENAI_KEY = "sk-test-SECRET-9876543210"


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(loopback_server: LoopbackServer) -> Iterator[LoopbackServer]:
    loopback_server.reset()
    yield loopback_server
    loopback_server.reset()


@pytest.fixture
async def anthropic(server: LoopbackServer) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(
        api_key=ANTHROPIC_KEY, base_url=server.url, connect_timeout=2, read_timeout=10
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def openai_provider(server: LoopbackServer) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(
        api_key=OPENAI_KEY, base_url=f"{server.url}/v1", connect_timeout=2, read_timeout=10
    )
    yield provider
    await provider.aclose()
