"""Every public event of every state, tried as the owner, another user, a viewer and nobody,
through Reflex's own event processor (the path a forged websocket frame takes), on SQLite and
PostgreSQL; and, for sharing (issue 13), as a user the conversation is shared with as viewer
and as participant, and as a visitor who opened its read-only link.

The table names each event and what it touches. For each event and caller the test checks:
the server asked :func:`state.access.authorize` (spied on) and it answered as the rules say
(nobody: NotSignedIn; another user: NotFound, the same as an unknown id; a viewer: Forbidden
for a change), and a refused event changed nothing in the database. A second test fails if a
state has an event the table does not list, so a new event cannot go unchecked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable
from typing import Any

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State
from reflex_base.event import Event
from sqlalchemy import Engine, text

import state.admin
import state.agent
import state.composer
import state.conversation
import state.extract
import state.keys
import state.prompts
import state.share
import state.transfer
import state.usage
from app.db.models import Role
from app.errors import ParleyError
from app.services import get_attachment_service, get_prompt_service, get_sharing_service
from app.services.authz import owner_of
from state.access import SIGNED_IN, Need
from state.auth import AuthState
from state.chat import ChatState
from state.composer import ComposerState
from state.share import LinkState
from state.sidebar import SidebarState
from state.ui import UiState
from tests.state import harness
from tests.state.authz_table import BUILTIN, EXPECTED, TABLE, WRITERS, Ids
from tests.state.conftest import STATE_MODULES
from tests.state.harness import PASSWORD, Backend, Tab, Wire, cookie_of, open_tab, reply

backend = harness.backend


def test_every_event_is_in_the_table() -> None:
    """Every public event of every state is listed (so checked by the test below)."""
    classes: set[type[BaseState]] = {AuthState}
    for module in STATE_MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, State) and cls.__module__ == module.__name__:
                classes.add(cls)
    events = {
        (cls, name)
        for cls in classes
        for name, handler in cls.event_handlers.items()
        if name not in BUILTIN and handler.fn.__qualname__.startswith(f"{cls.__name__}.")
    }
    missing = sorted(f"{cls.__name__}.{name}" for cls, name in events - TABLE.keys())
    assert not missing, f"events not in the authorisation table: {missing}"
    assert len(events) == len(TABLE)


def test_every_need_has_an_answer_for_every_caller() -> None:
    """Each need an event names says what every caller gets, shared ones included."""
    needs = {need for need, _, _ in TABLE.values()} - {"public"}
    gaps = sorted(f"{c}: {n}" for c, row in EXPECTED.items() for n in needs - row.keys())
    assert not gaps, f"callers with no answer for a need: {gaps}"


# ----- the people and their rows ------------------------------------------------------------


class Spy:
    """Records what :func:`state.access.authorize` answered, for the event being run."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.outcomes: list[type[ParleyError] | None] = []

    async def __call__(self, state: BaseState, need: Need = SIGNED_IN) -> Any:
        try:
            principal = await self.real(state, need)
        except ParleyError as exc:
            self.outcomes.append(type(exc))
            raise
        self.outcomes.append(None)
        return principal


def fingerprint(engine: Engine) -> list[Any]:
    """Everything a refused event must leave as it was."""
    queries = [
        "select id, title, pinned, deleted_at, current_leaf_id, prompt_id, temperature"
        " from conversation order by id",
        "select id, content, status from message order by id",
        "select id, name, archived_at from prompt order by id",
        "select count(*) from prompt_version",
        "select id, message_id from attachment order by id",
        "select id, conversation_id, user_id, role from conversation_share order by id",
        "select id, token, revoked_at from share_link order by id",
    ]
    with engine.connect() as conn:
        return [list(conn.execute(text(q)).all()) for q in queries]


@pytest.fixture
async def world(backend: Backend, engine: Engine) -> dict[str, Any]:
    accounts = backend.accounts
    owner = await accounts.sign_up("owner@example.com", PASSWORD, "Owner")
    other = await accounts.sign_up("other@example.com", PASSWORD, "Other")
    viewer = await accounts.sign_up("viewer@example.com", PASSWORD, "Viewer")
    shared_viewer = await accounts.sign_up("sv@example.com", PASSWORD, "Shared viewer")
    participant = await accounts.sign_up("sp@example.com", PASSWORD, "Participant")
    visitor = await accounts.sign_up("visitor@example.com", PASSWORD, "Visitor")
    admin = await accounts.resolve(backend.cookie.split("=")[-1])
    owner_p = await accounts.resolve(owner.token)
    assert owner_p is not None and owner_p.default_project is not None
    await accounts.set_role(
        admin, project_id=owner_p.default_project, user_id=viewer.user_id, role=Role.viewer
    )
    backend.script(*(reply("```py\nprint(1)\n```") for _ in range(400)))
    made = 0

    async def make() -> Ids:
        """A fresh conversation (question and reply), prompt and pending file of the owner's."""
        nonlocal made
        made += 1
        mine = owner_of(owner_p)
        posted = await backend.service.post_message(None, "owner's secret question", owner=mine)
        answer = await backend.service.stream_reply(posted.reply.id)
        prompt = await get_prompt_service().create(f"Owner's {made}", "secret", owner=mine)
        upload = await get_attachment_service().add("a.txt", b"secret", owner=mine)
        sharing = get_sharing_service()
        conversation = posted.conversation.id
        assert owner_p is not None
        await sharing.share_with(
            conversation, email="sp@example.com", role="participant", by=owner_p
        )
        panel = await sharing.share_with(
            conversation, email="sv@example.com", role="viewer", by=owner_p
        )
        panel = await sharing.create_link(conversation, by=owner_p)
        return {
            "conversation": posted.conversation.id,
            "shown": [posted.user, answer],
            "question": posted.user.id,
            "reply": answer.id,
            "prompt": prompt.id,
            "attachment": upload.id,
            "share": next(v.id for v in panel.shares if "sv@" in v.label),
            "token": panel.link_token,
        }

    return {
        "ids": await make(),
        "make": make,
        "cookies": {
            "owner": cookie_of(owner.token),
            "other": cookie_of(other.token),
            "viewer": cookie_of(viewer.token),
            "shared_viewer": cookie_of(shared_viewer.token),
            "shared_participant": cookie_of(participant.token),
            "link_visitor": cookie_of(visitor.token),
            "nobody": "",
        },
    }


async def _seed(tab: Tab, cls: type[BaseState], values: dict[str, Any], ids: Ids) -> None:
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        target = await root.get_state(cls)
        for name, value in values.items():
            if isinstance(value, str) and value.startswith("{"):
                value = ids[value.strip("{}")]
            setattr(target, name, value)
        root._clean()


CALLERS = list(EXPECTED)


@pytest.mark.parametrize("caller", CALLERS)
async def test_each_event_as_each_caller(
    caller: str, world: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(state.conversation.authorize)
    for module in (
        state.conversation,
        state.composer,
        state.prompts,
        state.usage,
        state.admin,
        state.keys,
        state.transfer,
    ):
        monkeypatch.setattr(module, "authorize", spy)
    link_spy = Spy(state.share.authorize_link)
    link_spy.outcomes = spy.outcomes  # one record: either check counts as asked
    monkeypatch.setattr(state.share, "authorize_link", link_spy)
    problems: list[str] = []
    for (cls, name), (need, event, seed) in TABLE.items():
        if need == "public" or cls is UiState:
            continue  # the login pages; UiState is checked by its own test below
        # The owner's events change things: each gets rows of its own.
        ids = await world["make"]() if caller in WRITERS else world["ids"]
        expected = EXPECTED[caller][need]
        before = fingerprint(engine)
        spy.outcomes.clear()
        async with open_tab(Wire(), world["cookies"][caller]) as tab:
            if caller == "link_visitor":  # has the conversation's link open: grants nothing
                tab.path = f"/s/{ids['token']}"
                await tab.run(LinkState.load)
                assert (await tab.state(LinkState)).messages, "the link did not open"
                spy.outcomes.clear()
            tab.path = f"/c/{ids['conversation']}" if name == "load_page" else "/"
            if cls is LinkState:
                tab.path = f"/s/{ids['token']}"
            # The conversation is open, as it is when its messages' buttons are clicked.
            await _seed(tab, ChatState, {"current_id": "{conversation}"}, ids)
            await _seed(tab, cls, seed, ids)
            await tab.run(event(ids))
        label = f"{cls.__name__}.{name} as {caller}"
        if not spy.outcomes:
            problems.append(f"{label}: never asked authorize")
        elif expected is None and any(spy.outcomes):
            problems.append(f"{label}: refused {spy.outcomes}")
        elif expected is not None:
            if expected not in spy.outcomes:
                problems.append(f"{label}: expected {expected.__name__}, got {spy.outcomes}")
            if fingerprint(engine) != before:
                problems.append(f"{label}: refused, yet the database changed")
    assert not problems, "\n".join(problems)


async def test_the_palette_shows_nobody_and_strangers_nothing(world: dict[str, Any]) -> None:
    for caller, sees in (("nobody", False), ("other", False), ("viewer", True), ("owner", True)):
        async with open_tab(Wire(), world["cookies"][caller]) as tab:
            await tab.run(UiState.search_palette(""), UiState.search_palette("secret"))
            await tab.run(UiState.set_drawer_open(True))
            ui = await tab.state(UiState)
            found = [c["id"] for c in ui.palette_conversations]
            assert (world["ids"]["conversation"] in found) is sees, caller
            assert ui.drawer_open is (caller != "nobody")


class _On(logging.Handler):
    """Sets ``event`` when a log record's text (with its traceback) contains ``text``."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in self.format(record):
            self.event.set()


@pytest.mark.parametrize(
    ("cls", "name", "payload"),
    [
        (ChatState, "_begin_reply", {"reply_id": 1, "conversation_id": "x"}),
        (ChatState, "_clear_live", {}),
        (SidebarState, "_refresh", {}),
        (ComposerState, "_sent", {}),
        (ChatState, "__init__", {}),
        (ChatState, "no_such_event", {}),
    ],
)
async def test_forged_calls_to_helpers_are_not_events(
    world: dict[str, Any],
    cls: type[BaseState],
    name: str,
    payload: dict[str, Any],
) -> None:
    """A frame naming a helper (or nothing) runs nothing, for the owner too: helpers are not
    in the state's event handlers, and Reflex refuses the frame."""
    async with open_tab(Wire(), world["cookies"]["owner"]) as tab:
        await _seed(tab, ChatState, {"live_id": 7, "current_id": "{conversation}"}, world["ids"])
        spec = Event(name=f"{cls.get_full_name()}.{name}", payload=payload)
        refused = asyncio.Event()
        handler = _On("No registered handler found", refused)
        logging.getLogger().addHandler(handler)
        future = await tab.processor.enqueue(
            tab.token, dataclasses.replace(spec, router_data=tab.router_data())
        )
        async with asyncio.timeout(10):  # Reflex logs its refusal; the frame runs nothing
            await refused.wait()
        assert not future.done()
        logging.getLogger().removeHandler(handler)
        chat = await tab.chat()
        assert chat.live_id == 7 and chat.current_id == world["ids"]["conversation"]
