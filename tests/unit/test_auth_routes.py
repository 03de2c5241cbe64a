"""The account routes and the attachment route through a real ASGI client: the cookie's
flags, the Origin check, and files served only to their readers (not to another user, not to
nobody)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient

from app.db import crud
from app.db.models import Attachment, Conversation, Message, Role
from app.services.accounts import SESSION_COOKIE, AccountService
from app.services.attachments import AttachmentService
from app.web.access import attachment_guard, stream_guard
from app.web.attachments import attachment_app
from app.web.auth_routes import auth_app
from tests.unit.test_accounts import PASSWORD, service

SITE = "http://testserver"
FRONTEND = "http://localhost:3000"  # the dev frontend: another origin that may post


@pytest.fixture
def accounts(engine: Engine) -> AccountService:
    return service(engine)


@pytest.fixture
def files(engine: Engine, tmp_path: Path) -> AttachmentService:
    return AttachmentService(engine, tmp_path / "uploads")


@pytest.fixture
def web(accounts: AccountService, files: AttachmentService) -> Starlette:
    routes = auth_app(lambda: accounts, allowed_origins=lambda: (FRONTEND,)).routes
    served = attachment_app(lambda: files, authorize=attachment_guard(lambda: accounts)).routes
    return Starlette(routes=[*routes, *served])


def browser(web: Starlette) -> TestClient:
    return TestClient(web, base_url=SITE, follow_redirects=False)


@pytest.fixture
def client(web: Starlette) -> Iterator[TestClient]:
    with browser(web) as c:
        yield c


def sign_up(client: TestClient, email: str, origin: str = SITE, **extra: str) -> str:
    """Post the sign-up form; returns where it sent the browser."""
    form = {"email": email, "password": PASSWORD, "confirm": PASSWORD, **extra}
    response = client.post("/_parley/auth/signup", data=form, headers={"Origin": origin})
    assert response.status_code == 303
    return response.headers["location"]


def test_sign_up_sets_an_httponly_samesite_cookie_and_goes_next(client: TestClient) -> None:
    form = {"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD, "next": "/c/1"}
    response = client.post("/_parley/auth/signup", data=form, headers={"Origin": SITE})
    assert response.status_code == 303
    assert response.headers["location"] == f"{SITE}/c/1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # plain http here; https requests get Secure


def test_the_dev_frontend_origin_may_post_and_is_sent_back_to(client: TestClient) -> None:
    assert sign_up(client, "ada@example.com", FRONTEND) == f"{FRONTEND}/"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "null"},
        {},  # neither Origin nor Referer
    ],
)
def test_posts_from_elsewhere_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    form = {"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}
    response = client.post("/_parley/auth/signup", data=form, headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == "/signup?error=origin"
    assert "set-cookie" not in response.headers
    response = client.post("/_parley/auth/login", data=form, headers=headers)
    assert "set-cookie" not in response.headers


def test_login_failure_returns_a_code_and_keeps_next(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    client.cookies.clear()
    form = {"email": "ada@example.com", "password": "wrong password", "next": "/c/abc"}
    response = client.post("/_parley/auth/login", data=form, headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/login?error=signin&next=%2Fc%2Fabc"
    assert "set-cookie" not in response.headers
    form = {"email": "ada@example.com", "password": PASSWORD, "next": "https://evil.example"}
    response = client.post("/_parley/auth/login", data=form, headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/"  # never off-site
    assert SESSION_COOKIE in response.headers["set-cookie"]


async def test_logout_ends_the_session_on_the_server(
    client: TestClient, accounts: AccountService
) -> None:
    sign_up(client, "ada@example.com")
    token = client.cookies[SESSION_COOKIE]
    assert await accounts.resolve(token) is not None
    response = client.post("/_parley/auth/logout", headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/login?done=logout"
    assert 'parley_session=""' in response.headers["set-cookie"]
    assert await accounts.resolve(token) is None  # a copied cookie is no good either


async def test_a_cross_site_logout_is_refused(client: TestClient, accounts: AccountService) -> None:
    sign_up(client, "ada@example.com")
    token = client.cookies[SESSION_COOKIE]
    client.post("/_parley/auth/logout", headers={"Origin": "http://evil.example"})
    assert await accounts.resolve(token) is not None


async def test_password_change_rotates_the_cookie(
    client: TestClient, accounts: AccountService
) -> None:
    sign_up(client, "ada@example.com")
    old = client.cookies[SESSION_COOKIE]
    form = {"current": PASSWORD, "new": "another password", "confirm": "another password"}
    response = client.post("/_parley/auth/password", data=form, headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/account?done=password"
    new = client.cookies[SESSION_COOKIE]
    assert new != old
    assert await accounts.resolve(old) is None and await accounts.resolve(new) is not None
    form["confirm"] = "something else"
    response = client.post("/_parley/auth/password", data=form, headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/account?error=mismatch"


def test_an_oversized_form_is_refused(client: TestClient) -> None:
    form = {"email": "ada@example.com", "password": "x" * 20_000, "confirm": "x"}
    response = client.post("/_parley/auth/signup", data=form, headers={"Origin": SITE})
    assert response.headers["location"] == f"{SITE}/signup?error=large"
    assert "set-cookie" not in response.headers


async def test_attachments_reach_only_their_readers(
    web: Starlette, engine: Engine, files: AttachmentService, accounts: AccountService
) -> None:
    with browser(web) as ada, browser(web) as bob, browser(web) as nobody:
        sign_up(ada, "ada@example.com")
        sign_up(bob, "bob@example.com")
        ada_p = await accounts.resolve(ada.cookies[SESSION_COOKIE])
        bob_p = await accounts.resolve(bob.cookies[SESSION_COOKIE])
        assert ada_p is not None and bob_p is not None
        (project,) = ada_p.roles
        view = await files.add("notes.txt", b"ada's notes\n")
        with Session(engine) as session:  # what the wiring will do on upload
            session.execute(
                update(Attachment)
                .where(Attachment.id == view.id)  # pyright: ignore[reportArgumentType]
                .values(project_id=project, user_id=ada_p.user_id)
            )
            session.commit()
        url = f"/_parley/attachment/{view.id}"
        assert ada.get(url).status_code == 200 and ada.get(url).text == "ada's notes\n"
        for other in (bob, nobody):  # the same 404 as an id that does not exist
            assert other.get(url).status_code == 404
            assert other.get(url).text == ada.get("/_parley/attachment/" + "0" * 32).text

        # Sent into Ada's conversation, and Bob made a viewer of her project: he may read it.
        with Session(engine) as session:
            session.add(Conversation(id="c" * 32, project_id=project, user_id=ada_p.user_id))
            session.flush()
            message = Message(conversation_id="c" * 32, role="user", content="see file")
            session.add(message)
            session.flush()
            files_row = session.get(Attachment, view.id)
            assert files_row is not None and message.id is not None
            files_row.conversation_id, files_row.message_id = "c" * 32, message.id
            session.commit()
        assert bob.get(url).status_code == 404
        with Session(engine) as session:
            crud.set_membership(
                session=session, project_id=project, user_id=bob_p.user_id, role=Role.viewer
            )
            session.commit()
        assert bob.get(url).status_code == 200
        assert nobody.get(url).status_code == 404


def handshake(cookie: str | None) -> HTTPConnection:
    """A websocket handshake's connection, as the live-reply channel receives it."""
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return HTTPConnection({"type": "websocket", "path": "/_parley/stream/1", "headers": headers})


async def test_the_stream_hook_admits_only_readers_of_the_conversation(
    engine: Engine, accounts: AccountService
) -> None:
    ada = await accounts.sign_up("ada@example.com", PASSWORD)
    bob = await accounts.sign_up("bob@example.com", PASSWORD)
    ada_p = await accounts.resolve(ada.token)
    assert ada_p is not None
    (project,) = ada_p.roles
    with Session(engine) as session:
        session.add(Conversation(id="c" * 32, project_id=project, user_id=ada_p.user_id))
        session.flush()
        reply = Message(conversation_id="c" * 32, role="assistant", content="")
        session.add(reply)
        session.commit()
        assert reply.id is not None
        message_id = reply.id
    check = stream_guard(lambda: accounts)
    assert await check(handshake(f"{SESSION_COOKIE}={ada.token}"), message_id)
    assert not await check(handshake(f"{SESSION_COOKIE}={bob.token}"), message_id)
    assert not await check(handshake(None), message_id)
    assert not await check(handshake(f"{SESSION_COOKIE}={ada.token}"), message_id + 1)
    await accounts.log_out(ada.token)
    assert not await check(handshake(f"{SESSION_COOKIE}={ada.token}"), message_id)
