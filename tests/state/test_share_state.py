"""Sharing through the states (issue 13), with Reflex's own event machinery
(tests/state/harness.py): the owner's Share dialog, a viewer who reads and may not send, a
participant who sends and pays, a revoked share, a viewer who joins mid-stream and follows
the reply, and the read-only link page for the signed-in, for nobody, public and revoked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app import settings as settings_module
from app.guards import CallContext
from app.services.authz import owner_of
from app.settings import get_settings
from state.share import LinkState, ShareState
from state.sidebar import SidebarState
from tests.state.harness import (
    ORIGIN,
    PASSWORD,
    Backend,
    Tab,
    Wire,
    backend,
    cookie_of,
    open_tab,
    reply,
    send,
    shown,
)

__all__ = ["backend"]  # fixtures


@pytest.fixture
async def people(backend: Backend) -> dict[str, Any]:
    accounts = backend.accounts
    owner = await accounts.sign_up("owner@example.com", PASSWORD, "Owner")
    bob = await accounts.sign_up("bob@example.com", PASSWORD, "Bob")
    owner_p = await accounts.resolve(owner.token)
    assert owner_p is not None
    backend.script(reply("The owner's answer."))
    posted = await backend.service.post_message(None, "owner's question", owner=owner_of(owner_p))
    await backend.service.stream_reply(posted.reply.id)
    return {
        "owner": cookie_of(owner.token),
        "bob": cookie_of(bob.token),
        "bob_id": bob.user_id,
        "conversation": posted.conversation.id,
    }


async def _open(tab: Tab, conversation: str) -> ShareState:
    await tab.visit(f"/c/{conversation}")
    await tab.run(ShareState.load_access)
    return await tab.state(ShareState)


async def test_viewer_then_participant_then_revoked(
    backend: Backend, people: dict[str, Any]
) -> None:
    """Each step in a tab of its own (a page load), as each person comes back to it."""
    conversation = people["conversation"]
    async with open_tab(Wire(), people["owner"]) as owner:
        mine = await _open(owner, conversation)
        assert (mine.can_send, mine.can_manage, mine.is_shared) == (True, True, False)
        await owner.run(
            ShareState.open_share,
            ShareState.add_share({"email": "bob@example.com", "role": "viewer"}),
        )
        mine = await owner.state(ShareState)
        assert mine.share_open and mine.share_error == ""
        assert [(s.label, s.role) for s in mine.shares] == [("Bob (bob@example.com)", "viewer")]
        assert mine.is_shared
        share_id = mine.shares[0].id

    # Bob reads it, read-only; it is in his "Shared with me"; his send is refused.
    async with open_tab(Wire(), people["bob"]) as bob:
        his = await _open(bob, conversation)
        assert (his.can_send, his.can_manage, his.shared_role) == (False, False, "viewer")
        chat = await bob.chat()
        assert [m.content for m in shown(chat)] == ["owner's question", "The owner's answer."]
        assert [c.id for c in (await bob.sidebar()).shared_with_me] == [conversation]
        await bob.run(send("bob was here"))
        assert "not change it" in (await bob.chat()).notice
        await bob.run(ShareState.open_share)  # the dialog is the owner's
        assert not (await bob.state(ShareState)).share_open

    # Upgraded to participant, Bob sends, and pays for it himself; he may not rename it.
    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.change_share_role(share_id, "participant"))
    async with open_tab(Wire(), people["bob"]) as bob:
        his = await _open(bob, conversation)
        assert (his.can_send, his.can_manage, his.shared_role) == (True, False, "participant")
        backend.script(reply("Bob's answer."))
        await bob.run(send("bob's question"))
        chat = await bob.chat()
        assert chat.notice == ""
        assert [m.content for m in shown(chat)][-2:] == ["bob's question", "Bob's answer."]
        caller = CallContext.of(backend.provider.requests[-1])
        assert caller.user_id == people["bob_id"]
        await bob.run(SidebarState.start_rename(conversation, "Bob's now"))
        assert "owner" in (await bob.chat()).notice

    # Revoked: Bob loses it at his next event.
    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.remove_share(share_id))
        assert (await owner.state(ShareState)).shares == []
    async with open_tab(Wire(), people["bob"]) as bob:
        await bob.visit(f"/c/{conversation}")
        chat = await bob.chat()
        assert chat.current_id == "" and chat.messages == []
        assert (await bob.sidebar()).shared_with_me == []


async def test_a_viewer_who_arrives_mid_reply_follows_it(
    backend: Backend, people: dict[str, Any]
) -> None:
    conversation = people["conversation"]
    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.add_share({"email": "bob@example.com", "role": "viewer"}))
        backend.script(reply("a slow and steady reply", chunk_chars=2, delay=0.05))
        sent = await owner.send(send("go on"))
        live_id = -1
        async with asyncio.timeout(10):
            while live_id < 0:  # the reply is saved and streaming
                live_id = (await owner.chat()).live_id
                await asyncio.sleep(0.02)
        await backend.live_chunks(live_id, at_least=4)
        async with open_tab(Wire(), people["bob"]) as bob:
            await bob.visit(f"/c/{conversation}")
            watched = [m for m in (await bob.chat()).messages if m.id == live_id]
        assert len(watched) == 1 and watched[0].live_key and watched[0].content == ""
        # The key is granted to the channel for this reply (which still asks who reads it).
        assert await backend.service.hub.resolve(watched[0].live_key) == live_id
        async with asyncio.timeout(10):
            await sent.wait_all()
        assert "".join(await backend.live_chunks(live_id)) == "a slow and steady reply"


async def test_the_link_page(
    backend: Backend, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = people["conversation"]
    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.create_link)
        mine = await owner.state(ShareState)
        token = mine.link_token
        assert mine.link_url == f"{ORIGIN}/s/{token}" and len(token) >= 43
        await owner.run(ShareState.create_link)  # again: the same address
        assert (await owner.state(ShareState)).link_token == token

    async def visit(cookie: str) -> LinkState:
        async with open_tab(Wire(), cookie) as tab:
            tab.path = f"/s/{token}"
            await tab.run(LinkState.load)
            return await tab.state(LinkState)

    page = await visit(people["bob"])  # signed in, not shared with: the link is enough
    assert page.problem == "" and page.title == "owner's question"
    assert [m.content for m in page.messages] == ["owner's question", "The owner's answer."]
    page = await visit("")
    assert page.needs_login and page.messages == []
    assert page.login_href == f"/login?next=/s/{token}"
    public = get_settings().model_copy(update={"public_share_links": True})
    monkeypatch.setattr(settings_module, "get_settings", lambda: public)
    page = await visit("")
    assert page.problem == "" and len(page.messages) == 2

    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.revoke_link)
        assert (await owner.state(ShareState)).link_url == ""
    for cookie in ("", people["bob"]):
        page = await visit(cookie)
        assert "revoked" in page.problem and page.messages == []
    assert (await visit(people["owner"])).messages == []


async def test_a_new_chat_is_the_readers_own(backend: Backend, people: dict[str, Any]) -> None:
    async with open_tab(Wire(), people["bob"]) as bob:
        his = await _open(bob, "")
        assert (his.can_send, his.can_manage, his.shared_role) == (True, True, "")
        await bob.run(ShareState.open_share)
        assert "first message" in (await bob.state(ShareState)).share_error


async def test_a_page_shown_again_shows_what_a_participant_added(
    backend: Backend, people: dict[str, Any]
) -> None:
    """The owner's tab keeps the conversation in its state; coming back to it (a reload, a
    link) after a participant sent loads it again instead of showing the old branch."""
    conversation = people["conversation"]
    async with open_tab(Wire(), people["owner"]) as owner:
        await _open(owner, conversation)
        await owner.run(ShareState.add_share({"email": "bob@example.com", "role": "participant"}))
        async with open_tab(Wire(), people["bob"]) as bob:
            await _open(bob, conversation)
            backend.script(reply("Noted, Bob."))
            await bob.run(send("bob adds a line"))
        await owner.visit(f"/c/{conversation}")
        contents = [m.content for m in shown(await owner.chat())]
        assert contents[-2:] == ["bob adds a line", "Noted, Bob."]
        updates = len(owner.wire.updates)
        await owner.visit(f"/c/{conversation}")  # nothing new: nothing sent again
        assert all("messages" not in u.chat for u in owner.wire.updates[updates:])
