"""The admin page's parts: users and invitations, projects and members, budgets, the
moderation log. Pure views: the page passes the state's vars and handlers in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, NumberVar, ObjectVar

from app.services.admin import BudgetView, FlagView, MemberView, ProjectView, UserView
from components.controls import Handler

ROLES = ("owner", "member", "viewer")
MODERATION = (("global", "Global setting"), ("off", "Off"), ("log", "Log"), ("block", "Block"))


def _section(title: str, *children: rx.Component) -> rx.Component:
    slug = title.lower().replace(" ", "-")
    return rx.el.section(
        rx.heading(title, as_="h2", size="4", id=f"admin-{slug}"),
        *children,
        aria_labelledby=f"admin-{slug}",
        width="100%",
        display="flex",
        flex_direction="column",
        gap="0.6em",
    )


def _select(options: tuple[tuple[str, str], ...], **props: Any) -> rx.Component:
    return rx.el.select(
        *(rx.el.option(text, value=value) for value, text in options),
        padding="0.25em 0.4em",
        border_radius="6px",
        border=f"1px solid {rx.color('gray', 6)}",
        background=rx.color("gray", 1),
        color=rx.color("gray", 12),
        **props,
    )


# ----- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserActions:
    set_disabled: Handler  # (user id, disabled)
    set_admin: Handler  # (user id, is admin)
    create_invitation: Handler


def _user_row(user: ObjectVar[UserView], me: rx.Var[str], a: UserActions) -> rx.Component:
    own = user.id == me
    return rx.table.row(
        rx.table.cell(user.email),
        rx.table.cell(user.display_name),
        rx.table.cell(
            rx.hstack(
                rx.cond(user.is_admin, rx.badge("admin", color_scheme="violet")),
                rx.cond(user.disabled, rx.badge("disabled", color_scheme="red")),
                spacing="1",
            )
        ),
        rx.table.cell(user.created),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.cond(user.disabled, "Enable", "Disable"),
                    on_click=a.set_disabled(user.id, ~user.disabled),
                    aria_label=rx.cond(
                        user.disabled, f"Enable {user.email}", f"Disable {user.email}"
                    ),
                    disabled=own,
                    size="1",
                    variant="soft",
                    color_scheme=rx.cond(user.disabled, "green", "red"),
                ),
                rx.button(
                    rx.cond(user.is_admin, "Remove admin", "Make admin"),
                    on_click=a.set_admin(user.id, ~user.is_admin),
                    aria_label=rx.cond(
                        user.is_admin, f"Remove admin {user.email}", f"Make admin {user.email}"
                    ),
                    disabled=own,
                    size="1",
                    variant="soft",
                ),
                spacing="2",
            )
        ),
    )


def users_section(
    users: ArrayVar[Any], me: rx.Var[str], invitation: rx.Var[str], a: UserActions
) -> rx.Component:
    return _section(
        "Users",
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *(
                        rx.table.column_header_cell(h)
                        for h in ("Email", "Name", "Status", "Joined", "Actions")
                    )
                )
            ),
            rx.table.body(rx.foreach(users, lambda u: _user_row(u, me, a))),
            size="1",
            width="100%",
        ),
        rx.hstack(
            rx.button("Create invitation", on_click=a.create_invitation, size="2"),
            rx.cond(
                invitation != "",
                rx.hstack(
                    rx.text("Invitation code (shown once):", size="2"),
                    rx.code(invitation, aria_label="Invitation code"),
                    align="center",
                    spacing="2",
                ),
            ),
            align="center",
            spacing="3",
        ),
    )


# ----- projects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectActions:
    create: Handler  # form: name, owner_id
    open: Handler  # (project id)
    set_moderation: Handler  # (project id, mode)
    set_role: Handler  # (user id, role; "" removes)
    add_member: Handler  # form: user_id, role


def _project_row(p: ObjectVar[ProjectView], a: ProjectActions) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(p.name, on_click=a.open(p.id), href="#members", cursor="pointer")),
        rx.table.cell(p.members),
        rx.table.cell(
            _select(
                MODERATION,
                value=p.moderation,
                on_change=lambda mode: a.set_moderation(p.id, mode),
                aria_label=f"Moderation of {p.name}",
            )
        ),
    )


def _member_row(m: ObjectVar[MemberView], a: ProjectActions) -> rx.Component:
    return rx.table.row(
        rx.table.cell(m.email),
        rx.table.cell(
            _select(
                tuple((r, r.capitalize()) for r in ROLES),
                value=m.role,
                on_change=lambda role: a.set_role(m.user_id, role),
                aria_label=f"Role of {m.email}",
            )
        ),
        rx.table.cell(
            rx.button(
                "Remove",
                on_click=a.set_role(m.user_id, ""),
                aria_label=f"Remove {m.email}",
                size="1",
                variant="soft",
                color_scheme="red",
            )
        ),
    )


def _user_options(users: ArrayVar[Any]) -> rx.Component:
    return rx.foreach(users, lambda u: rx.el.option(u.email, value=u.id))


def projects_section(
    projects: ArrayVar[Any],
    users: ArrayVar[Any],
    project_name: rx.Var[str],
    members: ArrayVar[Any],
    a: ProjectActions,
) -> rx.Component:
    return _section(
        "Projects",
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *(rx.table.column_header_cell(h) for h in ("Project", "Members", "Moderation"))
                )
            ),
            rx.table.body(rx.foreach(projects, lambda p: _project_row(p, a))),
            size="1",
            width="100%",
        ),
        rx.form(
            rx.hstack(
                rx.input(name="name", placeholder="New project name", aria_label="Project name"),
                rx.el.select(_user_options(users), name="owner_id", aria_label="Owner"),
                rx.button("Create project", type="submit"),
                spacing="2",
                align="center",
            ),
            on_submit=a.create,
            reset_on_submit=True,
        ),
        rx.heading(f"Members of {project_name}", as_="h3", size="3", id="members"),
        rx.table.root(
            rx.table.body(rx.foreach(members, lambda m: _member_row(m, a))),
            size="1",
            width="100%",
        ),
        rx.form(
            rx.hstack(
                rx.el.select(_user_options(users), name="user_id", aria_label="New member"),
                _select(
                    tuple((r, r.capitalize()) for r in ROLES),
                    name="role",
                    default_value="member",
                    aria_label="New member's role",
                ),
                rx.button("Add member", type="submit"),
                spacing="2",
                align="center",
            ),
            on_submit=a.add_member,
        ),
    )


# ----- budgets -------------------------------------------------------------------------------


def _meter(
    label: str, spent: rx.Var[str], limit: rx.Var[str], percent: NumberVar[Any]
) -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.cond(percent >= 0, f"{label}: {spent} of {limit}", f"{label}: {spent}, no limit"),
            size="1",
        ),
        rx.cond(
            percent >= 0,
            rx.progress(
                value=percent,
                max=100,
                aria_label=f"{label} used",
                color_scheme=rx.cond(percent >= 80, "red", "green"),
            ),
        ),
        spacing="1",
        width="100%",
    )


def _budget_row(b: ObjectVar[BudgetView], on_save: Handler) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(b.scope, variant="soft")),
        rx.table.cell(b.name),
        rx.table.cell(
            rx.vstack(
                _meter("Cost", b.cost_spent, b.cost_limit, b.cost_percent.to(int)),
                _meter("Tokens", b.tokens_spent, b.token_limit, b.token_percent.to(int)),
                width="14em",
            )
        ),
        rx.table.cell(
            rx.form(
                rx.hstack(
                    rx.el.input(type="hidden", name="scope", value=b.scope),
                    rx.el.input(type="hidden", name="subject_id", value=b.subject_id),
                    rx.input(
                        name="cost",
                        default_value=b.cost_limit,
                        placeholder="USD",
                        aria_label=f"Monthly cost budget of {b.name}",
                        width="7em",
                    ),
                    rx.input(
                        name="tokens",
                        default_value=b.token_limit,
                        placeholder="tokens",
                        aria_label=f"Monthly token budget of {b.name}",
                        width="9em",
                    ),
                    rx.button(
                        "Save", type="submit", size="1", aria_label=f"Save budget of {b.name}"
                    ),
                    rx.cond(~b.own, rx.text("default", size="1", color=rx.color("gray", 10))),
                    spacing="2",
                    align="center",
                ),
                on_submit=on_save,
            )
        ),
    )


def budgets_section(budgets: ArrayVar[Any], on_save: Handler) -> rx.Component:
    return _section(
        "Budgets",
        rx.text(
            "Monthly limits (UTC calendar month); an empty field means no limit.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *(
                        rx.table.column_header_cell(h)
                        for h in ("Scope", "Name", "This month", "Limits")
                    )
                )
            ),
            rx.table.body(rx.foreach(budgets, lambda b: _budget_row(b, on_save))),
            size="1",
            width="100%",
        ),
    )


# ----- the moderation log --------------------------------------------------------------------


def _flag_row(f: ObjectVar[FlagView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(f.when),
        rx.table.cell(f.user),
        rx.table.cell(f.project),
        rx.table.cell(
            rx.badge(f.action, color_scheme=rx.cond(f.action == "blocked", "red", "amber"))
        ),
        rx.table.cell(f.categories),
        rx.table.cell(f.score),
        rx.table.cell(rx.text(f.excerpt, size="1", white_space="pre-wrap")),
    )


def moderation_log(
    flags: ArrayVar[Any], page: NumberVar[Any], has_next: rx.Var[bool], on_page: Handler
) -> rx.Component:
    return _section(
        "Moderation log",
        rx.cond(
            flags.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *(
                            rx.table.column_header_cell(h)
                            for h in (
                                "When (UTC)",
                                "User",
                                "Project",
                                "Action",
                                "Categories",
                                "Score",
                                "Text",
                            )
                        )
                    )
                ),
                rx.table.body(rx.foreach(flags, _flag_row)),
                size="1",
                width="100%",
            ),
            rx.text("Nothing flagged.", size="2"),
        ),
        rx.hstack(
            rx.button("Newer", on_click=on_page(page - 1), disabled=page <= 0, size="1"),
            rx.text(f"Page {page + 1}", size="1"),
            rx.button("Older", on_click=on_page(page + 1), disabled=~has_next, size="1"),
            align="center",
            spacing="2",
        ),
    )
