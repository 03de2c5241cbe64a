"""Accounts and sessions on SQLite and PostgreSQL: sign-up rules, the first admin adopting
the data from before accounts, login, logout, expiry, revocation, password changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.db import crud
from app.db.models import AuthSession, Conversation, Project, Role, User
from app.errors import Forbidden, InvalidInput, NotSignedIn, SignInFailed
from app.services.accounts import (
    AUTH_ERRORS,
    AccountService,
    SignupMode,
    error_code,
    token_from_cookie_header,
)

# Real Argon2id, with parameters cheap enough for a shared 2-core machine.
FAST = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def service(
    engine: Engine, mode: SignupMode = "open", clock: Clock | None = None
) -> AccountService:
    return AccountService(
        engine,
        signup_mode=mode,
        session_lifetime=timedelta(hours=1),
        hasher=FAST,
        clock=clock or Clock(),
    )


async def test_first_account_is_admin_and_adopts_data_from_before_accounts(engine: Engine) -> None:
    with Session(engine) as session:  # a conversation from before accounts
        session.add(Conversation(id="c" * 32, title="old"))
        session.commit()
    accounts = service(engine)
    first = await accounts.sign_up("Ada@Example.com", PASSWORD, "Ada")
    second = await accounts.sign_up("bob@example.com", PASSWORD)
    assert first.is_admin and not second.is_admin

    ada = await accounts.resolve(first.token)
    bob = await accounts.resolve(second.token)
    assert ada is not None and bob is not None
    assert ada.email == "ada@example.com" and bob.display_name == "bob"
    with Session(engine) as session:
        old = session.get(Conversation, "c" * 32)
        default = session.exec(select(Project).where(Project.name == "Default")).one()
    assert old is not None and old.user_id == ada.user_id and old.project_id == default.id
    assert ada.roles == {default.id: Role.owner}  # migration 0006's project is the admin's
    assert len(bob.roles) == 1 and default.id not in bob.roles  # Bob has a project of his own
    assert set(bob.roles.values()) == {Role.owner}
    await accounts.authz.require_conversation(ada, "c" * 32, write=True)
    with pytest.raises(Exception, match="does not exist"):
        await accounts.authz.require_conversation(bob, "c" * 32)


async def test_passwords_and_tokens_are_stored_hashed(engine: Engine) -> None:
    signed_in = await service(engine).sign_up("ada@example.com", PASSWORD)
    with Session(engine) as session:
        user = session.exec(select(User)).one()
        row = session.exec(select(AuthSession)).one()
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert row.token_hash != signed_in.token and len(row.token_hash) == 64
    with engine.connect() as connection:  # the token is nowhere in the database
        dumped = connection.execute(text("SELECT token_hash FROM auth_session")).all()
    assert all(signed_in.token not in value for (value,) in dumped)


async def test_login_logout_and_wrong_passwords(engine: Engine) -> None:
    accounts = service(engine)
    await accounts.sign_up("ada@example.com", PASSWORD)
    signed_in = await accounts.log_in(" ADA@example.com ", PASSWORD)
    assert await accounts.resolve(signed_in.token) is not None
    for email, password in [("ada@example.com", "wrong password"), ("eve@example.com", PASSWORD)]:
        with pytest.raises(SignInFailed) as caught:
            await accounts.log_in(email, password)
        assert error_code(caught.value) == "signin"  # the same answer for both
    assert await accounts.log_out(signed_in.token)
    assert await accounts.resolve(signed_in.token) is None
    assert not await accounts.log_out(signed_in.token)  # already ended


async def test_sessions_expire(engine: Engine) -> None:
    clock = Clock()
    accounts = service(engine, clock=clock)
    signed_in = await accounts.sign_up("ada@example.com", PASSWORD)
    clock.now += timedelta(minutes=59)
    assert await accounts.resolve(signed_in.token) is not None
    clock.now += timedelta(minutes=2)
    assert await accounts.resolve(signed_in.token) is None


async def test_changing_the_password_ends_every_other_session(engine: Engine) -> None:
    accounts = service(engine)
    here = await accounts.sign_up("ada@example.com", PASSWORD)
    elsewhere = await accounts.log_in("ada@example.com", PASSWORD)
    with pytest.raises(InvalidInput, match="current password"):
        await accounts.change_password(here.token, "not it at all", "a new password")
    with pytest.raises(InvalidInput, match="at least"):
        await accounts.change_password(here.token, PASSWORD, "short")
    with pytest.raises(NotSignedIn):
        await accounts.change_password(None, PASSWORD, "a new password")
    renewed = await accounts.change_password(here.token, PASSWORD, "a new password")
    assert await accounts.resolve(elsewhere.token) is None
    assert await accounts.resolve(here.token) is None
    assert await accounts.resolve(renewed.token) is not None
    with pytest.raises(SignInFailed):
        await accounts.log_in("ada@example.com", PASSWORD)
    await accounts.log_in("ada@example.com", "a new password")


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("not an email", PASSWORD, "email"),
        ("ada@example.com", "short", "short"),
        ("ada@example.com", "x" * 1025, "long"),
        ("ada@example.com", "Ada@Example.com", "same"),
    ],
)
async def test_bad_sign_ups_say_why(engine: Engine, email: str, password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service(engine).sign_up(email, password)
    assert error_code(caught.value) == code
    assert caught.value.message == AUTH_ERRORS[code]


async def test_an_email_signs_up_once(engine: Engine) -> None:
    accounts = service(engine)
    await accounts.sign_up("ada@example.com", PASSWORD)
    with pytest.raises(InvalidInput) as caught:
        await accounts.sign_up("ADA@example.com", PASSWORD)
    assert error_code(caught.value) == "taken"


async def test_closed_sign_up_still_lets_the_first_admin_in(engine: Engine) -> None:
    accounts = service(engine, "closed")
    admin = await accounts.sign_up("ada@example.com", PASSWORD)
    assert admin.is_admin
    with pytest.raises(Forbidden) as caught:
        await accounts.sign_up("bob@example.com", PASSWORD)
    assert error_code(caught.value) == "closed"
    with Session(engine) as session:
        assert crud.count_users(session=session) == 1  # nothing half-made


async def test_invite_mode_takes_each_code_once_before_it_expires(engine: Engine) -> None:
    clock = Clock()
    accounts = service(engine, "invite", clock)
    admin_session = await accounts.sign_up("ada@example.com", PASSWORD)
    admin = await accounts.resolve(admin_session.token)
    with pytest.raises(Forbidden, match="invitation"):
        await accounts.sign_up("bob@example.com", PASSWORD)
    with pytest.raises(NotSignedIn):
        await accounts.create_invitation(None)
    code = await accounts.create_invitation(admin)
    bob = await accounts.sign_up("bob@example.com", PASSWORD, invite_code=code)
    with pytest.raises(Forbidden):
        await accounts.create_invitation(await accounts.resolve(bob.token))
    with pytest.raises(Forbidden, match="invitation"):
        await accounts.sign_up("cy@example.com", PASSWORD, invite_code=code)  # used
    late = await accounts.create_invitation(admin)
    clock.now += accounts.invitation_lifetime + timedelta(seconds=1)
    with pytest.raises(Forbidden, match="invitation"):
        await accounts.sign_up("cy@example.com", PASSWORD, invite_code=late)  # expired


async def test_disabling_an_account_ends_its_sessions(engine: Engine) -> None:
    accounts = service(engine)
    admin = await accounts.resolve((await accounts.sign_up("ada@example.com", PASSWORD)).token)
    bob_session = await accounts.sign_up("bob@example.com", PASSWORD)
    bob = await accounts.resolve(bob_session.token)
    assert admin is not None and bob is not None
    with pytest.raises(Forbidden):
        await accounts.set_disabled(bob, admin.user_id, True)
    with pytest.raises(InvalidInput):
        await accounts.set_disabled(admin, admin.user_id, True)
    await accounts.set_disabled(admin, bob.user_id, True)
    assert await accounts.resolve(bob_session.token) is None
    with pytest.raises(SignInFailed):
        await accounts.log_in("bob@example.com", PASSWORD)
    await accounts.set_disabled(admin, bob.user_id, False)
    await accounts.log_in("bob@example.com", PASSWORD)


async def test_project_roles_are_managed_by_owners_and_keep_an_owner(engine: Engine) -> None:
    accounts = service(engine)
    ada = await accounts.resolve((await accounts.sign_up("ada@example.com", PASSWORD)).token)
    bob = await accounts.resolve((await accounts.sign_up("bob@example.com", PASSWORD)).token)
    cy = await accounts.resolve((await accounts.sign_up("cy@example.com", PASSWORD)).token)
    assert ada is not None and bob is not None and cy is not None
    (bobs_project,) = bob.roles
    with pytest.raises(Forbidden):  # Cy is no owner there (and not an admin)
        await accounts.set_role(cy, project_id=bobs_project, user_id=cy.user_id, role=Role.owner)
    await accounts.set_role(bob, project_id=bobs_project, user_id=cy.user_id, role=Role.viewer)
    with pytest.raises(InvalidInput, match="needs an owner"):
        await accounts.set_role(bob, project_id=bobs_project, user_id=bob.user_id, role=None)
    await accounts.set_role(ada, project_id=bobs_project, user_id=cy.user_id, role=None)  # admin
    cy_now = await accounts.resolve((await accounts.log_in("cy@example.com", PASSWORD)).token)
    assert cy_now is not None and bobs_project not in cy_now.roles


def test_the_cookie_header_yields_only_a_well_formed_token() -> None:
    token = "A" * 43
    assert token_from_cookie_header(f"theme=dark; parley_session={token}; x=1") == token
    assert token_from_cookie_header("parley_session=short") is None
    assert token_from_cookie_header('bad"cookie; parley_session=' + token) == token
    assert token_from_cookie_header(None) is None
    assert token_from_cookie_header("parley_sessionx=" + token) is None


async def test_old_hash_parameters_are_upgraded_at_login(engine: Engine) -> None:
    strong = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=16384, parallelism=1),))
    await AccountService(engine, hasher=FAST).sign_up("ada@example.com", PASSWORD)
    await AccountService(engine, hasher=strong).log_in("ada@example.com", PASSWORD)
    with Session(engine) as session:
        user = session.exec(select(User)).one()
    assert user.password_hash is not None and "m=16384" in user.password_hash
    assert "m=19456,t=2,p=1" in AccountService(engine).hasher.hash("x")
