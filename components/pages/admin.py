"""The admin page, at ``/admin``: users, projects, budgets and the moderation log (admins
only; AdminState.load sends everyone else away, and every event is checked again)."""

from __future__ import annotations

import reflex as rx

from components.admin import (
    ProjectActions,
    UserActions,
    budgets_section,
    moderation_log,
    projects_section,
    users_section,
)
from components.admin_tools import project_tools
from components.shell import shell_style
from state.admin import AdminState


def admin_page() -> rx.Component:
    s = AdminState
    return rx.el.main(
        shell_style(),
        rx.vstack(
            rx.hstack(
                rx.heading("Admin", as_="h1", size="6"),
                rx.link("Back to chat", href="/"),
                justify="between",
                align="center",
                width="100%",
            ),
            rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", role="alert")),
            rx.text(s.notice, role="status", aria_live="polite", size="2"),
            users_section(
                s.users,
                s.me,
                s.invitation,
                UserActions(s.set_disabled, s.set_admin, s.create_invitation),
            ),
            projects_section(
                s.projects,
                s.users,
                s.project_name,
                s.members,
                ProjectActions(
                    s.create_project, s.open_project, s.set_moderation, s.set_role, s.add_member
                ),
            ),
            project_tools(s.mcp_tools, s.project_name, s.set_mcp_tool, s.allow_every_mcp_server),
            budgets_section(s.budgets, s.save_budget),
            moderation_log(s.flags, s.log_page, s.log_has_next, s.show_log_page),
            spacing="5",
            width="100%",
            max_width="1100px",
            margin="0 auto",
            padding="1.5em",
        ),
    )
