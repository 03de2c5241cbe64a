"""The admin use cases on SQLite and PostgreSQL: only admins, users (disable, admin role,
invitations), projects and roles (a project keeps its owner), budgets against the month's
spend, the moderation log's pages, and a project's own moderation mode used by the guard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.models import CallLog, ModerationLog
from app.errors import Flagged, Forbidden, InvalidInput, NotFound, NotSignedIn, SignInFailed
from app.guards.budgets import Limits
from app.guards.context import CallContext, with_context
from app.guards.moderation import ModerationGuard, Verdict
from app.guards.store import DatabaseGuardStore
from app.llm.base import ChatMessage, ChatRequest
from app.services.accounts import AccountService
from app.services.admin import LOG_PAGE, AdminService, parse_limits
from app.services.authz import Principal
from tests.unit.test_accounts import PASSWORD, service


@dataclass
class World:
    accounts: AccountService
    admin: AdminService
    root: Principal  # the first account: an admin
    ada: Principal  # a plain user, owner of her own project
    ada_project: str


async def _principal(accounts: AccountService, token: str) -> Principal:
    principal = await accounts.resolve(token)
    assert principal is not None
    return principal


@pytest.fixture
async def world(engine: Engine) -> World:
    accounts = service(engine)
    root = await accounts.sign_up("root@example.com", PASSWORD, "Root")
    ada = await accounts.sign_up("ada@example.com", PASSWORD, "Ada")
    ada_p = await _principal(accounts, ada.token)
    admin = AdminService(
        accounts,
        DatabaseGuardStore(engine),
        defaults={"user": Limits(Decimal(10), None)},
        clock=lambda: datetime(2026, 12, 15, tzinfo=UTC),
    )
    project = next(iter(ada_p.roles))
    return World(accounts, admin, await _principal(accounts, root.token), ada_p, project)


async def test_only_admins_use_any_of_it(world: World) -> None:
    a, ada = world.admin, world.ada
    calls = [
        lambda p: a.users(p),
        lambda p: a.set_disabled(p, world.root.user_id, True),
        lambda p: a.set_admin(p, ada.user_id, True),
        lambda p: a.create_invitation(p),
        lambda p: a.projects(p),
        lambda p: a.create_project(p, "Mine", ada.user_id),
        lambda p: a.members(p, world.ada_project),
        lambda p: a.set_role(p, world.ada_project, world.root.user_id, "viewer"),
        lambda p: a.set_moderation(p, world.ada_project, "off"),
        lambda p: a.budgets(p),
        lambda p: a.set_limits(p, "user", ada.user_id, "1000", ""),
        lambda p: a.moderation_log(p),
    ]
    for call in calls:
        with pytest.raises(NotSignedIn):
            await call(None)
        with pytest.raises(Forbidden):
            await call(ada)  # owner of her project, not an admin
    # nothing changed
    users = {u.email: u for u in await a.users(world.root)}
    assert not users["ada@example.com"].is_admin and not users["root@example.com"].disabled
    assert [p.name for p in await a.projects(world.root)] == ["Ada's", "Default"]


async def test_disable_ends_sessions_and_sign_in(world: World) -> None:
    a, root = world.admin, world.root
    token = (await world.accounts.log_in("ada@example.com", PASSWORD)).token
    await a.set_disabled(root, world.ada.user_id, True)
    assert await world.accounts.resolve(token) is None
    with pytest.raises(SignInFailed):
        await world.accounts.log_in("ada@example.com", PASSWORD)
    assert {u.email: u.disabled for u in await a.users(root)}["ada@example.com"]
    await a.set_disabled(root, world.ada.user_id, False)
    assert (await world.accounts.log_in("ada@example.com", PASSWORD)).user_id == world.ada.user_id
    with pytest.raises(InvalidInput):
        await a.set_disabled(root, root.user_id, True)
    with pytest.raises(NotFound):
        await a.set_disabled(root, "nobody", True)


async def test_admin_role_and_invitations(world: World) -> None:
    a, root = world.admin, world.root
    await a.set_admin(root, world.ada.user_id, True)
    ada = await _principal(
        world.accounts, (await world.accounts.log_in("ada@example.com", PASSWORD)).token
    )
    assert ada.is_admin and len(await a.users(ada)) == 2
    await a.set_admin(ada, root.user_id, False)
    with pytest.raises(InvalidInput):
        await a.set_admin(ada, ada.user_id, False)  # never the last word on oneself
    world.accounts.signup_mode = "invite"
    code = await a.create_invitation(ada)
    with pytest.raises(Forbidden):
        await world.accounts.sign_up("eve@example.com", PASSWORD, invite_code="guess")
    assert (await world.accounts.sign_up("bob@example.com", PASSWORD, invite_code=code)).user_id
    with pytest.raises(Forbidden):  # single use
        await world.accounts.sign_up("eve@example.com", PASSWORD, invite_code=code)


async def test_projects_members_and_the_owner_rule(world: World) -> None:
    a, root, ada = world.admin, world.root, world.ada
    project = await a.create_project(root, "  Research   team ", ada.user_id)
    views = {p.id: p for p in await a.projects(root)}
    assert views[project].name == "Research team" and views[project].members == 1
    assert views[project].moderation == "global"
    await a.set_role(root, project, root.user_id, "viewer")
    assert [(m.email, m.role) for m in await a.members(root, project)] == [
        ("ada@example.com", "owner"),
        ("root@example.com", "viewer"),
    ]
    with pytest.raises(InvalidInput, match="needs an owner"):
        await a.set_role(root, project, ada.user_id, "member")
    with pytest.raises(InvalidInput, match="needs an owner"):
        await a.set_role(root, project, ada.user_id, "")
    await a.set_role(root, project, root.user_id, "owner")
    await a.set_role(root, project, ada.user_id, "")
    assert [m.email for m in await a.members(root, project)] == ["root@example.com"]
    with pytest.raises(InvalidInput):
        await a.set_role(root, project, ada.user_id, "superuser")
    with pytest.raises(InvalidInput):
        await a.create_project(root, "   ", ada.user_id)
    with pytest.raises(NotFound):
        await a.create_project(root, "Orphan", "no-such-user")
    with pytest.raises(NotFound):
        await a.members(root, "no-such-project")


async def test_budgets_show_the_months_spend(world: World, engine: Engine) -> None:
    a, root, ada = world.admin, world.root, world.ada
    with Session(engine) as session:
        for when, cost, tokens in (
            (datetime(2026, 12, 2, tzinfo=UTC), "2.5", 1000),
            (datetime(2026, 11, 30, tzinfo=UTC), "50", 9000),  # last month: not counted
        ):
            session.add(
                CallLog(
                    user_id=ada.user_id,
                    project_id=world.ada_project,
                    provider="openai",
                    model="gpt",
                    input_tokens=tokens,
                    cost=Decimal(cost),
                    status="ok",
                    created_at=when,
                )
            )
        session.commit()
    await a.set_limits(root, "project", world.ada_project, "", "4,000")
    views = {(b.scope, b.name): b for b in await a.budgets(root)}
    mine = views[("user", "ada@example.com")]
    assert (mine.own, mine.cost_limit, mine.cost_spent, mine.cost_percent) == (
        False,
        "10",
        "$2.5000",
        25,
    )
    assert mine.token_percent == -1 and mine.tokens_spent == "1,000"
    project = views[("project", "Ada's")]
    assert project.own and project.token_limit == "4000" and project.token_percent == 25
    assert project.cost_percent == -1
    await a.set_limits(root, "user", ada.user_id, "$1.25", "")
    mine = {b.subject_id: b for b in await a.budgets(root)}[ada.user_id]
    assert mine.own and mine.cost_limit == "1.25" and mine.cost_percent == 100
    for cost, tokens in (("-1", ""), ("abc", ""), ("1e400", ""), ("0.0000001", ""), ("", "1.5")):
        with pytest.raises(InvalidInput):
            await a.set_limits(root, "user", ada.user_id, cost, tokens)
    with pytest.raises(NotFound):
        await a.set_limits(root, "project", "no-such-project", "1", "")
    with pytest.raises(InvalidInput):
        await a.set_limits(root, "team", ada.user_id, "1", "")


def test_parse_limits() -> None:
    assert parse_limits(" $25 ", "2,000,000") == Limits(Decimal(25), 2_000_000)
    assert parse_limits("", "") == Limits()


async def test_moderation_log_newest_first_in_pages(world: World, engine: Engine) -> None:
    with Session(engine) as session:
        for i in range(LOG_PAGE + 3):
            session.add(
                ModerationLog(
                    user_id=world.ada.user_id,
                    project_id=world.ada_project,
                    source="offline",
                    action="blocked",
                    categories="profanity,hate",
                    score=0.9,
                    excerpt=f"rude {i}",
                    created_at=datetime(2026, 12, 1, 0, i, tzinfo=UTC),
                )
            )
        session.commit()
    first = await world.admin.moderation_log(world.root)
    assert first.has_next and len(first.rows) == LOG_PAGE
    assert (
        first.rows[0].excerpt == f"rude {LOG_PAGE + 2}" and first.rows[0].user == "ada@example.com"
    )
    assert first.rows[0].project == "Ada's" and first.rows[0].categories == "profanity, hate"
    second = await world.admin.moderation_log(world.root, 1)
    assert not second.has_next and [r.excerpt for r in second.rows] == [
        "rude 2",
        "rude 1",
        "rude 0",
    ]


class Rude:
    source = "offline"

    async def classify(self, text: str) -> Verdict:
        return Verdict(True, ("profanity",), 0.99, self.source)


async def test_a_projects_own_mode_overrides_the_global_one(world: World, engine: Engine) -> None:
    store = DatabaseGuardStore(engine)
    guard = ModerationGuard(
        Rude(), mode="block", sink=store.log_flagged, project_mode=store.moderation_mode
    )

    def ask(project: str) -> ChatRequest:
        request = ChatRequest("local", (ChatMessage("user", "rude words"),))
        return with_context(request, CallContext(user_id=world.ada.user_id, project_id=project))

    with pytest.raises(Flagged):  # global: block
        await guard.screen(ask(world.ada_project))
    await world.admin.set_moderation(world.root, world.ada_project, "off")
    assert await guard.screen(ask(world.ada_project)) is None
    await world.admin.set_moderation(world.root, world.ada_project, "log")
    verdict = await guard.screen(ask(world.ada_project))
    assert verdict is not None and verdict.flagged
    with pytest.raises(Flagged):  # another project, and a call without one: the global mode
        await guard.screen(ask("elsewhere"))
    with pytest.raises(Flagged):
        await guard.screen(ask(""))
    await world.admin.set_moderation(world.root, world.ada_project, "global")
    with pytest.raises(Flagged):
        await guard.screen(ask(world.ada_project))
    assert [r.action for r in (await world.admin.moderation_log(world.root)).rows] == [
        "blocked",
        "blocked",
        "blocked",
        "logged",
        "blocked",
    ]
    with pytest.raises(InvalidInput):
        await world.admin.set_moderation(world.root, world.ada_project, "shout")
    with pytest.raises(NotFound):
        await world.admin.set_moderation(world.root, "no-such-project", "off")
