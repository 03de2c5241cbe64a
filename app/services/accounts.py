"""Accounts: sign up, log in, log out, change password, sign in with OpenID Connect, and the
session behind the cookie.

- Passwords are hashed with Argon2 (pwdlib); an unknown email still costs one hash, so the
  answer's timing does not say which emails have accounts.
- A session is a random token in an HttpOnly cookie (set by the HTTP routes in
  ``app/web/auth_routes.py``); the database keeps only its SHA-256, an expiry and a revoked
  time. Logging out revokes it; changing the password revokes every session of the account
  and starts a new one.
- The first account on a fresh install is an admin, and adopts the data from before
  accounts (migration 0006's "Default" project and every row without an owner). Its
  sign-up claims the one ``first_admin`` row in the same transaction, so of two
  simultaneous first sign-ups only one commits as admin; the other runs again as an
  ordinary sign-up. Everyone
  after gets a project of their own, as its owner. Sign-up after the first is ``open``,
  ``invite`` (a code an admin made) or ``closed``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from pwdlib import PasswordHash
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import crud
from app.db.models import Role, User, utcnow
from app.db.session import get_engine, run_in_session
from app.errors import Forbidden, InvalidInput, NotSignedIn, SignInFailed
from app.guards.login import limited_message
from app.services.authz import Authz, Principal, default_project
from app.services.credentials import (
    AUTH_ERRORS,
    MAX_PASSWORD,
    SESSION_COOKIE,
    check_password,
    clean_display_name,
    default_hasher,
    error_code,
    normalise_email,
    token_from_cookie_header,
    token_hash,
)

T = TypeVar("T")
SignupMode = Literal["open", "invite", "closed"]

__all__ = [  # the credential rules, re-exported: callers import accounts only
    "AUTH_ERRORS",
    "SESSION_COOKIE",
    "AccountService",
    "SignedIn",
    "error_code",
    "limited_message",
    "token_from_cookie_header",
]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token goes into the cookie and nowhere else."""

    token: str
    expires_at: datetime
    user_id: str
    is_admin: bool


class AccountService:
    def __init__(
        self,
        engine: Engine,
        *,
        signup_mode: SignupMode = "open",
        session_lifetime: timedelta = timedelta(days=14),
        invitation_lifetime: timedelta = timedelta(days=7),
        hasher: PasswordHash | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.signup_mode: SignupMode = signup_mode
        self.session_lifetime = session_lifetime
        self.invitation_lifetime = invitation_lifetime
        self.hasher = hasher or default_hasher()
        self.clock = clock
        self.authz = Authz(engine)
        self._dummy_hash: str | None = None

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    async def _db_once_more(self, fn: Callable[[Session], T]) -> T:
        """Run a sign-up's transaction; if it lost a race (another transaction committed
        the same email, or the first admin's claim, meanwhile), run it once more: it then
        sees the winner's rows and answers as the rules say ("taken", or an ordinary
        account)."""
        try:
            return await self._db(fn)
        except IntegrityError:
            return await self._db(fn)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(matches, new hash if the stored one should be upgraded). A missing hash is
        checked against a dummy, so both paths cost one Argon2 verification."""
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
            await asyncio.to_thread(self.hasher.verify, password, self._dummy_hash)
            return False, None
        return await asyncio.to_thread(self.hasher.verify_and_update, password, stored)

    def _new_session(self, session: Session, user: User) -> SignedIn:
        token = secrets.token_urlsafe(32)
        expires_at = self.clock() + self.session_lifetime
        crud.create_auth_session(
            session=session, user_id=user.id, token_hash=token_hash(token), expires_at=expires_at
        )
        return SignedIn(token, expires_at, user.id, user.is_admin)

    def _create_account(
        self,
        session: Session,
        *,
        email: str,
        display_name: str,
        password_hash: str | None,
        invite_code: str | None,
        oidc: tuple[str, str] | None = None,
    ) -> SignedIn:
        """Inside one transaction: the sign-up rules, the user, their project(s), a session."""
        if crud.get_user_by_email(session=session, email=email) is not None:
            raise InvalidInput(AUTH_ERRORS["taken"])
        first = crud.count_users(session=session) == 0 and not crud.first_admin_claimed(
            session=session
        )
        if not first and self.signup_mode == "closed":
            raise Forbidden(AUTH_ERRORS["closed"])
        user = crud.create_user(
            session=session,
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            is_admin=first,
            oidc_issuer=oidc[0] if oidc else None,
            oidc_subject=oidc[1] if oidc else None,
        )
        if first:  # another first sign-up that committed meanwhile makes this one fail here
            crud.claim_first_admin(session=session, user_id=user.id)
        if not first and self.signup_mode == "invite":
            code = (invite_code or "").strip()
            if not code or not crud.use_invitation(
                session=session, code_hash=token_hash(code), user_id=user.id, now=self.clock()
            ):
                raise Forbidden(AUTH_ERRORS["invite"])
        projects = list(crud.ownerless_projects(session=session)) if first else []
        if not projects:
            projects = [crud.create_project(session=session, name=f"{display_name}'s")]
        for project in projects:
            crud.set_membership(
                session=session, project_id=project.id, user_id=user.id, role=Role.owner
            )
        if first:
            crud.adopt_unowned(session=session, user_id=user.id, project_id=projects[0].id)
        return self._new_session(session, user)

    async def sign_up(
        self,
        email: str,
        password: str,
        display_name: str = "",
        invite_code: str | None = None,
    ) -> SignedIn:
        address = normalise_email(email)
        check_password(password, address)
        name = clean_display_name(display_name, address)
        hashed = await self._hash(password)
        return await self._db_once_more(
            lambda s: self._create_account(
                s, email=address, display_name=name, password_hash=hashed, invite_code=invite_code
            )
        )

    async def log_in(self, email: str, password: str) -> SignedIn:
        try:
            address = normalise_email(email)
        except InvalidInput:
            address = ""
        user = None
        if address and len(password) <= MAX_PASSWORD:
            user = await self._db(lambda s: crud.get_user_by_email(session=s, email=address))
        ok, new_hash = await self._verify(
            password[:MAX_PASSWORD], user.password_hash if user else None
        )
        if user is None or not ok or user.disabled_at is not None:
            raise SignInFailed()

        def start(session: Session) -> SignedIn:
            if new_hash is not None:  # the hasher's parameters changed: upgrade the hash
                crud.set_password_hash(session=session, user_id=user.id, password_hash=new_hash)
            return self._new_session(session, user)

        return await self._db(start)

    async def log_out(self, token: str | None) -> bool:
        """End the session with this token; False if there was no live one."""
        if not token:
            return False
        now = self.clock()
        return await self._db(
            lambda s: crud.revoke_session(session=s, token_hash=token_hash(token), now=now)
        )

    async def resolve(self, token: str | None) -> Principal | None:
        """The principal a session token stands for, or None (unknown, expired, revoked,
        or a disabled account)."""
        if not token:
            return None
        hashed, now = token_hash(token), self.clock()

        def load(session: Session) -> Principal | None:
            found = crud.get_live_session(session=session, token_hash=hashed, now=now)
            if found is None:
                return None
            auth_session, user = found
            memberships = crud.list_memberships(session=session, user_id=user.id)
            return Principal(
                user_id=user.id,
                email=user.email,
                display_name=user.display_name,
                is_admin=user.is_admin,
                session_id=auth_session.id,
                roles={m.project_id: Role(m.role) for m, _ in memberships},
                default_project=default_project(
                    [(m.project_id, Role(m.role), m.created_at) for m, _ in memberships]
                ),
            )

        return await self._db(load)

    async def principal_from_cookie(self, cookie_header: str | None) -> Principal | None:
        return await self.resolve(token_from_cookie_header(cookie_header))

    async def change_password(self, token: str | None, current: str, new: str) -> SignedIn:
        """Check the current password, store the new one, end every session of the account
        (other browsers are signed out) and start a new one for this browser."""
        principal = await self.resolve(token)
        if principal is None:
            raise NotSignedIn()
        check_password(new, principal.email)
        user = await self._db(lambda s: crud.get_user(session=s, user_id=principal.user_id))
        ok, _ = await self._verify(current[:MAX_PASSWORD], user.password_hash if user else None)
        if user is None or not ok:
            raise InvalidInput(AUTH_ERRORS["current"])
        hashed = await self._hash(new)
        now = self.clock()

        def store(session: Session) -> SignedIn:
            crud.set_password_hash(session=session, user_id=user.id, password_hash=hashed)
            crud.revoke_user_sessions(session=session, user_id=user.id, now=now)
            return self._new_session(session, user)

        return await self._db(store)

    async def oidc_sign_in(
        self, *, issuer: str, subject: str, email: str, email_verified: bool, name: str = ""
    ) -> SignedIn:
        """Sign in (or up) the user an OpenID provider vouched for. A known (issuer, subject)
        signs in; else an account with the same *verified* email is linked; else a new
        account is made under the sign-up rules (invite mode refuses: there is no code)."""
        address = normalise_email(email)

        def run(session: Session) -> SignedIn:
            user = crud.get_user_by_oidc(session=session, issuer=issuer, subject=subject)
            if user is None and email_verified:
                user = crud.get_user_by_email(session=session, email=address)
                if user is not None:
                    crud.link_oidc(session=session, user_id=user.id, issuer=issuer, subject=subject)
            if user is not None:
                if user.disabled_at is not None:
                    raise SignInFailed(AUTH_ERRORS["disabled"])
                return self._new_session(session, user)
            if not email_verified:
                raise SignInFailed(AUTH_ERRORS["unverified"])
            return self._create_account(
                session,
                email=address,
                display_name=clean_display_name(name, address),
                password_hash=None,
                invite_code=None,
                oidc=(issuer, subject),
            )

        return await self._db_once_more(run)

    # ----- admin --------------------------------------------------------------------------

    async def create_invitation(self, principal: Principal | None) -> str:
        """A new single-use sign-up code (admins only); only its hash is stored."""
        admin = Authz.require_admin(principal)
        code = secrets.token_urlsafe(12)
        expires_at = self.clock() + self.invitation_lifetime
        await self._db(
            lambda s: crud.create_invitation(
                session=s,
                code_hash=token_hash(code),
                created_by=admin.user_id,
                expires_at=expires_at,
            )
        )
        return code

    async def set_role(
        self, principal: Principal | None, *, project_id: str, user_id: str, role: Role | None
    ) -> None:
        """Add a member, change their role, or (``role=None``) remove them. Owners of the
        project and admins may; a project always keeps one owner."""
        if principal is None:
            raise NotSignedIn()
        if not (principal.is_admin or principal.role_in(project_id) == Role.owner):
            raise Forbidden("Only the project's owners or an admin can manage its members.")

        def run(session: Session) -> None:
            if crud.get_project(session=session, project_id=project_id) is None:
                raise InvalidInput("That project does not exist.")
            if crud.get_user(session=session, user_id=user_id) is None:
                raise InvalidInput("That user does not exist.")
            if role is None:
                crud.remove_membership(session=session, project_id=project_id, user_id=user_id)
            else:
                crud.set_membership(
                    session=session, project_id=project_id, user_id=user_id, role=role
                )
            if crud.count_owners(session=session, project_id=project_id) == 0:
                raise InvalidInput("A project needs an owner. Make someone else owner first.")

        await self._db(run)

    async def set_disabled(self, principal: Principal | None, user_id: str, disabled: bool) -> None:
        """Disable (or enable) an account; disabling ends all its sessions. Admins only, and
        not their own account."""
        admin = Authz.require_admin(principal)
        if user_id == admin.user_id:
            raise InvalidInput("You cannot disable your own account.")
        now = self.clock()

        def run(session: Session) -> None:
            crud.set_disabled(
                session=session, user_id=user_id, disabled_at=now if disabled else None
            )
            if disabled:
                crud.revoke_user_sessions(session=session, user_id=user_id, now=now)

        await self._db(run)


# ----- the process's account service ---------------------------------------------------------

_service: AccountService | None = None


def configure_accounts(service: AccountService | None) -> None:
    """Install the account service (the composition root and tests); None resets it."""
    global _service
    _service = service


def get_account_service() -> AccountService:
    """The configured service; built from settings on first use if none was set."""
    global _service
    if _service is None:
        from app.settings import get_settings

        settings = get_settings()
        _service = AccountService(
            get_engine(settings.resolved_database_url),
            signup_mode=settings.signup_mode,
            session_lifetime=timedelta(hours=settings.session_hours),
            invitation_lifetime=timedelta(hours=settings.invitation_hours),
        )
    return _service


async def principal_from_cookie(cookie_header: str | None) -> Principal | None:
    """The one call a state event makes: ``await principal_from_cookie(self.router.headers
    .cookie)``. None means nobody is signed in."""
    return await get_account_service().principal_from_cookie(cookie_header)
