"""The gateway's use case: a call from an API key, through the same providers as the chat.

1. The key is authenticated (:class:`~app.services.api_keys.ApiKeyService`); its holder's
   user and project become the call's :class:`~app.guards.CallContext`.
2. The model must exist (:class:`NotFound` otherwise) and the key must allow it
   (:class:`Forbidden`).
3. The request goes to that model's provider from the registry (router: retries, failover,
   cooldowns; the response cache), behind :func:`app.guards.guard` (rate limits, budgets,
   moderation), with ``feature="api"`` in its metadata, so the call log and the dashboard
   count it as the key holder's.

The wire formats (OpenAI, Anthropic) are the web layer's (``app/web/gateway*.py``); this
module sees only the vendor-neutral request and events. Which providers are guarded is the
composition root's choice: :func:`build_gateway` wraps the registry's providers with the
guards it is given; when the chat's registry is already guarded, pass ``guards=None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from sqlalchemy import Engine

from app.errors import Forbidden, NotFound, ProviderUnavailable
from app.guards import CallContext, Guards, ModelLimits, guard, with_context
from app.guards.setup import build_guards
from app.llm.base import ChatRequest, Provider, StreamEvent
from app.llm.catalogue import Catalogue, load_catalogue
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.api_keys import ApiKeyService, KeyHolder, get_api_key_service
from app.settings import Settings

FEATURE = "api"
LimitsFor = Callable[[ModelInfo], Sequence[ModelLimits]]


def catalogue_limits(catalogue: Catalogue, *, fallback_max_output: int = 4096) -> LimitsFor:
    """A model's guard limits (it, then its fallbacks) from the catalogue; a model outside
    the catalogue (the scripted ``fake``) gets ``fallback_max_output``."""

    def limits(info: ModelInfo) -> list[ModelLimits]:
        out: list[ModelLimits] = []
        for model_id in (info.id, *info.fallbacks):
            if model_id in catalogue:
                e = catalogue[model_id]
                top = e.max_output_tokens or e.context_window
                out.append(ModelLimits(e.id, e.provider, e.provider_model, top))
            elif model_id == info.id:
                out.append(
                    ModelLimits(info.id, info.provider, info.provider_model, fallback_max_output)
                )
        return out

    return limits


class Gateway:
    """Authenticates keys and streams calls for the HTTP endpoints."""

    def __init__(
        self,
        registry: ModelRegistry,
        keys: ApiKeyService,
        *,
        guards: Guards | None = None,
        limits: LimitsFor | None = None,
    ) -> None:
        if guards is not None and limits is None:
            raise ValueError("guarding the gateway's providers needs each model's limits")
        self.registry = registry
        self.keys = keys
        self._guards = guards
        self._limits = limits
        self._providers: dict[str, Provider] = {}

    async def authenticate(self, token: str | None) -> KeyHolder:
        return await self.keys.authenticate(token)

    def models(self, holder: KeyHolder) -> list[ModelInfo]:
        """The models this key may use."""
        return [m for m in self.registry.available() if holder.may_use(m.id)]

    def resolve(self, holder: KeyHolder, model_id: str) -> tuple[ModelInfo, Provider]:
        try:
            info, provider = self.registry.resolve(model_id)
        except ProviderUnavailable:
            raise NotFound(f"The model {model_id!r} does not exist.") from None
        if not holder.may_use(model_id):
            allowed = ", ".join(sorted(holder.models))
            raise Forbidden(f"This API key may not use {model_id!r}; it may use: {allowed}.")
        return info, self._guarded(info, provider)

    def _guarded(self, info: ModelInfo, provider: Provider) -> Provider:
        if self._guards is None or self._limits is None:
            return provider
        wrapped = self._providers.get(info.id)
        if wrapped is None:
            wrapped = guard(provider, self._limits(info), self._guards)
            self._providers[info.id] = wrapped
        return wrapped

    def stream(
        self, holder: KeyHolder, request: ChatRequest, *, client_ip: str = ""
    ) -> AsyncIterator[StreamEvent]:
        """The call's events. Raises :class:`NotFound`/:class:`Forbidden` at once for a model
        the key cannot use; provider and guard errors come out of the stream."""
        info, provider = self.resolve(holder, request.model)
        context = CallContext(user_id=holder.user_id, project_id=holder.project_id)
        if client_ip:
            context = replace(context, client_ip=client_ip)
        request = with_context(
            replace(
                request,
                model=info.id,
                metadata={**request.metadata, "feature": FEATURE, "api_key_id": holder.key_id},
            ),
            context,
        )
        return provider.stream(request)


def build_gateway(
    registry: ModelRegistry,
    keys: ApiKeyService,
    *,
    guards: Guards | None,
    catalogue: Catalogue,
) -> Gateway:
    """The gateway over ``registry``; its providers wrapped by ``guards`` when given."""
    limits = catalogue_limits(catalogue) if guards is not None else None
    return Gateway(registry, keys, guards=guards, limits=limits)


def gateway_from_settings(
    settings: Settings, engine: Engine, registry: ModelRegistry, *, guarded: bool = False
) -> Gateway:
    """The composition root's gateway over the chat's ``registry``. ``guarded``: the
    registry's providers already sit behind :func:`app.guards.guard` (then they are not
    wrapped twice); otherwise the gateway wraps them with guards built from settings."""
    guards = None if guarded else build_guards(settings, engine)
    return build_gateway(
        registry,
        get_api_key_service(engine),
        guards=guards,
        catalogue=load_catalogue(settings.catalogue),
    )
