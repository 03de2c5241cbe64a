"""A running gateway for the SDK tests: the Starlette app from ``app/web/gateway.py`` served
by uvicorn on a loopback port in a thread, over a real database, a real router (with the call
log) and real guards, with the upstream models on the loopback provider server:

- ``gpt-test``: OpenAI's wire (``OpenAIProvider``, priced as gpt-4.1);
- ``claude-test``: Anthropic's wire (``AnthropicProvider``, priced as claude-sonnet-4-5);
- ``gpt-backup``: a second OpenAI model, configured but kept out of some keys' model lists.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import uvicorn
from sqlalchemy import Engine

from app.db import crud
from app.db.models import Role
from app.db.session import session_scope
from app.guards.setup import build_guards
from app.llm.anthropic_api import AnthropicProvider
from app.llm.base import Provider
from app.llm.catalogue import CatalogueEntry, Timeouts, parse_catalogue
from app.llm.cooldown import LocalCooldown
from app.llm.openai_api import OpenAIProvider
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import RetryPolicy, Router, Target
from app.services.api_keys import ApiKeyService
from app.services.authz import Principal
from app.services.calllog import DatabaseCallSink
from app.services.gateway import Gateway, build_gateway
from app.settings import Settings
from app.web.gateway import gateway_app
from tests.providers.loopback import LoopbackServer

CATALOGUE = """
[[model]]
id = "gpt-test"
provider = "openai"
provider_model = "gpt-4.1"
context_window = 100000
max_output_tokens = 1000

[[model]]
id = "gpt-backup"
provider = "openai"
provider_model = "gpt-4.1-mini"
context_window = 100000
max_output_tokens = 1000

[[model]]
id = "claude-test"
provider = "anthropic"
provider_model = "claude-sonnet-4-5"
context_window = 200000
max_output_tokens = 1000
"""


class AppServer:
    """An ASGI app on 127.0.0.1 (a free port) in a thread, as a real client reaches it."""

    def __init__(self, app: object) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway's server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Env:
    url: str
    engine: Engine
    keys: ApiKeyService
    gateway: Gateway
    upstream: LoopbackServer
    owner: Principal
    token: str  # a key of the owner's, for every model
    closers: list[Callable[[], None]] = field(default_factory=list)  # SDK clients

    def new_key(self, *, models: tuple[str, ...] = (), expires_at: datetime | None = None) -> str:
        made = asyncio.run(
            self.keys.create(
                self.owner,
                project_id=self.owner_project,
                name="test key",
                models=models,
                expires_at=expires_at,
            )
        )
        return made.token

    @property
    def owner_project(self) -> str:
        return next(iter(self.owner.roles))


def seed_owner(engine: Engine, email: str = "dev@example.com") -> Principal:
    with session_scope(engine) as session:
        user = crud.create_user(
            session=session, email=email, display_name="Dev", password_hash=None
        )
        project = crud.create_project(session=session, name="Scripts")
        crud.set_membership(
            session=session, project_id=project.id, user_id=user.id, role=Role.owner
        )
        return Principal(user.id, email, "Dev", False, "s", {project.id: Role.owner})


def build_registry(upstream: LoopbackServer, sink: DatabaseCallSink) -> ModelRegistry:
    catalogue = parse_catalogue(CATALOGUE)
    providers: dict[str, Provider] = {
        "openai": OpenAIProvider(api_key="sk-up", base_url=f"{upstream.url}/v1", read_timeout=10),
        "anthropic": AnthropicProvider(api_key="sk-ant-up", base_url=upstream.url, read_timeout=10),
    }
    policy = RetryPolicy(max_retries=0, backoff_base=0.01)
    cooldown = LocalCooldown(failures=1000, period=1, window=1)
    registry = ModelRegistry(default="gpt-test")
    for entry_id in ("gpt-test", "gpt-backup", "claude-test"):
        e: CatalogueEntry = catalogue[entry_id]
        e = CatalogueEntry(
            e.id, e.provider, e.provider_model, e.display_name, e.context_window, (),
            Timeouts(connect=2, first_token=10, total=20), max_output_tokens=e.max_output_tokens,
        )  # fmt: skip
        router = Router(
            [Target(e, providers[e.provider])], policy=policy, cooldown=cooldown, sink=sink
        )
        registry.register(ModelInfo(e.id, e.display_name, e.provider, e.provider_model), router)
    return registry


@contextmanager
def running_gateway(engine: Engine, upstream: LoopbackServer, settings: Settings) -> Iterator[Env]:
    """The gateway, served; guards from ``settings`` (rate limits, budgets, moderation)."""
    owner = seed_owner(engine)
    keys = ApiKeyService(engine)
    registry = build_registry(upstream, DatabaseCallSink(engine))
    gateway = build_gateway(
        registry, keys, guards=build_guards(settings, engine), catalogue=parse_catalogue(CATALOGUE)
    )
    with AppServer(gateway_app(lambda: gateway, max_body=64 * 1024)) as url:
        env = Env(url, engine, keys, gateway, upstream, owner, "")
        env.token = env.new_key()
        try:
            yield env
        finally:
            for close in env.closers:
                close()
