"""Wiring: which models are offered for which environment, and how each is put together."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.llm.anthropic_api import AnthropicProvider
from app.llm.cache import CachingProvider
from app.llm.cooldown import LocalCooldown, RedisCooldown
from app.llm.openai_api import OpenAIProvider
from app.llm.registry import ModelRegistry
from app.llm.router import Router
from app.services.wiring import build_cooldown, build_registry
from app.settings import Settings

ENV_PREFIXES = ("PARLEY_", "ANTHROPIC_", "OPENAI_", "REDIS_URL", "DATABASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name)


def router_of(registry: ModelRegistry, model_id: str) -> Router:
    _, provider = registry.resolve(model_id)
    if isinstance(provider, CachingProvider):
        provider = provider.inner
    assert isinstance(provider, Router)
    return provider


def ids(registry: ModelRegistry) -> list[str]:
    return [info.id for info in registry.available()]


def test_with_no_keys_only_the_local_model_is_offered() -> None:
    registry = build_registry(Settings())
    assert ids(registry) == ["local"]
    info, _ = registry.resolve("local")
    assert (info.display_name, info.provider, info.provider_model) == (
        "SmolLM2 135M (built-in)",
        "local",
        "smollm2-135m-instruct",
    )
    assert registry.default_model() == "local"


def test_the_fake_model_is_added_by_its_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "script.json"
    script.write_text('[{"match": "hi", "reply": "hello"}]')
    monkeypatch.setenv("PARLEY_FAKE_SCRIPT", str(script))
    assert ids(build_registry(Settings())) == ["local", "fake"]


def test_the_sdks_own_variables_configure_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9999")
    registry = build_registry(Settings())
    offered = ids(registry)
    assert "claude-sonnet-5-5" in offered and "local" in offered
    assert not any(i.startswith("gpt") for i in offered)
    router = router_of(registry, "claude-sonnet-5-5")
    assert [t.entry.id for t in router.targets] == [
        "claude-sonnet-5-5",
        "claude-sonnet-4-6",
        "local",
    ]
    first = router.targets[0].provider
    assert isinstance(first, AnthropicProvider)
    assert str(first.client.base_url).startswith("http://127.0.0.1:9999")
    assert first.client.max_retries == 0
    assert first.timeout.connect == router.targets[0].entry.timeouts.connect
    info, _ = registry.resolve("claude-sonnet-5-5")
    assert info.fallbacks == ("claude-sonnet-4-6", "local")


def test_openai_and_a_compatible_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    catalogue = tmp_path / "models.toml"
    catalogue.write_text(
        """
[[model]]
id = "llama"
provider = "openai-compatible"
provider_model = "llama3.2:3b"
context_window = 8192
fallbacks = ["gpt", "local"]

[[model]]
id = "gpt"
provider = "openai"
provider_model = "gpt-4.1-mini"
context_window = 1000
fallbacks = ["local"]

[[model]]
id = "local"
provider = "local"
context_window = 2048
"""
    )
    monkeypatch.setenv("PARLEY_CATALOGUE", str(catalogue))
    monkeypatch.setenv("PARLEY_OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:11434/v1")
    assert ids(build_registry(Settings())) == ["llama", "local"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8888/v1")
    registry = build_registry(Settings())
    assert ids(registry) == ["llama", "gpt", "local"]
    targets = router_of(registry, "llama").targets
    compat, gpt = targets[0].provider, targets[1].provider
    assert isinstance(compat, OpenAIProvider) and isinstance(gpt, OpenAIProvider)
    assert (compat.name, gpt.name) == ("openai-compatible", "openai")
    assert str(compat.client.base_url).startswith("http://127.0.0.1:11434/v1")
    assert str(gpt.client.base_url).startswith("http://127.0.0.1:8888/v1")
    assert compat.client.max_retries == gpt.client.max_retries == 0


def test_cooldown_state_goes_to_redis_when_redis_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(build_cooldown(Settings()), LocalCooldown)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("PARLEY_COOLDOWN_SECONDS", "12")
    cooldown = build_cooldown(Settings())
    assert isinstance(cooldown, RedisCooldown) and cooldown.period == 12


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    _, cached = build_registry(Settings()).resolve("local")
    assert isinstance(cached, CachingProvider)
    monkeypatch.setenv("PARLEY_CACHE_SIZE", "0")
    _, plain = build_registry(Settings()).resolve("local")
    assert isinstance(plain, Router)
