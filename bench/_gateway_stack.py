"""Parley's gateway for ``bench/gateway.py``: one model (``claude-bench``) on the real
Anthropic provider pointed at the paced stand-in, behind the router (with the call log), the
guards from settings and a real API key, served by uvicorn on 127.0.0.1 in a process of its
own, as a deployed Parley is: the benchmark's client and the stand-in do not share its GIL,
and its CPU time is read on its own (``/proc/<pid>/stat``).

    python -m bench._gateway_stack --db URL --upstream URL   # prints {"base", "token"} once up
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from app.db import crud
from app.db.models import Role
from app.db.session import get_engine, session_scope
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


def build(engine: Engine, upstream_url: str) -> tuple[Starlette, str]:
    """The gateway's ASGI app and a live API key for it."""
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
    return gateway_app(lambda: gateway), token


async def _serve(app: Starlette, token: str) -> None:
    # Keep-alive longer than uvicorn's 5 s: a starved loop must not close a connection the
    # client is already sending its next request on.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", timeout_keep_alive=60
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())  # exits on SIGTERM or SIGINT
    while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.01)
    if serving.done():
        await serving
        raise RuntimeError("the gateway did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    print(json.dumps({"base": f"http://127.0.0.1:{port}", "token": token}), flush=True)
    await serving


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the benchmark's gateway.")
    parser.add_argument("--db", required=True, help="a migrated database URL")
    parser.add_argument("--upstream", required=True, help="the stand-in's base URL")
    args = parser.parse_args(argv)
    app, token = build(get_engine(args.db), args.upstream)
    asyncio.run(_serve(app, token))
    return 0


@dataclass(frozen=True)
class Served:
    base: str
    token: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the gateway's process (all its threads) so far."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served_gateway(
    db_url: str, upstream_url: str, *, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """A running gateway process on ``db_url`` (migrated), until the block ends; ``env``
    adds to its environment."""
    command = [sys.executable, "-m", "bench._gateway_stack", "--db", db_url]
    proc = subprocess.Popen(
        [*command, "--upstream", upstream_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the gateway did not start")
        ready = json.loads(line)
        yield Served(ready["base"], ready["token"], proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            if proc.stdout is not None:
                proc.stdout.close()


if __name__ == "__main__":
    raise SystemExit(main())
