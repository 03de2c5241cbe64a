"""Builds the services from settings: which providers exist, which database, which timeouts."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.db.session import get_engine
from app.guards import Guards, ModelLimits, guard, redact
from app.guards.setup import build_guards, model_limits
from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import Provider
from app.llm.cache import CachingProvider, ResponseCache
from app.llm.calllog import CallSink
from app.llm.catalogue import CatalogueEntry, load_catalogue
from app.llm.cooldown import Cooldown, LocalCooldown, RedisCooldown
from app.llm.fake import load_rules, rule_provider
from app.llm.local import LocalProvider
from app.llm.openai_api import OpenAIProvider
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import RetryPolicy, Router, Target
from app.services.attachments import AttachmentLimits, AttachmentService
from app.services.calllog import DatabaseCallSink
from app.services.chat import ChatService
from app.services.redis_hub import hub_for
from app.settings import Settings

FAKE_MAX_OUTPUT_TOKENS = 4096  # the scripted model's output limit, as the guards see it


def attachment_limits(settings: Settings) -> AttachmentLimits:
    return AttachmentLimits(
        text_max_bytes=settings.attachment_text_max_bytes,
        image_max_bytes=settings.attachment_image_max_bytes,
        max_files=settings.attachment_max_files,
        pending_max_bytes=settings.attachment_pending_max_bytes,
    )


def browser_upload_limits(settings: Settings) -> tuple[int, int]:
    """What the browser checks before it uploads: the largest single file (bytes) and the
    most files at once. Within these, one upload never exceeds the body cap
    (``PARLEY_UPLOAD_MAX_BYTES``) unless that is set below max files x the largest file."""
    limits = attachment_limits(settings)
    return limits.largest_file(settings.upload_max_bytes), limits.max_files


def build_providers(settings: Settings) -> dict[str, Provider]:
    """One provider per configured kind: the local model always, the others iff configured."""
    providers: dict[str, Provider] = {
        "local": LocalProvider(
            settings.resolved_local_model_path,
            context=settings.local_context,
            threads=settings.local_threads,
            max_tokens=settings.local_max_tokens,
            max_waiting=settings.local_max_waiting,
        )
    }
    if settings.anthropic_api_key is not None:
        providers["anthropic"] = AnthropicProvider(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
        )
    if settings.openai_api_key is not None:
        providers["openai"] = OpenAIProvider(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
        )
    if settings.openai_compat_base_url:
        key = settings.openai_compat_api_key
        providers["openai-compatible"] = OpenAIProvider(
            api_key=key.get_secret_value() if key else None,
            base_url=settings.openai_compat_base_url,
            name="openai-compatible",
            label=f"The model server at {urlsplit(settings.openai_compat_base_url).netloc}",
        )
    return providers


def build_cooldown(settings: Settings) -> Cooldown:
    options = {
        "failures": settings.cooldown_failures,
        "period": settings.cooldown_seconds,
        "window": settings.cooldown_window,
    }
    if settings.redis_url:
        return RedisCooldown.from_url(settings.redis_url, **options)
    return LocalCooldown(**options)


def _timed(provider: Provider, entry: CatalogueEntry) -> Provider:
    """The provider with this model's connect and read timeouts, when it takes them."""
    if isinstance(provider, AnthropicProvider | OpenAIProvider):
        return provider.with_timeouts(connect=entry.timeouts.connect, read=entry.timeouts.total)
    return provider


def build_registry(
    settings: Settings,
    *,
    sink: CallSink | None = None,
    providers: dict[str, Provider] | None = None,
    cooldown: Cooldown | None = None,
    guards: Guards | None = None,
) -> ModelRegistry:
    """Every catalogue model whose provider is configured, each behind a router (and the
    response cache), plus the scripted "fake" model when ``PARLEY_FAKE_SCRIPT`` is set.
    With ``guards``, every model (the fake one too) is behind them, outermost: a cache hit
    still counts against the caller's limits, and nothing reaches a model unchecked."""
    catalogue = load_catalogue(settings.catalogue)
    providers = providers if providers is not None else build_providers(settings)
    cooldown = cooldown or build_cooldown(settings)
    policy = RetryPolicy(
        max_retries=settings.retry_max,
        backoff_base=settings.retry_backoff_base,
        backoff_max=settings.retry_backoff_max,
        retry_after_cap=settings.retry_after_cap,
        timeout_retries=settings.retry_timeouts,
    )
    cache = (
        ResponseCache(maxsize=settings.cache_size, ttl=settings.cache_ttl)
        if settings.cache_size > 0
        else None
    )
    registry = ModelRegistry(default=settings.default_model)
    for entry in catalogue.offered(providers):
        chain = catalogue.chain(entry.id, providers)
        targets = [Target(e, _timed(providers[e.provider], e)) for e in chain]
        provider: Provider = Router(targets, policy=policy, cooldown=cooldown, sink=sink)
        if cache is not None:
            provider = CachingProvider(
                provider, cache, model_id=entry.id, provider=entry.provider, sink=sink
            )
        if guards is not None:
            provider = guard(provider, model_limits(chain), guards)
        info = ModelInfo(
            entry.id,
            entry.display_name,
            entry.provider,
            entry.provider_model,
            fallbacks=tuple(e.id for e in chain[1:]),
            context_window=entry.context_window,
            vision=entry.vision,
            max_output_tokens=entry.max_output_tokens or None,
        )
        registry.register(info, provider)
    if settings.fake_script is not None:
        fake: Provider = rule_provider(load_rules(settings.fake_script))
        if guards is not None:
            limits = ModelLimits("fake", "fake", "fake", FAKE_MAX_OUTPUT_TOKENS)
            fake = guard(fake, [limits], guards)
        registry.register(
            ModelInfo(
                "fake",
                "Scripted (tests and demos)",
                "fake",
                "fake",
                max_output_tokens=FAKE_MAX_OUTPUT_TOKENS,
            ),
            fake,
        )
    return registry


def build_chat_service(settings: Settings) -> ChatService:
    """The chat service, its models each behind the guards (built once, shared by every
    model, and by anything else that takes the registry: titles, the gateway)."""
    redact.install(
        key.get_secret_value()
        for key in (
            settings.anthropic_api_key,
            settings.openai_api_key,
            settings.openai_compat_api_key,
            settings.oidc_client_secret,
        )
        if key is not None
    )
    engine = get_engine(settings.resolved_database_url)
    calls = DatabaseCallSink(engine)
    providers = build_providers(settings)
    openai = providers.get("openai")
    guards = build_guards(
        settings, engine, openai=openai if isinstance(openai, OpenAIProvider) else None
    )
    return ChatService(
        engine,
        build_registry(settings, sink=calls, providers=providers, guards=guards),
        calls=calls,
        hub=hub_for(settings.redis_url),
        first_token_timeout=settings.first_token_timeout,
        call_timeout=settings.call_timeout,
        lease=settings.reply_lease,
        max_message_chars=settings.max_message_chars,
        page_size=settings.sidebar_page_size,
        history_page_size=settings.history_page_size,
        attachments=AttachmentService(
            engine,
            settings.resolved_upload_dir,
            attachment_limits(settings),
        ),
    )
