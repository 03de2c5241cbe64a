"""Sharing (issue 13) on SQLite and PostgreSQL: the share and link rows (CRUD), what the rules
make of them for each reader (the authz checks that load rows), who pays for a participant's
send, who may open a link, and the live-reply channel for a shared viewer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, ShareRole, User
from app.errors import Forbidden, InvalidInput, NotFound, NotSignedIn
from app.guards import CallContext
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.accounts import SESSION_COOKIE, AccountService
from app.services.authz import Owner, Principal, owner_of
from app.services.chat import ChatService
from app.services.sharing import SharingService
from app.services.stream_hub import new_key
from app.web.access import stream_guard
from app.web.stream_ws import stream_app
from tests.unit.test_accounts import PASSWORD, service
from tests.unit.test_stream_authz import frames


def _user(session: Session, email: str) -> User:
    return crud.create_user(session=session, email=email, display_name="", password_hash=None)


# ----- the rows ------------------------------------------------------------------------------


def test_shares_are_one_per_audience_and_change_in_place(engine: Engine) -> None:
    with Session(engine) as session:
        bob, cat = _user(session, "bob@x.org"), _user(session, "cat@x.org")
        chat = crud.create_conversation(session=session, title="t", model="m")
        first = crud.set_share(
            session=session,
            conversation_id=chat.id,
            user_id=bob.id,
            role=ShareRole.viewer,
            created_by=None,
        )
        again = crud.set_share(
            session=session,
            conversation_id=chat.id,
            user_id=bob.id,
            role=ShareRole.participant,
            created_by=None,
        )
        assert again.id == first.id and again.role == ShareRole.participant
        for role in (ShareRole.viewer, ShareRole.participant):  # project-wide: one row too
            crud.set_share(
                session=session, conversation_id=chat.id, user_id=None, role=role, created_by=None
            )
        rows = crud.list_shares(session=session, conversation_id=chat.id)
        assert [(r.user_id, r.role) for r in rows] == [
            (None, ShareRole.participant),
            (bob.id, ShareRole.participant),
        ]
        assert crud.shares_for(session=session, conversation_id=chat.id, user_id=bob.id) == (
            crud.Shares(ShareRole.participant, ShareRole.participant)
        )
        assert crud.shares_for(session=session, conversation_id=chat.id, user_id=cat.id) == (
            crud.Shares(None, ShareRole.participant)
        )
        assert crud.shared_with_user(session=session, user_id=bob.id)[0].id == chat.id
        assert crud.shared_ids(session=session, conversation_ids=[chat.id, "x"]) == {chat.id}
        project_row = rows[0].id
        assert (
            crud.remove_share(session=session, conversation_id="other", share_id=project_row)
            is False
        )
        assert crud.remove_share(session=session, conversation_id=chat.id, share_id=project_row)
        shares = crud.shares_for(session=session, conversation_id=chat.id, user_id=cat.id)
        assert shares == crud.Shares(None, None)
        session.commit()


def test_links_keep_their_address_until_revoked_and_die_for_good(engine: Engine) -> None:
    with Session(engine) as session:
        chat = crud.create_conversation(session=session, title="t", model="m")
        link = crud.create_link(
            session=session, conversation_id=chat.id, token="a" * 43, created_by=None
        )
        same = crud.create_link(
            session=session, conversation_id=chat.id, token="b" * 43, created_by=None
        )
        assert same.token == link.token == "a" * 43  # one live link: the same address
        crud.rename_conversation(session=session, conversation_id=chat.id, title="renamed")
        assert crud.link_conversation(session=session, token="a" * 43) == chat.id
        assert crud.revoke_link(session=session, conversation_id=chat.id, now=datetime.now(UTC))
        assert crud.link_conversation(session=session, token="a" * 43) is None
        assert (
            crud.revoke_link(session=session, conversation_id=chat.id, now=datetime.now(UTC))
            is False
        )
        fresh = crud.create_link(
            session=session, conversation_id=chat.id, token="c" * 43, created_by=None
        )
        assert fresh.token == "c" * 43
        assert crud.link_conversation(session=session, token="a" * 43) is None
        # A conversation in the trash shows through no link.
        crud.soft_delete_conversation(session=session, conversation_id=chat.id)
        assert crud.link_conversation(session=session, token="c" * 43) is None
        session.commit()


def test_deleting_a_conversation_or_user_takes_their_shares_along(engine: Engine) -> None:
    with Session(engine) as session:
        bob = _user(session, "bob@x.org")
        chat = crud.create_conversation(session=session, title="t", model="m")
        crud.set_share(
            session=session,
            conversation_id=chat.id,
            user_id=bob.id,
            role=ShareRole.viewer,
            created_by=bob.id,
        )
        crud.create_link(
            session=session, conversation_id=chat.id, token="d" * 43, created_by=bob.id
        )
        session.commit()
        session.delete(session.get(User, bob.id))
        session.commit()
        with engine.connect() as conn:
            left = conn.execute(text("select count(*) from conversation_share")).scalar()
            creator = conn.execute(text("select created_by from share_link")).scalar()
        assert left == 0 and creator is None
        session.delete(session.get(Conversation, chat.id))
        session.commit()
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from share_link")).scalar() == 0


# ----- the service and the rules on real rows ----------------------------------------------


@pytest.fixture
async def people(engine: Engine) -> dict[str, object]:
    accounts = service(engine)
    await accounts.sign_up("admin@example.com", PASSWORD)
    made = {}
    for name in ("owner", "bob", "cat"):
        signed = await accounts.sign_up(f"{name}@example.com", PASSWORD, name.title())
        made[name] = signed
    registry = ModelRegistry(default="fake")
    replies = [ScriptedReply.of("the owner's secret"), ScriptedReply.of("bob's turn")]
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), ScriptedProvider(replies))
    chat = ChatService(engine, registry)
    owner = await accounts.resolve(made["owner"].token)
    assert owner is not None
    posted = await chat.post_message(None, "question", owner=owner_of(owner))
    await chat.stream_reply(posted.reply.id)
    return {
        "accounts": accounts,
        "chat": chat,
        "sharing": SharingService(engine),
        "tokens": {k: v.token for k, v in made.items()},
        "conversation": posted.conversation.id,
        "reply": posted.reply.id,
    }


async def _principal(people: dict[str, object], name: str) -> Principal:
    accounts = people["accounts"]
    assert isinstance(accounts, AccountService)
    principal = await accounts.resolve(people["tokens"][name])  # type: ignore[index]
    assert principal is not None
    return principal


async def test_a_share_gives_its_role_and_revoking_takes_it_back(
    people: dict[str, object],
) -> None:
    sharing, conversation = people["sharing"], str(people["conversation"])
    assert isinstance(sharing, SharingService)
    accounts = people["accounts"]
    assert isinstance(accounts, AccountService)
    authz = accounts.authz
    owner, bob = await _principal(people, "owner"), await _principal(people, "bob")
    reply = int(people["reply"])  # type: ignore[call-overload]
    with pytest.raises(NotFound):
        await authz.require_conversation(bob, conversation)
    panel = await sharing.share_with(
        conversation, email=" BOB@example.com ", role="viewer", by=owner
    )
    assert [s.label for s in panel.shares] == ["Bob (bob@example.com)"]
    await authz.require_conversation(bob, conversation)
    await authz.require_message(bob, reply)  # the live-reply channel asks this
    with pytest.raises(Forbidden):
        await authz.require_message(bob, reply, write=True)
    access = await sharing.access(bob, conversation)
    assert (access.can_send, access.can_manage, access.shared_role) == (False, False, "viewer")

    panel = await sharing.set_role(conversation, panel.shares[0].id, "participant")
    await authz.require_conversation(bob, conversation, write=True)
    with pytest.raises(Forbidden, match="owner"):
        await authz.require_conversation(bob, conversation, manage=True)
    # The sender pays: bob's own user and default project, not the owner's.
    assert await authz.payer(bob, conversation_id=conversation) == Owner(
        bob.user_id, str(bob.default_project)
    )
    assert await authz.payer(owner, conversation_id=conversation) is None
    assert [c.id for c in await sharing.shared_with_me(bob)] == [conversation]

    await sharing.remove(conversation, panel.shares[0].id)
    with pytest.raises(NotFound):
        await authz.require_message(bob, reply)
    assert await sharing.shared_with_me(bob) == []


async def test_bad_shares_say_why(people: dict[str, object]) -> None:
    sharing, conversation = people["sharing"], str(people["conversation"])
    assert isinstance(sharing, SharingService)
    owner = await _principal(people, "owner")
    for email, role, words in (
        ("nobody@example.com", "viewer", "no account"),
        ("owner@example.com", "viewer", "That is you"),
        ("bob@example.com", "admin", "viewer or participant"),
        ("", "viewer", "Type the email"),
    ):
        with pytest.raises(InvalidInput, match=words):
            await sharing.share_with(conversation, email=email, role=role, by=owner)
    assert (await sharing.panel(conversation)).shares == []


async def test_a_participant_pays_for_their_own_send(
    people: dict[str, object], engine: Engine
) -> None:
    sharing, conversation = people["sharing"], str(people["conversation"])
    chat = people["chat"]
    assert isinstance(sharing, SharingService) and isinstance(chat, ChatService)
    accounts = people["accounts"]
    assert isinstance(accounts, AccountService)
    owner, bob = await _principal(people, "owner"), await _principal(people, "bob")
    await sharing.share_with(conversation, email="bob@example.com", role="participant", by=owner)
    payer = await accounts.authz.payer(bob, conversation_id=conversation)
    posted = await chat.post_message(conversation, "my turn", payer=payer)
    prepared = chat._prepared[posted.reply.id]  # pyright: ignore[reportPrivateUsage]
    assert prepared.request is not None
    caller = CallContext.of(prepared.request)
    assert (caller.user_id, caller.project_id) == (bob.user_id, bob.default_project)
    await chat.stream_reply(posted.reply.id)


async def test_links_open_for_the_signed_in_and_for_nobody_only_when_public(
    people: dict[str, object], engine: Engine
) -> None:
    sharing, conversation = people["sharing"], str(people["conversation"])
    assert isinstance(sharing, SharingService)
    owner, cat = await _principal(people, "owner"), await _principal(people, "cat")
    token = (await sharing.create_link(conversation, by=owner)).link_token
    assert len(token) >= 43
    assert (await sharing.create_link(conversation, by=owner)).link_token == token
    assert await sharing.open_link(cat, token) == conversation
    with pytest.raises(NotSignedIn):
        await sharing.open_link(None, token)
    with pytest.raises(NotSignedIn):  # nobody learns whether a token is live
        await sharing.open_link(None, "x" * 43)
    public = SharingService(engine, public_links=True)
    assert await public.open_link(None, token) == conversation
    for bad in ("x" * 43, "../../etc", "", "a" * 500):
        with pytest.raises(NotFound):
            await public.open_link(cat, bad)
    # The link opens nothing else: cat still may not read the conversation's rows.
    accounts = people["accounts"]
    assert isinstance(accounts, AccountService)
    with pytest.raises(NotFound):
        await accounts.authz.require_conversation(cat, conversation)
    await sharing.revoke_link(conversation)
    for who in (cat, owner):
        with pytest.raises(NotFound):
            await public.open_link(who, token)


async def test_a_shared_viewer_gets_the_live_reply_and_loses_it_when_revoked(
    people: dict[str, object],
) -> None:
    sharing, conversation = people["sharing"], str(people["conversation"])
    chat, accounts = people["chat"], people["accounts"]
    assert isinstance(sharing, SharingService) and isinstance(chat, ChatService)
    assert isinstance(accounts, AccountService)
    owner = await _principal(people, "owner")
    panel = await sharing.share_with(conversation, email="bob@example.com", role="viewer", by=owner)
    hub = chat.hub
    app = stream_app(lambda: hub, authorize=stream_guard(lambda: accounts))
    key = new_key()
    hub.grant(key, int(people["reply"]))  # type: ignore[call-overload]
    cookie = f"{SESSION_COOKIE}={people['tokens']['bob']}"  # type: ignore[index]
    got = await asyncio.to_thread(frames, app, f"/_parley/stream/{key}", cookie)
    assert "".join(f[1:] for f in got if f.startswith("d")) == "the owner's secret"
    await sharing.remove(conversation, panel.shares[0].id)
    key = new_key()
    hub.grant(key, int(people["reply"]))  # type: ignore[call-overload]
    got = await asyncio.to_thread(frames, app, f"/_parley/stream/{key}", cookie)
    assert got == ['e{"status":"gone","error":""}']
