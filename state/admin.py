"""The ``/admin`` page's state: users, invitations, projects and members (and the MCP tools
each project may use), budgets, moderation.

Thin: every event resolves the caller on the server from the session cookie of its websocket
handshake and hands it to :class:`app.services.admin.AdminService`, whose every method starts
with ``Authz.require_admin``; so a forged event from a non-admin or from nobody is refused
whatever ids it carries, and changes nothing. ``load`` (the page's on_load) sends nobody to
the login page and non-admins home. A refusal or bad input shows as ``error``; the lists are
read again after each change, so the page shows what the database holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from app.errors import Forbidden, NotSignedIn, ParleyError
from app.services.admin import (
    BudgetView,
    FlagView,
    MemberView,
    ProjectView,
    UserView,
    get_admin_service,
)
from app.services.authz import Principal, login_redirect
from app.services.project_tools import ToolChoiceView, get_project_tools
from state.access import ADMIN, authorize


class AdminState(rx.State):
    error: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")
    me: rx.Field[str] = rx.field("")  # the admin's own user id (no disable button for it)
    users: rx.Field[list[UserView]] = rx.field(default_factory=list)
    invitation: rx.Field[str] = rx.field("")  # the last code made, shown once
    projects: rx.Field[list[ProjectView]] = rx.field(default_factory=list)
    project_id: rx.Field[str] = rx.field("")  # the project whose members are shown
    project_name: rx.Field[str] = rx.field("")
    members: rx.Field[list[MemberView]] = rx.field(default_factory=list)
    mcp_tools: rx.Field[list[ToolChoiceView]] = rx.field(default_factory=list)  # the project's
    budgets: rx.Field[list[BudgetView]] = rx.field(default_factory=list)
    flags: rx.Field[list[FlagView]] = rx.field(default_factory=list)
    log_page: rx.Field[int] = rx.field(0)
    log_has_next: rx.Field[bool] = rx.field(False)

    async def _principal(self) -> Principal | None:
        """The caller, if an admin (:func:`state.access.authorize` with ``ADMIN``); else
        raises :class:`NotSignedIn` or :class:`Forbidden`. The services check again."""
        return await authorize(self, ADMIN)

    async def _refresh(self, principal: Principal | None) -> None:
        service = get_admin_service()
        self.users = await service.users(principal)
        self.projects = await service.projects(principal)
        self.budgets = await service.budgets(principal)
        known = {p.id: p.name for p in self.projects}
        if self.project_id not in known:
            self.project_id = self.projects[0].id if self.projects else ""
        self.project_name = known.get(self.project_id, "")
        self.members = await service.members(principal, self.project_id) if self.project_id else []
        tools = get_project_tools()
        self.mcp_tools = await tools.choices(principal, self.project_id) if self.project_id else []
        page = await service.moderation_log(principal, self.log_page)
        self.flags, self.log_has_next = page.rows, page.has_next

    async def _act(
        self, change: Callable[[Principal | None], Awaitable[Any]], done: str = ""
    ) -> None:
        """Run one change as the caller, then read the page again; errors show, nothing else."""
        self.error, self.notice = "", ""
        try:
            principal = await self._principal()
            await change(principal)
            await self._refresh(principal)
        except (NotSignedIn, Forbidden) as exc:
            self._forget()
            self.error = exc.message
            return
        except ParleyError as exc:
            self.error = exc.message
            return
        self.notice = done

    def _forget(self) -> None:
        """A caller who is not (or no longer) an admin keeps nothing the page showed."""
        self.users, self.projects, self.members, self.budgets, self.flags = [], [], [], [], []
        self.mcp_tools = []
        self.invitation = ""

    @rx.event
    async def load(self) -> rx.event.EventSpec | None:
        """on_load: nobody goes to /login (and back), a non-admin goes home."""
        try:
            principal = await self._principal()
        except NotSignedIn:
            self._forget()
            return rx.redirect(login_redirect(None, "/admin") or "/login")
        except Forbidden:
            self._forget()
            return rx.redirect("/")
        assert principal is not None
        self.me, self.invitation, self.log_page = principal.user_id, "", 0
        await self._act(lambda p: _nothing())
        return None

    # ----- users --------------------------------------------------------------------------

    @rx.event
    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        await self._act(
            lambda p: get_admin_service().set_disabled(p, str(user_id), bool(disabled)),
            "Account disabled; its sessions are ended." if disabled else "Account enabled.",
        )

    @rx.event
    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self._act(
            lambda p: get_admin_service().set_admin(p, str(user_id), bool(is_admin)),
            "Admin role given." if is_admin else "Admin role removed.",
        )

    @rx.event
    async def create_invitation(self) -> None:
        code: list[str] = []

        async def make(p: Principal | None) -> None:
            code.append(await get_admin_service().create_invitation(p))

        await self._act(make, "Invitation made. Copy the code now: it is not shown again.")
        self.invitation = code[0] if code and not self.error else ""

    # ----- projects -----------------------------------------------------------------------

    @rx.event
    async def create_project(self, form: dict[str, Any]) -> None:
        name, owner = str(form.get("name", "")), str(form.get("owner_id", ""))
        made: list[str] = []

        async def make(p: Principal | None) -> None:
            made.append(await get_admin_service().create_project(p, name, owner))
            self.project_id = made[0]

        await self._act(make, "Project created.")

    @rx.event
    async def open_project(self, project_id: str) -> None:
        self.project_id = str(project_id)
        await self._act(lambda p: _nothing())

    @rx.event
    async def set_role(self, user_id: str, role: str) -> None:
        """Change a member of the open project (``""`` removes them)."""
        project = self.project_id
        await self._act(
            lambda p: get_admin_service().set_role(p, project, str(user_id), str(role)),
            "Member removed." if not role else "Role saved.",
        )

    @rx.event
    async def add_member(self, form: dict[str, Any]) -> None:
        project, user = self.project_id, str(form.get("user_id", ""))
        role = str(form.get("role", "member")) or "member"
        await self._act(
            lambda p: get_admin_service().set_role(p, project, user, role), "Member added."
        )

    @rx.event
    async def set_moderation(self, project_id: str, mode: str) -> None:
        await self._act(
            lambda p: get_admin_service().set_moderation(p, str(project_id), str(mode)),
            "Moderation mode saved.",
        )

    @rx.event
    async def set_mcp_tool(self, entry: str, allowed: bool) -> None:
        """Allow or refuse an MCP server ("lab") or one of its tools ("lab/add") for the
        open project's agent runs."""
        project = self.project_id
        await self._act(
            lambda p: get_project_tools().set_allowed(p, project, str(entry), bool(allowed)),
            "MCP tools saved.",
        )

    @rx.event
    async def allow_every_mcp_server(self) -> None:
        project = self.project_id
        await self._act(
            lambda p: get_project_tools().allow_every_server(p, project), "MCP tools saved."
        )

    # ----- budgets and the moderation log -------------------------------------------------

    @rx.event
    async def save_budget(self, form: dict[str, Any]) -> None:
        scope, subject = str(form.get("scope", "")), str(form.get("subject_id", ""))
        cost, tokens = str(form.get("cost", "")), str(form.get("tokens", ""))
        await self._act(
            lambda p: get_admin_service().set_limits(p, scope, subject, cost, tokens),
            "Budget saved.",
        )

    @rx.event
    async def show_log_page(self, page: int) -> None:
        try:
            self.log_page = max(0, int(page))
        except (TypeError, ValueError):
            self.log_page = 0
        await self._act(lambda p: _nothing())


async def _nothing() -> None:
    """A change that changes nothing: the page is only read again."""
