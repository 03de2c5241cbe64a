"""Failed sign-ins limited per client IP and per account name: the limiter on real ``limits``
storages (memory and Redis), and the login route through a real ASGI client (the refusal's
``Retry-After``, the page it sends the browser to, no password checked while refused)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits.aio.storage import Storage
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.errors import LimitExceeded
from app.guards.login import LoginLimiter, account_key
from app.services.accounts import SESSION_COOKIE, AccountService
from app.web.auth_routes import auth_app
from tests.unit.test_accounts import PASSWORD, service
from tests.unit.test_guards_ratelimit import storage

__all__ = ["storage"]  # a fixture: memory and Redis

SITE = "http://testserver"


async def test_failures_fill_the_account_window_from_any_ip(storage: Storage) -> None:
    limiter = LoginLimiter(per_ip="", per_account="3/minute", storage=storage)
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # one guesser per address
        await limiter.check(ip, "Ada@Example.com ")
        await limiter.failed(ip, "ada@example.com")
    with pytest.raises(LimitExceeded) as refused:
        await limiter.check("10.0.0.4", "ADA@example.com")
    assert 1 <= (refused.value.retry_after or 0) <= 60
    assert refused.value.limit == "failed sign-ins: 3 per 1 minute per account"
    assert "wait" in refused.value.message and "then try again" in refused.value.message
    await limiter.check("10.0.0.4", "bob@example.com")  # another account is not held up


async def test_failures_fill_the_ip_window_across_accounts(storage: Storage) -> None:
    limiter = LoginLimiter(per_ip="2/minute", per_account="", storage=storage)
    await limiter.failed("10.0.0.9", "a@example.com")
    await limiter.failed("10.0.0.9", "b@example.com")
    with pytest.raises(LimitExceeded, match="Too many failed sign-in attempts"):
        await limiter.check("10.0.0.9", "c@example.com")
    await limiter.check("10.0.0.10", "c@example.com")  # another address is not


async def test_checking_counts_nothing_and_empty_rules_limit_nothing(storage: Storage) -> None:
    limiter = LoginLimiter(per_ip="1/minute", per_account="1/minute", storage=storage)
    for _ in range(5):
        await limiter.check("10.0.0.1", "a@example.com")
    unlimited = LoginLimiter(storage=storage)
    for _ in range(5):
        await unlimited.failed("10.0.0.1", "a@example.com")
        await unlimited.check("10.0.0.1", "a@example.com")


def test_the_account_name_is_never_stored_in_the_clear() -> None:
    key = account_key("  Ada@Example.com")
    assert key == account_key("ada@example.com") and "ada" not in key and len(key) == 32


# ----- the login route ------------------------------------------------------------------------


class CountingAccounts(AccountService):
    """The real account service, counting the password checks it makes."""

    checks = 0

    async def _verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        self.checks += 1
        return await super()._verify(password, stored)


@pytest.fixture
def accounts(engine: Engine) -> AccountService:
    real = service(engine)
    return CountingAccounts(engine, hasher=real.hasher, session_lifetime=real.session_lifetime)


@pytest.fixture
def client(accounts: AccountService) -> Iterator[TestClient]:
    limiter = LoginLimiter(per_ip="10/minute", per_account="2/minute")
    web = Starlette(routes=auth_app(lambda: accounts, login_limiter=lambda: limiter).routes)
    with TestClient(web, base_url=SITE, follow_redirects=False) as c:
        yield c


def log_in(client: TestClient, email: str, password: str, **extra: str):
    form = {"email": email, "password": password, **extra}
    return client.post("/_parley/auth/login", data=form, headers={"Origin": SITE})


async def test_the_route_refuses_with_retry_after_and_checks_no_password(
    client: TestClient, accounts: CountingAccounts
) -> None:
    await accounts.sign_up("ada@example.com", PASSWORD)
    assert log_in(client, "ada@example.com", PASSWORD).status_code == 303  # a success counts 0
    for _ in range(2):
        wrong = log_in(client, "ada@example.com", "not the password")
        assert wrong.headers["location"] == f"{SITE}/login?error=signin"
    checks = accounts.checks
    refused = log_in(client, "ada@example.com", PASSWORD, next="/c/abc")
    assert refused.status_code == 303
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.headers["location"] == (
        f"{SITE}/login?error=limited&retry={wait}&next=%2Fc%2Fabc"
    )
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert accounts.checks == checks  # the right password, unchecked: the guess learns nothing
    # Another account from the same address still signs in.
    await accounts.sign_up("bob@example.com", PASSWORD)
    bob = log_in(client, "bob@example.com", PASSWORD)
    assert SESSION_COOKIE in bob.headers["set-cookie"]


def test_the_route_limits_nothing_without_a_limiter(engine: Engine) -> None:
    web = Starlette(routes=auth_app(lambda: service(engine)).routes)
    with TestClient(web, base_url=SITE, follow_redirects=False) as c:
        for _ in range(8):
            answer = log_in(c, "nobody@example.com", "wrong password")
            assert answer.headers["location"] == f"{SITE}/login?error=signin"
