"""OpenID Connect sign-in (authorization code flow with PKCE and a nonce), with Authlib's
httpx client for the redirect and the token exchange, and joserfc (Authlib's JOSE library)
to check the ID token: its signature against the provider's published keys, its issuer,
audience, expiry and nonce.

HTTP goes through httpx2, the client Authlib's integration is built on.

The flow, as the HTTP routes in ``app/web/auth_routes.py`` drive it:

1. :meth:`OidcClient.begin` gives the provider's authorization URL and a :class:`Pending`
   (state, nonce, PKCE verifier) that the route keeps in a short-lived HttpOnly cookie.
2. The provider sends the browser back with ``code`` and ``state``; :meth:`OidcClient.finish`
   checks the state, exchanges the code and checks the ID token, giving the
   :class:`Identity` that :meth:`AccountService.oidc_sign_in` signs in.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, cast

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.errors import SignInFailed
from app.services.credentials import AUTH_ERRORS

FAILED = AUTH_ERRORS["oidc"]
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True, slots=True)
class Pending:
    """What the browser carries between :meth:`OidcClient.begin` and the callback."""

    state: str
    nonce: str
    verifier: str
    next: str = "/"

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode()

    @classmethod
    def decode(cls, value: str | None) -> Pending | None:
        if not value or len(value) > 2000:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(value.encode()))
            return cls(
                str(data["state"]),
                str(data["nonce"]),
                str(data["verifier"]),
                str(data.get("next", "/")),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class Identity:
    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str = "openid email profile",
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(self.timeout)) as http:
            response = await http.get(url)
            response.raise_for_status()
            data = response.json()
        if not isinstance(data, dict):
            raise SignInFailed(FAILED)
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once), checked to be its own."""
        if self._metadata is None:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInFailed(FAILED)
            self._metadata = data
        return self._metadata

    async def begin(self, redirect_uri: str, next_path: str = "/") -> tuple[str, Pending]:
        meta = await self.metadata()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=next_path,
        )
        client = self._client(redirect_uri)
        try:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        finally:
            await cast(httpx2.AsyncClient, client).aclose()
        return url, pending

    async def finish(
        self, pending: Pending | None, *, state: str | None, code: str | None, redirect_uri: str
    ) -> Identity:
        """Check the callback against ``pending`` and return who signed in; any failure
        raises :class:`SignInFailed` (details go nowhere near the browser)."""
        if pending is None or not state or not code:
            raise SignInFailed(FAILED)
        if not secrets.compare_digest(state, pending.state):
            raise SignInFailed(FAILED)
        meta = await self.metadata()
        try:
            client = self._client(redirect_uri)
            try:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=pending.verifier
                )
            finally:
                await cast(httpx2.AsyncClient, client).aclose()
            keys = KeySet.import_key_set(cast(Any, await self._get_json(meta["jwks_uri"])))
            decoded = jwt.decode(str(token["id_token"]), keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=int(time.time()),
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": pending.nonce},
            ).validate(decoded.claims)
        except (httpx2.HTTPError, JoseError, KeyError, ValueError) as exc:
            raise SignInFailed(FAILED) from exc
        claims = decoded.claims
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise SignInFailed(AUTH_ERRORS["no-email"])
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=email,
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or claims.get("preferred_username") or ""),
        )
