"""Race-free "the first account is admin": simultaneous first sign-ups on a fresh install,
against real SQLite and PostgreSQL, make exactly one admin, and every one of them still gets
an account. (Sign-up order and the rules after the first: tests/unit/test_accounts.py.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, select

from app.db.models import FirstAdmin, User
from app.db.session import get_engine
from app.errors import InvalidInput
from tests.unit.test_accounts import PASSWORD, service
from tests.unit.test_migration_0006 import empty_url, rows, to

__all__ = ["empty_url"]  # a fixture

SIGN_UPS = 6


class CountGate:
    """Holds every sign-up's first "how many users are there?" until all ``parties`` have
    asked, so each of them has read "none" before any of them writes: the race, every
    time, not by luck of the scheduler. Later counts (a retry's) pass at once."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.lock = threading.Lock()
        self.open = threading.Event()
        self.reads_of_zero = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sql = " ".join(statement.lower().replace('"', "").split())
        if "count(" not in sql or "from user" not in sql:
            return
        if self.open.is_set():
            return
        with self.lock:
            self.arrived += 1
            if self.arrived >= self.parties:
                self.open.set()
        assert self.open.wait(timeout=30), "the sign-ups never all reached the count"


@pytest.fixture
def gate(engine: Engine) -> Iterator[CountGate]:
    gate = CountGate(SIGN_UPS)
    event.listen(engine, "after_cursor_execute", gate)
    yield gate
    event.remove(engine, "after_cursor_execute", gate)


async def test_simultaneous_first_sign_ups_make_exactly_one_admin(
    engine: Engine, gate: CountGate
) -> None:
    accounts = service(engine)
    results = await asyncio.gather(
        *(accounts.sign_up(f"first{i}@example.com", PASSWORD) for i in range(SIGN_UPS))
    )
    assert gate.open.is_set()  # every one of them had counted no users before writing
    assert sum(r.is_admin for r in results) == 1
    with Session(engine) as session:
        users = session.exec(select(User)).all()
        admins = [u for u in users if u.is_admin]
        claim = session.get(FirstAdmin, 1)
    assert len(users) == SIGN_UPS and len(admins) == 1
    assert claim is not None and claim.user_id == admins[0].id
    (winner,) = [r for r in results if r.is_admin]
    assert winner.user_id == admins[0].id
    # The losers are ordinary accounts that work: each signs in, as no admin.
    for result in results:
        principal = await accounts.resolve(result.token)
        assert principal is not None and principal.is_admin == result.is_admin


async def test_the_same_email_twice_at_once_gives_one_account_and_a_clear_error(
    engine: Engine, gate: CountGate
) -> None:
    accounts = service(engine)
    gate.parties = 2
    outcomes = await asyncio.gather(
        accounts.sign_up("twin@example.com", PASSWORD),
        accounts.sign_up("twin@example.com", PASSWORD),
        return_exceptions=True,
    )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], InvalidInput), outcomes
    assert "already exists" in errors[0].message
    with Session(engine) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_migration_0014_gives_an_install_with_accounts_its_claim(empty_url: str) -> None:
    """An install that had accounts before 0014 has had its first sign-up: the claim goes to
    its earliest admin, so no later sign-up is "first"; downgrade and upgrade again work."""
    to(empty_url, "0012")
    engine = get_engine(empty_url)
    with engine.begin() as c:
        for uid, email, admin, day in (
            ("u" * 32, "early@example.com", False, 1),
            ("a" * 32, "admin@example.com", True, 2),
        ):
            c.execute(
                text(
                    'INSERT INTO "user" (id, email, display_name, is_admin, created_at) '
                    "VALUES (:id, :email, '', :admin, :at)"
                ),
                {"id": uid, "email": email, "admin": admin, "at": f"2026-11-0{day} 10:00:00"},
            )
    to(empty_url, "head")
    assert rows(engine, "SELECT id, user_id FROM first_admin") == [(1, "a" * 32)]
    to(empty_url, "0012", down=True)
    to(empty_url, "head")
    assert rows(engine, "SELECT id, user_id FROM first_admin") == [(1, "a" * 32)]


def test_migration_0014_on_a_fresh_install_leaves_the_claim_to_sign_up(empty_url: str) -> None:
    to(empty_url, "head")
    assert rows(get_engine(empty_url), "SELECT id FROM first_admin") == []
