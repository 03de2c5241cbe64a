"""Keyword-only CRUD for accounts, sessions, projects, memberships and invitations, and the
ownership facts authorisation reads (which project and user a conversation, message, prompt
or attachment belongs to). Each function takes a session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.db.crud.sharing import Shares, shares_for
from app.db.models import (
    Attachment,
    AuthSession,
    CallLog,
    Conversation,
    FirstAdmin,
    Invitation,
    Membership,
    Message,
    Project,
    Prompt,
    Role,
    User,
)

# ----- users ---------------------------------------------------------------------------------


def count_users(*, session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def first_admin_claimed(*, session: Session) -> bool:
    return session.get(FirstAdmin, 1) is not None


def claim_first_admin(*, session: Session, user_id: str) -> None:
    """Insert the first admin's claim (one row, id 1) and flush: of two transactions that
    try, the second's insert fails with an ``IntegrityError`` (on PostgreSQL it waits for the
    first to commit; on SQLite the write lock serialises them)."""
    session.add(FirstAdmin(id=1, user_id=user_id))
    session.flush()


def create_user(
    *,
    session: Session,
    email: str,
    display_name: str,
    password_hash: str | None,
    is_admin: bool = False,
    oidc_issuer: str | None = None,
    oidc_subject: str | None = None,
) -> User:
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        is_admin=is_admin,
        oidc_issuer=oidc_issuer,
        oidc_subject=oidc_subject,
    )
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(col(User.email) == email)).first()


def get_user_by_oidc(*, session: Session, issuer: str, subject: str) -> User | None:
    query = select(User).where(col(User.oidc_issuer) == issuer, col(User.oidc_subject) == subject)
    return session.exec(query).first()


def set_password_hash(*, session: Session, user_id: str, password_hash: str) -> None:
    session.execute(update(User).where(col(User.id) == user_id).values(password_hash=password_hash))


def link_oidc(*, session: Session, user_id: str, issuer: str, subject: str) -> None:
    session.execute(
        update(User).where(col(User.id) == user_id).values(oidc_issuer=issuer, oidc_subject=subject)
    )


def list_users(*, session: Session) -> Sequence[User]:
    return session.exec(select(User).order_by(col(User.created_at), col(User.id))).all()


def set_admin(*, session: Session, user_id: str, is_admin: bool) -> None:
    session.execute(update(User).where(col(User.id) == user_id).values(is_admin=is_admin))


def set_disabled(*, session: Session, user_id: str, disabled_at: datetime | None) -> None:
    session.execute(update(User).where(col(User.id) == user_id).values(disabled_at=disabled_at))


# ----- sessions ------------------------------------------------------------------------------


def create_auth_session(
    *, session: Session, user_id: str, token_hash: str, expires_at: datetime
) -> AuthSession:
    row = AuthSession(user_id=user_id, token_hash=token_hash, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def get_live_session(
    *, session: Session, token_hash: str, now: datetime
) -> tuple[AuthSession, User] | None:
    """The session with this token hash and its user, if it is unrevoked, unexpired and its
    user is not disabled; else None."""
    query = (
        select(AuthSession, User)
        .join(User, col(User.id) == col(AuthSession.user_id))
        .where(
            col(AuthSession.token_hash) == token_hash,
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > now,
            col(User.disabled_at).is_(None),
        )
    )
    row = session.exec(query).first()
    return None if row is None else (row[0], row[1])


def revoke_session(*, session: Session, token_hash: str, now: datetime) -> bool:
    """Revoke one session by its token hash; True if a live one was revoked."""
    result = session.execute(
        update(AuthSession)
        .where(col(AuthSession.token_hash) == token_hash, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_user_sessions(
    *, session: Session, user_id: str, now: datetime, keep_id: str | None = None
) -> int:
    """Revoke every live session of a user (but ``keep_id``); returns how many."""
    query = update(AuthSession).where(
        col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None)
    )
    if keep_id is not None:
        query = query.where(col(AuthSession.id) != keep_id)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0))


def delete_dead_sessions(*, session: Session, before: datetime) -> int:
    """Forget sessions that expired or were revoked before ``before``."""
    rows = session.exec(
        select(AuthSession).where(
            (col(AuthSession.expires_at) < before) | (col(AuthSession.revoked_at) < before)
        )
    ).all()
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


# ----- projects and memberships --------------------------------------------------------------


def create_project(*, session: Session, name: str) -> Project:
    project = Project(name=name)
    session.add(project)
    session.flush()
    return project


def get_project(*, session: Session, project_id: str) -> Project | None:
    return session.get(Project, project_id)


def list_projects(*, session: Session) -> Sequence[tuple[Project, int]]:
    """Every project with its number of members, by name (the admin page)."""
    members = (
        select(Membership.project_id, func.count().label("n"))
        .group_by(col(Membership.project_id))
        .subquery()
    )
    query = (
        select(Project, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.project_id == col(Project.id))
        .order_by(func.lower(Project.name), col(Project.id))
    )
    return [(p, int(n)) for p, n in session.exec(query).all()]


def set_project_moderation(*, session: Session, project_id: str, mode: str | None) -> None:
    session.execute(
        update(Project).where(col(Project.id) == project_id).values(moderation_mode=mode)
    )


def count_admins(*, session: Session, enabled_only: bool = True) -> int:
    query = select(func.count()).select_from(User).where(col(User.is_admin).is_(True))
    if enabled_only:
        query = query.where(col(User.disabled_at).is_(None))
    return session.exec(query).one()


def set_membership(*, session: Session, project_id: str, user_id: str, role: Role) -> Membership:
    """Add a member, or change an existing member's role."""
    row = session.get(Membership, (project_id, user_id))
    if row is None:
        row = Membership(project_id=project_id, user_id=user_id, role=role)
        session.add(row)
    else:
        row.role = role
    session.flush()
    return row


def remove_membership(*, session: Session, project_id: str, user_id: str) -> bool:
    row = session.get(Membership, (project_id, user_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_memberships(*, session: Session, user_id: str) -> Sequence[tuple[Membership, Project]]:
    """A user's memberships with their projects, by project name."""
    query = (
        select(Membership, Project)
        .join(Project, col(Project.id) == col(Membership.project_id))
        .where(col(Membership.user_id) == user_id)
        .order_by(func.lower(Project.name), col(Project.id))
    )
    return [(m, p) for m, p in session.exec(query).all()]


def list_members(*, session: Session, project_id: str) -> Sequence[tuple[Membership, User]]:
    query = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.project_id) == project_id)
        .order_by(col(User.email))
    )
    return [(m, u) for m, u in session.exec(query).all()]


def count_owners(*, session: Session, project_id: str) -> int:
    query = select(func.count()).where(
        col(Membership.project_id) == project_id, col(Membership.role) == Role.owner
    )
    return session.exec(query).one()


def ownerless_projects(*, session: Session) -> Sequence[Project]:
    """Projects with no members at all (migration 0006 makes one for data from before
    accounts)."""
    members = select(Membership.project_id)
    return session.exec(select(Project).where(col(Project.id).not_in(members))).all()


def adopt_unowned(*, session: Session, user_id: str, project_id: str) -> None:
    """Give ``user_id`` every conversation, prompt and attachment that has no owner, and put
    rows without a project into ``project_id`` (call-log rows included)."""
    for table in (Conversation, Prompt, Attachment):
        session.execute(update(table).where(col(table.user_id).is_(None)).values(user_id=user_id))
        session.execute(
            update(table).where(col(table.project_id).is_(None)).values(project_id=project_id)
        )
    session.execute(update(CallLog).where(col(CallLog.user_id).is_(None)).values(user_id=user_id))
    session.execute(
        update(CallLog).where(col(CallLog.project_id).is_(None)).values(project_id=project_id)
    )


# ----- invitations ---------------------------------------------------------------------------


def create_invitation(
    *, session: Session, code_hash: str, created_by: str | None, expires_at: datetime
) -> Invitation:
    row = Invitation(code_hash=code_hash, created_by=created_by, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def use_invitation(*, session: Session, code_hash: str, user_id: str, now: datetime) -> bool:
    """Mark an unused, unexpired invitation used by ``user_id`` (one statement, so two sign-ups
    cannot share a code); False if there is no such invitation."""
    result = session.execute(
        update(Invitation)
        .where(
            col(Invitation.code_hash) == code_hash,
            col(Invitation.used_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .values(used_at=now, used_by=user_id)
    )
    return bool(getattr(result, "rowcount", 0))


# ----- ownership facts, for authorisation ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Owned:
    """Which project a row belongs to and who made it. For an attachment, ``attached`` says
    whether it was sent with a message (else it is still waiting in its uploader's composer)."""

    project_id: str | None
    user_id: str | None
    attached: bool = True
    # What the conversation's shares give the reader asked about (issue 13); empty when
    # no reader was named, or for a file still in a composer.
    shares: Shares = field(default_factory=Shares)


def _shares(session: Session, conversation_id: str, reader: str | None) -> Shares:
    if reader is None:
        return Shares()
    return shares_for(session=session, conversation_id=conversation_id, user_id=reader)


def conversation_owner(
    *, session: Session, conversation_id: str, reader: str | None = None
) -> Owned | None:
    """The conversation's owner facts, with what its shares give ``reader`` (a user id)."""
    row = session.exec(
        select(Conversation.project_id, Conversation.user_id).where(
            col(Conversation.id) == conversation_id
        )
    ).first()
    if row is None:
        return None
    return Owned(row[0], row[1], shares=_shares(session, conversation_id, reader))


def message_owner(*, session: Session, message_id: int, reader: str | None = None) -> Owned | None:
    """The owner facts of a message's conversation (with what its shares give ``reader``)."""
    row = session.exec(
        select(Conversation.project_id, Conversation.user_id, Conversation.id)
        .join(Message, col(Message.conversation_id) == col(Conversation.id))
        .where(col(Message.id) == message_id)
    ).first()
    if row is None:
        return None
    return Owned(row[0], row[1], shares=_shares(session, row[2], reader))


def prompt_owner(*, session: Session, prompt_id: int) -> Owned | None:
    row = session.exec(
        select(Prompt.project_id, Prompt.user_id).where(col(Prompt.id) == prompt_id)
    ).first()
    return None if row is None else Owned(row[0], row[1])


def attachment_owner(
    *, session: Session, attachment_id: str, reader: str | None = None
) -> Owned | None:
    """A sent attachment belongs to its conversation's project (readers of the conversation,
    shared ones included, may read it); one still in the composer belongs to its uploader
    in its own project."""
    row = session.exec(
        select(Attachment, Conversation.project_id)
        .outerjoin(Conversation, col(Conversation.id) == col(Attachment.conversation_id))
        .where(col(Attachment.id) == attachment_id)
    ).first()
    if row is None:
        return None
    attachment, conversation_project = row
    project_id, user_id = attachment.project_id, attachment.user_id
    message_id, conversation_id = attachment.message_id, attachment.conversation_id
    if message_id is None or conversation_id is None:
        return Owned(project_id, user_id, attached=False)
    return Owned(conversation_project, user_id, shares=_shares(session, conversation_id, reader))
