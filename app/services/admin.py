"""The admin page's use cases: users, invitations, projects and their members, monthly
budgets with the month's spend, per-project moderation modes, and the moderation log.

Thin: each method first checks the caller is an admin (:meth:`Authz.require_admin`, so
nobody and non-admins are refused before anything is read), then calls the account service
(the rules for disabling accounts and keeping a project's owner live there), the CRUD, or the
guards' store (:class:`~app.guards.store.DatabaseGuardStore`: budgets, spend, the log). What
it returns are plain views with display strings, for the page to draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from sqlmodel import Session

from app.db import crud
from app.db.crud import accounts as account_crud
from app.db.models import Role
from app.db.session import run_in_session
from app.errors import InvalidInput, NotFound
from app.guards.budgets import BudgetScope, Limits, Spend, month_start
from app.guards.moderation import MODES
from app.guards.store import DatabaseGuardStore
from app.services.accounts import AccountService
from app.services.authz import Authz, Principal

T = TypeVar("T")
LOG_PAGE = 25
MAX_NAME = 100
GLOBAL = "global"  # the moderation choice "follow the global setting"


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    email: str
    display_name: str
    is_admin: bool
    disabled: bool
    created: str  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class ProjectView:
    id: str
    name: str
    members: int
    moderation: str  # "global", "off", "log" or "block"


@dataclass(frozen=True, slots=True)
class MemberView:
    user_id: str
    email: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class BudgetView:
    """One subject's month: its limits (own row, else the default) against its spend.
    ``*_percent`` is 0..100 for the progress bar, -1 without a limit of that unit."""

    scope: str
    subject_id: str
    name: str
    own: bool  # the subject has its own row (else the settings' default applies)
    cost_limit: str  # "" for no limit
    token_limit: str
    cost_spent: str
    tokens_spent: str
    cost_percent: int
    token_percent: int


@dataclass(frozen=True, slots=True)
class FlagView:
    id: int
    when: str  # UTC, YYYY-MM-DD HH:MM
    user: str
    project: str
    action: str
    source: str
    categories: str
    score: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[FlagView]
    page: int
    has_next: bool


def _percent(spent: Decimal, limit: Decimal | None) -> int:
    if limit is None:
        return -1
    if limit <= 0:
        return 100
    return int(min(Decimal(100), spent * 100 / limit))


def parse_limits(cost: str, tokens: str) -> Limits:
    """A budget as typed on the page: empty means no limit; else a number of dollars (up to
    6 decimals) and a whole number of tokens, neither negative."""
    cost, tokens = cost.strip().lstrip("$").strip(), tokens.strip().replace(",", "")
    try:
        dollars = Decimal(cost) if cost else None
    except InvalidOperation:
        raise InvalidInput("A cost budget is a number of US dollars, like 25 or 2.50.") from None
    if dollars is not None and (not dollars.is_finite() or dollars < 0 or dollars >= 10**9):
        raise InvalidInput("A cost budget is a number of dollars from 0 to 999,999,999.")
    if dollars is not None and dollars != dollars.quantize(Decimal("0.000001")):
        raise InvalidInput("A cost budget has at most 6 decimals.")
    if tokens and not (tokens.isascii() and tokens.isdigit() and len(tokens) <= 15):
        raise InvalidInput("A token budget is a whole number of tokens, like 2000000.")
    return Limits(dollars, int(tokens) if tokens else None)


class AdminService:
    def __init__(
        self,
        accounts: AccountService,
        store: DatabaseGuardStore,
        *,
        defaults: dict[BudgetScope, Limits] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.accounts = accounts
        self.engine = accounts.engine
        self.store = store
        self.defaults = defaults or {}
        self.clock = clock or (lambda: datetime.now(UTC))

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    # ----- users --------------------------------------------------------------------------

    async def users(self, principal: Principal | None) -> list[UserView]:
        Authz.require_admin(principal)
        rows = await self._db(lambda s: list(crud.list_users(session=s)))
        return [
            UserView(
                u.id,
                u.email,
                u.display_name,
                u.is_admin,
                u.disabled_at is not None,
                u.created_at.strftime("%Y-%m-%d"),
            )
            for u in rows
        ]

    async def set_disabled(self, principal: Principal | None, user_id: str, disabled: bool) -> None:
        """Disable (ending every session) or enable an account; see AccountService."""
        Authz.require_admin(principal)
        await self._db(lambda s: self._user_exists(s, user_id))
        await self.accounts.set_disabled(principal, user_id, disabled)

    async def set_admin(self, principal: Principal | None, user_id: str, is_admin: bool) -> None:
        """Make or unmake an admin. Not oneself: an admin cannot lock the page to everyone."""
        admin = Authz.require_admin(principal)
        if user_id == admin.user_id and not is_admin:
            raise InvalidInput("You cannot remove your own admin role.")

        def run(session: Session) -> None:
            self._user_exists(session, user_id)
            crud.set_admin(session=session, user_id=user_id, is_admin=is_admin)

        await self._db(run)

    async def create_invitation(self, principal: Principal | None) -> str:
        """A single-use sign-up code, shown once (only its hash is kept)."""
        Authz.require_admin(principal)
        return await self.accounts.create_invitation(principal)

    @staticmethod
    def _user_exists(session: Session, user_id: str) -> None:
        if crud.get_user(session=session, user_id=user_id) is None:
            raise NotFound("That user does not exist.")

    # ----- projects and members -----------------------------------------------------------

    async def projects(self, principal: Principal | None) -> list[ProjectView]:
        Authz.require_admin(principal)
        rows = await self._db(lambda s: account_crud.list_projects(session=s))
        return [ProjectView(p.id, p.name, n, p.moderation_mode or GLOBAL) for p, n in rows]

    async def create_project(self, principal: Principal | None, name: str, owner_id: str) -> str:
        """A new project with its owner (a project always has one); returns its id."""
        Authz.require_admin(principal)
        clean = " ".join(name.split())
        if not clean or len(clean) > MAX_NAME:
            raise InvalidInput(f"A project name has 1 to {MAX_NAME} characters.")

        def run(session: Session) -> str:
            self._user_exists(session, owner_id)
            project = crud.create_project(session=session, name=clean)
            crud.set_membership(
                session=session, project_id=project.id, user_id=owner_id, role=Role.owner
            )
            return project.id

        return await self._db(run)

    async def members(self, principal: Principal | None, project_id: str) -> list[MemberView]:
        Authz.require_admin(principal)

        def run(session: Session) -> list[MemberView]:
            if crud.get_project(session=session, project_id=project_id) is None:
                raise NotFound("That project does not exist.")
            rows = crud.list_members(session=session, project_id=project_id)
            return [MemberView(u.id, u.email, u.display_name, str(m.role)) for m, u in rows]

        return await self._db(run)

    async def set_role(
        self, principal: Principal | None, project_id: str, user_id: str, role: str
    ) -> None:
        """Add a member or change their role (owner/member/viewer); ``""`` removes them.
        A project keeps an owner (AccountService.set_role refuses otherwise)."""
        Authz.require_admin(principal)
        if role and role not in Role.__members__:
            raise InvalidInput("A role is owner, member or viewer.")
        await self.accounts.set_role(
            principal, project_id=project_id, user_id=user_id, role=Role(role) if role else None
        )

    async def set_moderation(self, principal: Principal | None, project_id: str, mode: str) -> None:
        """A project's moderation mode: off, log, block, or ``global`` (the setting's)."""
        Authz.require_admin(principal)
        if mode != GLOBAL and mode not in MODES:
            raise InvalidInput("Moderation is off, log, block or global.")

        def run(session: Session) -> None:
            if crud.get_project(session=session, project_id=project_id) is None:
                raise NotFound("That project does not exist.")
            account_crud.set_project_moderation(
                session=session, project_id=project_id, mode=None if mode == GLOBAL else mode
            )

        try:
            await self._db(run)
        finally:
            self.store.forget_moderation(project_id)  # the guards see it at the next call

    # ----- budgets ------------------------------------------------------------------------

    async def budgets(self, principal: Principal | None) -> list[BudgetView]:
        """Every user's and project's budget this month against its spend so far."""
        Authz.require_admin(principal)
        users = await self._db(lambda s: [(u.id, u.email) for u in crud.list_users(session=s)])
        projects = await self._db(
            lambda s: [(p.id, p.name) for p, _ in account_crud.list_projects(session=s)]
        )
        since = month_start(self.clock())
        groups: list[tuple[BudgetScope, list[tuple[str, str]]]] = [
            ("user", users),
            ("project", projects),
        ]
        return [
            await self._budget(scope, subject, name, since)
            for scope, subjects in groups
            for subject, name in subjects
        ]

    async def _budget(
        self, scope: BudgetScope, subject: str, name: str, since: datetime
    ) -> BudgetView:
        own = await self.store.limits(scope, subject)
        limits = own or self.defaults.get(scope) or Limits()
        spent: Spend = await self.store.spent(scope, subject, since)
        tokens = None if limits.tokens is None else Decimal(limits.tokens)
        return BudgetView(
            scope=scope,
            subject_id=subject,
            name=name,
            own=own is not None,
            cost_limit="" if limits.cost is None else f"{limits.cost.normalize():f}",
            token_limit="" if limits.tokens is None else str(limits.tokens),
            cost_spent=f"${spent.cost.quantize(Decimal('0.0001'))}",
            tokens_spent=f"{spent.tokens:,}",
            cost_percent=_percent(spent.cost, limits.cost),
            token_percent=_percent(Decimal(spent.tokens), tokens),
        )

    async def set_limits(
        self, principal: Principal | None, scope: str, subject_id: str, cost: str, tokens: str
    ) -> None:
        """Set a user's or project's own monthly budget (empty fields: no limit)."""
        Authz.require_admin(principal)
        limits = parse_limits(cost, tokens)
        if scope not in ("user", "project"):
            raise InvalidInput("A budget belongs to a user or a project.")

        def exists(session: Session) -> bool:
            if scope == "user":
                return crud.get_user(session=session, user_id=subject_id) is not None
            return crud.get_project(session=session, project_id=subject_id) is not None

        if not await self._db(exists):
            raise NotFound(f"That {scope} does not exist.")
        await self.store.set_limits("user" if scope == "user" else "project", subject_id, limits)

    # ----- the moderation log -------------------------------------------------------------

    async def moderation_log(self, principal: Principal | None, page: int = 0) -> LogPage:
        """One page of flagged input, newest first, with the users' emails and projects'
        names where they still exist."""
        Authz.require_admin(principal)
        page = max(0, page)
        rows = await self.store.flagged(limit=LOG_PAGE + 1, offset=page * LOG_PAGE)

        def names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
            users = {u.id: u.email for u in crud.list_users(session=session)}
            projects = {p.id: p.name for p, _ in account_crud.list_projects(session=session)}
            return users, projects

        users, projects = await self._db(names)
        views = [
            FlagView(
                id=row.id or 0,
                when=row.created_at.strftime("%Y-%m-%d %H:%M"),
                user=users.get(row.user_id or "", row.user_id or ""),
                project=projects.get(row.project_id or "", row.project_id or ""),
                action=row.action,
                source=row.source,
                categories=row.categories.replace(",", ", "),
                score="" if row.score is None else f"{row.score:.2f}",
                excerpt=row.excerpt,
            )
            for row in rows[:LOG_PAGE]
        ]
        return LogPage(views, page, len(rows) > LOG_PAGE)


# ----- the process's admin service -----------------------------------------------------------

_service: AdminService | None = None


def configure_admin(service: AdminService | None) -> None:
    """Install the admin service (tests); None resets it."""
    global _service
    _service = service


def get_admin_service() -> AdminService:
    """The configured service; built from the account service and settings on first use."""
    global _service
    if _service is None:
        from app.services.accounts import get_account_service
        from app.settings import get_settings

        settings = get_settings()
        accounts = get_account_service()
        _service = AdminService(
            accounts,
            DatabaseGuardStore(accounts.engine),
            defaults={
                "user": Limits(settings.budget_user_usd, settings.budget_user_tokens),
                "project": Limits(settings.budget_project_usd, settings.budget_project_tokens),
            },
        )
    return _service
