"""OpenID Connect sign-in against a real provider (oidc-provider-mock, a Flask app on a
loopback thread): discovery, the authorization redirect, the code exchange with PKCE, and the
ID token's signature, issuer, audience and nonce, all through Parley's HTTP routes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.services.accounts import SESSION_COOKIE, AccountService
from app.services.oidc import OidcClient
from app.web.auth_routes import OIDC_COOKIE, auth_app
from tests.unit.test_accounts import PASSWORD, service

SITE = "http://testserver"

# The provider (a test dependency, on its own thread) calls a deprecated Authlib hook while
# issuing tokens; warnings are errors, and the filter list is process-wide.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:get_jwt_config\(self, grant\) is deprecated:DeprecationWarning"
)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The provider's issuer URL. Its package still imports authlib.jose, deprecated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from oidc_provider_mock import User, run_server_in_thread
    users = [
        User(
            sub="alice",
            claims={"email": "alice@example.com", "email_verified": True, "name": "Alice"},
        ),
        User(sub="mallory", claims={"email": "ada@example.com", "email_verified": False}),
    ]
    with run_server_in_thread(require_nonce=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def accounts(engine: Engine) -> AccountService:
    return service(engine)


@pytest.fixture
def client(provider: str, accounts: AccountService) -> Iterator[TestClient]:
    oidc = OidcClient(issuer=provider, client_id="parley", client_secret="s3cret", timeout=10)
    app = auth_app(lambda: accounts, oidc=lambda: oidc)
    with TestClient(app, base_url=SITE, follow_redirects=False) as c:
        yield c


def sign_in_at_provider(client: TestClient, sub: str, *, next_path: str = "/") -> Any:
    """Start at Parley, pick the user at the provider, come back; the callback's response."""
    start = client.get("/_parley/auth/oidc/start", params={"next": next_path})
    assert start.status_code == 303, start.text
    assert OIDC_COOKIE in client.cookies
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]
    picked = httpx.post(authorize, data={"sub": sub}, follow_redirects=False, timeout=10)
    assert picked.status_code in (302, 303), picked.text
    back = urlsplit(picked.headers["location"])
    assert back.path == "/_parley/auth/oidc/callback"
    return client.get(f"{back.path}?{back.query}")


async def test_a_new_user_signs_up_and_comes_back_as_the_same_account(
    client: TestClient, accounts: AccountService
) -> None:
    response = sign_in_at_provider(client, "alice", next_path="/c/abc")
    assert response.status_code == 303 and response.headers["location"] == "/c/abc"
    first = await accounts.resolve(client.cookies[SESSION_COOKIE])
    assert first is not None and first.email == "alice@example.com"
    assert first.display_name == "Alice" and first.is_admin  # the first account
    client.cookies.clear()
    sign_in_at_provider(client, "alice")
    again = await accounts.resolve(client.cookies[SESSION_COOKIE])
    assert again is not None and again.user_id == first.user_id


async def test_a_verified_email_links_to_the_password_account(
    client: TestClient, accounts: AccountService
) -> None:
    ada = await accounts.sign_up("alice@example.com", PASSWORD)
    sign_in_at_provider(client, "alice")
    linked = await accounts.resolve(client.cookies[SESSION_COOKIE])
    assert linked is not None and linked.user_id == ada.user_id


async def test_an_unverified_email_never_takes_over_an_account(
    client: TestClient, accounts: AccountService
) -> None:
    await accounts.sign_up("ada@example.com", PASSWORD)
    response = sign_in_at_provider(client, "mallory")
    assert response.headers["location"] == "/login?error=unverified"
    assert SESSION_COOKIE not in client.cookies


def test_a_callback_with_another_state_is_refused(client: TestClient) -> None:
    start = client.get("/_parley/auth/oidc/start")
    picked = httpx.post(start.headers["location"], data={"sub": "alice"}, timeout=10)
    code = parse_qs(urlsplit(picked.headers["location"]).query)["code"][0]
    forged = client.get("/_parley/auth/oidc/callback", params={"code": code, "state": "forged"})
    assert forged.headers["location"] == "/login?error=oidc"
    assert SESSION_COOKIE not in client.cookies


def test_a_callback_without_the_browser_cookie_is_refused(client: TestClient) -> None:
    """Login CSRF: an attacker's own code, sent to a victim's browser, signs nobody in."""
    start = client.get("/_parley/auth/oidc/start")
    picked = httpx.post(start.headers["location"], data={"sub": "alice"}, timeout=10)
    client.cookies.clear()
    back = urlsplit(picked.headers["location"])
    response = client.get(f"{back.path}?{back.query}")
    assert response.headers["location"] == "/login?error=oidc"
    assert SESSION_COOKIE not in client.cookies


def test_an_id_token_for_another_audience_signs_nobody_in(
    provider: str, accounts: AccountService
) -> None:
    oidc = OidcClient(issuer=provider, client_id="parley", client_secret="s3cret")
    app = auth_app(lambda: accounts, oidc=lambda: oidc)
    with TestClient(app, base_url=SITE, follow_redirects=False) as client:
        start = client.get("/_parley/auth/oidc/start")
        picked = httpx.post(start.headers["location"], data={"sub": "alice"}, timeout=10)
        back = urlsplit(picked.headers["location"])
        oidc.client_id = "someone-else"  # a code issued to "parley", redeemed as another
        response = client.get(f"{back.path}?{back.query}")
    assert response.headers["location"] == "/login?error=oidc"
