"""Builds the guards from settings: what the composition root (app/services/wiring.py) calls.

guards = build_guards(settings, engine, openai=providers.get("openai"))
provider = guard(router_or_cache, model_limits(chain), guards)   # per catalogue model
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from app.guards import Guards
from app.guards.budgets import BudgetGuard, BudgetScope, Limits, ModelLimits
from app.guards.login import LoginLimiter
from app.guards.moderation import ModerationGuard, Moderator, OfflineModerator, OpenAIModerator
from app.guards.ratelimit import LimitRules, RateLimiter, limits_storage
from app.guards.store import DatabaseGuardStore
from app.llm.catalogue import CatalogueEntry
from app.llm.openai_api import OpenAIProvider
from app.settings import Settings


def model_limits(chain: Sequence[CatalogueEntry]) -> list[ModelLimits]:
    """A catalogue chain (the model, then its fallbacks) as the guards see it."""
    return [
        ModelLimits(e.id, e.provider, e.provider_model, e.max_output_tokens or e.context_window)
        for e in chain
    ]


def build_guards(
    settings: Settings, engine: Engine, *, openai: OpenAIProvider | None = None
) -> Guards:
    """Rate limits and budgets on the ``limits`` storage (Redis when ``REDIS_URL`` is set),
    budgets and the moderation log on the database, moderation by OpenAI when ``openai`` is
    given (with the offline classifier as its fallback), else by the offline classifier."""
    storage = limits_storage(settings.redis_url)
    limiter = RateLimiter(
        LimitRules(
            requests={
                "ip": settings.rate_requests_per_ip,
                "user": settings.rate_requests_per_user,
                "project": settings.rate_requests_per_project,
            },
            tokens={
                "ip": settings.rate_tokens_per_ip,
                "user": settings.rate_tokens_per_user,
                "project": settings.rate_tokens_per_project,
            },
            concurrent_streams=settings.concurrent_streams_per_user,
            slot_lease=int(settings.call_timeout) + 60,
        ),
        storage,
    )
    store = DatabaseGuardStore(engine)
    defaults: dict[BudgetScope, Limits] = {
        "user": Limits(settings.budget_user_usd, settings.budget_user_tokens),
        "project": Limits(settings.budget_project_usd, settings.budget_project_tokens),
    }
    budgets = BudgetGuard(
        store,
        defaults=defaults,
        warn_at=settings.budget_warn_at,
        reservations=storage,
        lease=int(settings.call_timeout) + 60,
    )
    offline = OfflineModerator(threshold=settings.moderation_threshold)
    moderator: Moderator = (
        OpenAIModerator(openai, model=settings.moderation_model, fallback=offline)
        if openai is not None
        else offline
    )
    moderation = ModerationGuard(
        moderator,
        mode=settings.moderation_mode,
        sink=store.log_flagged,
        project_mode=store.moderation_mode,
    )
    return Guards(
        limiter=limiter,
        budgets=budgets,
        moderation=moderation,
        default_max_tokens=settings.default_max_tokens,
    )


def build_login_limiter(settings: Settings) -> LoginLimiter:
    """Failed sign-ins per IP and per account name, on the same storage as the other limits
    (Redis when ``REDIS_URL`` is set, so every worker counts together)."""
    return LoginLimiter(
        per_ip=settings.rate_login_per_ip,
        per_account=settings.rate_login_per_account,
        storage=limits_storage(settings.redis_url, prefix="parley-login"),
    )
