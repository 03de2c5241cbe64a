"""Parley's gateway for ``bench/gateway.py``: served by uvicorn on 127.0.0.1 in a thread, one
model (``claude-bench``) on the real Anthropic provider pointed at the paced stand-in, behind
the router (with the call log), the guards from settings and a real API key."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import Engine

from app.db import crud
from app.db.models import Role
from app.db.session import session_scope
from app.guards.setup import build_guards
from app.llm.anthropic_api import AnthropicProvider
from app.llm.catalogue import CatalogueEntry, Timeouts, parse_catalogue
from app.llm.registry import ModelInfo, ModelRegistry
from app.llm.router import Router, Target
from app.services.api_keys import ApiKeyService
from app.services.authz import Principal
from app.services.calllog import DatabaseCallSink
from app.services.gateway import build_gateway
from app.settings import Settings
from app.web.gateway import gateway_app

CATALOGUE = """
[[model]]
id = "claude-bench"
provider = "anthropic"
provider_model = "claude-sonnet-4-5"
context_window = 200000
max_output_tokens = 1000
"""
# Guards on, with limits no benchmark run reaches; moderation off (it is the chat's cost too,
# and the offline classifier would dominate a gateway figure).
SETTINGS = Settings(
    moderation_mode="off",
    rate_requests_per_ip="1000000/minute",
    rate_requests_per_user="1000000/minute",
    rate_requests_per_project="1000000/minute",
    concurrent_streams_per_user=0,
)


@contextmanager
def served_gateway(engine: Engine, upstream_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of a running gateway."""
    with session_scope(engine) as session:
        user = crud.create_user(
            session=session, email="b@example.com", display_name="B", password_hash=None
        )
        project = crud.create_project(session=session, name="Bench")
        crud.set_membership(
            session=session, project_id=project.id, user_id=user.id, role=Role.owner
        )
        owner = Principal(user.id, "b@example.com", "B", False, "s", {project.id: Role.owner})
    e = parse_catalogue(CATALOGUE)["claude-bench"]
    entry = CatalogueEntry(
        e.id, e.provider, e.provider_model, e.display_name, e.context_window, (),
        Timeouts(connect=5, first_token=30, total=120), max_output_tokens=1000,
    )  # fmt: skip
    provider = AnthropicProvider(api_key="k", base_url=upstream_url, read_timeout=120)
    registry = ModelRegistry(default=entry.id)
    router = Router([Target(entry, provider)], sink=DatabaseCallSink(engine))
    registry.register(
        ModelInfo(entry.id, entry.display_name, entry.provider, entry.provider_model), router
    )
    keys = ApiKeyService(engine)
    token = asyncio.run(keys.create(owner, project_id=project.id, name="bench")).token
    gateway = build_gateway(
        registry, keys, guards=build_guards(SETTINGS, engine), catalogue=parse_catalogue(CATALOGUE)
    )
    config = uvicorn.Config(
        gateway_app(lambda: gateway), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(10)
