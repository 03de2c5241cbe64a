"""The live-reply websocket as the app mounts it (with ``stream_guard``): a reply's text goes
only to a session that may read its conversation. The stream key is a capability given to
the sending session, but holding it is not enough: another user, nobody and a forged cookie
who hold the (leaked) key get the same "gone" end frame as an unknown key, on SQLite and
PostgreSQL. (The framing itself is tested in test_stream_wire.py.)"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db.models import Role
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.accounts import SESSION_COOKIE
from app.services.authz import owner_of
from app.services.chat import ChatService
from app.services.stream_hub import StreamHub, new_key
from app.web.access import stream_guard
from app.web.stream_ws import stream_app
from tests.unit.test_accounts import PASSWORD, service

GONE = 'e{"status":"gone","error":""}'


def frames(app: object, path: str, cookie: str) -> list[str]:
    """Every frame the channel sends to a client with this Cookie header, to its close."""
    got: list[str] = []
    with TestClient(app) as client:  # pyright: ignore[reportArgumentType]
        headers = {"cookie": cookie} if cookie else {}
        with client.websocket_connect(path, headers=headers) as ws:
            while True:
                message = ws.receive()
                if message["type"] == "websocket.close":
                    break
                got.append(message["text"])
                if message["text"].startswith("e"):
                    break
    return got


async def test_only_readers_of_the_conversation_get_the_reply(engine: Engine) -> None:
    accounts = service(engine)
    await accounts.sign_up("admin@example.com", PASSWORD)
    owner = await accounts.sign_up("owner@example.com", PASSWORD)
    other = await accounts.sign_up("other@example.com", PASSWORD)
    viewer = await accounts.sign_up("viewer@example.com", PASSWORD)
    owner_p = await accounts.resolve(owner.token)
    assert owner_p is not None and owner_p.default_project is not None
    await accounts.set_role(
        owner_p, project_id=owner_p.default_project, user_id=viewer.user_id, role=Role.viewer
    )
    registry = ModelRegistry(default="fake")
    registry.register(
        ModelInfo("fake", "Fake", "fake", "fake-1"),
        ScriptedProvider([ScriptedReply.of("the owner's secret")]),
    )
    chat = ChatService(engine, registry)
    posted = await chat.post_message(None, "question", owner=owner_of(owner_p))
    await chat.stream_reply(posted.reply.id)  # the hub keeps the finished stream a while
    hub: StreamHub = chat.hub
    app = stream_app(lambda: hub, authorize=stream_guard(lambda: accounts))
    key = new_key()
    hub.grant(key, posted.reply.id)
    path = f"/_parley/stream/{key}"

    def cookie(token: str) -> str:
        return f"{SESSION_COOKIE}={token}"

    for who, header in (
        ("owner", cookie(owner.token)),
        ("viewer", cookie(viewer.token)),
    ):
        got = await asyncio.to_thread(frames, app, path, header)
        assert "".join(f[1:] for f in got if f.startswith("d")) == "the owner's secret", who
    for who, header in (
        ("other", cookie(other.token)),
        ("nobody", ""),
        ("forged", cookie("x" * 43)),
    ):
        assert await asyncio.to_thread(frames, app, path, header) == [GONE], who
    # A key never granted (the grant wait is cut short for the test): the same answer.
    app = stream_app(lambda: hub, grant_wait=0.01, authorize=stream_guard(lambda: accounts))
    unknown = f"/_parley/stream/{new_key()}"
    assert await asyncio.to_thread(frames, app, unknown, cookie(owner.token)) == [GONE]
