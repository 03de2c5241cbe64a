"""The account routes, under ``/_parley/auth/``: the only place the session cookie is set.

Forms on /login, /signup and /account post here (plain HTML forms, so they work without
scripts), and each answer is a 303 redirect back to a page, with ``?error=<code>`` on
failure (a code, never text from the request: a link cannot put words on the page).

CSRF: the cookie is SameSite=Lax, so other sites' POSTs carry no session; and every POST
must come from an allowed origin (``Origin``, else ``Referer``; neither means refused). That
also stops login CSRF (signing a victim into an attacker's account), which SameSite alone
does not.

- ``POST /_parley/auth/signup``   email, password, confirm, display_name, invite, next
- ``POST /_parley/auth/login``    email, password, next (failed attempts are limited per
  client IP and per account name, ``app/guards/login.py``: a refused attempt goes back with
  ``?error=limited&retry=<seconds>`` and a ``Retry-After`` header, its password unchecked)
- ``POST /_parley/auth/logout``
- ``POST /_parley/auth/password`` current, new, confirm
- ``GET  /_parley/auth/oidc/start?next=`` and ``/_parley/auth/oidc/callback`` (when set up)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.errors import LimitExceeded, ParleyError, SignInFailed
from app.guards.login import LoginLimiter
from app.services.accounts import (
    SESSION_COOKIE,
    AccountService,
    SignedIn,
    error_code,
    token_from_cookie_header,
)
from app.services.authz import safe_next
from app.services.oidc import OidcClient, Pending

log = logging.getLogger(__name__)

PREFIX = "/_parley/auth"
CALLBACK = f"{PREFIX}/oidc/callback"
OIDC_COOKIE = "parley_oidc"
MAX_FORM_BYTES = 16_384


def request_origin(request: Request) -> str:
    """This request's own origin, from its scheme and Host header."""
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def sender_origin(request: Request) -> str | None:
    """The origin a request came from: ``Origin``, else the origin part of ``Referer``."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin.rstrip("/")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None


def auth_app(
    accounts: Callable[[], AccountService],
    *,
    allowed_origins: Callable[[], Sequence[str]] = tuple,
    oidc: Callable[[], OidcClient | None] = lambda: None,
    secure_cookie: bool | None = None,
    login_limiter: Callable[[], LoginLimiter | None] = lambda: None,
) -> Starlette:
    """The routes. ``allowed_origins`` lists origins besides the request's own that may
    post (the dev frontend's, a proxy's); ``secure_cookie`` None means Secure over https;
    ``login_limiter`` limits failed sign-ins (None: no limit)."""

    def allowed(origin: str | None, request: Request) -> bool:
        return origin is not None and (
            origin == request_origin(request) or origin in allowed_origins()
        )

    def page_url(request: Request, path: str, **params: str) -> str:
        """A page to send the browser to: on the origin it posted from (the dev frontend
        is on another port than these routes), else this one."""
        origin = sender_origin(request)
        base = origin if allowed(origin, request) else ""
        query = f"?{urlencode(params)}" if params else ""
        return f"{base}{path}{query}"

    def is_secure(request: Request) -> bool:
        return request.url.scheme == "https" if secure_cookie is None else secure_cookie

    def set_session(response: Response, request: Request, signed_in: SignedIn) -> Response:
        max_age = int((signed_in.expires_at - _now(signed_in)).total_seconds())
        response.set_cookie(
            SESSION_COOKIE,
            signed_in.token,
            max_age=max(max_age, 0),
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_secure(request),
        )
        return response

    def clear_session(response: Response, request: Request) -> Response:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request)
        )
        return response

    async def form_of(request: Request) -> FormData | str:
        """The posted form, or the error code for one not from an allowed origin ("origin")
        or without a length under the limit ("large")."""
        if not allowed(sender_origin(request), request):
            log.warning("refused a cross-origin POST to %s", request.url.path)
            return "origin"
        length = request.headers.get("content-length")
        if length is None or not length.isdecimal() or int(length) > MAX_FORM_BYTES:
            return "large"
        return await request.form(max_files=0, max_fields=20)

    def back(request: Request, page: str, code: str, next_path: str | None = None) -> Response:
        params = {"error": code}
        if next_path and next_path != "/":
            params["next"] = next_path
        return RedirectResponse(page_url(request, page, **params), status_code=303)

    def refused(request: Request, page: str, code: str = "origin") -> Response:
        return RedirectResponse(page_url(request, page, error=code), status_code=303)

    async def signup(request: Request) -> Response:
        form = await form_of(request)
        if isinstance(form, str):
            return refused(request, "/signup", form)
        next_path = safe_next(_field(form, "next"))
        if _field(form, "password") != _field(form, "confirm"):
            return back(request, "/signup", "mismatch", next_path)
        try:
            signed_in = await accounts().sign_up(
                _field(form, "email"),
                _field(form, "password"),
                _field(form, "display_name"),
                _field(form, "invite") or None,
            )
        except ParleyError as exc:
            return back(request, "/signup", error_code(exc), next_path)
        response = RedirectResponse(page_url(request, next_path), status_code=303)
        return set_session(response, request, signed_in)

    def limited(request: Request, exc: LimitExceeded, next_path: str) -> Response:
        wait = str(max(1, round(exc.retry_after or 1)))
        params = {"error": "limited", "retry": wait}
        if next_path != "/":
            params["next"] = next_path
        response = RedirectResponse(page_url(request, "/login", **params), status_code=303)
        response.headers["Retry-After"] = wait
        return response

    async def login(request: Request) -> Response:
        form = await form_of(request)
        if isinstance(form, str):
            return refused(request, "/login", form)
        next_path = safe_next(_field(form, "next"))
        email, limiter = _field(form, "email"), login_limiter()
        ip = request.client.host if request.client else ""
        try:
            if limiter is not None:
                await limiter.check(ip, email)
            signed_in = await accounts().log_in(email, _field(form, "password"))
        except LimitExceeded as exc:
            log.warning("refused a sign-in attempt: %s", exc.limit)
            return limited(request, exc, next_path)
        except ParleyError as exc:
            if limiter is not None and isinstance(exc, SignInFailed):
                await limiter.failed(ip, email)
            return back(request, "/login", error_code(exc), next_path)
        response = RedirectResponse(page_url(request, next_path), status_code=303)
        return set_session(response, request, signed_in)

    async def logout(request: Request) -> Response:
        if not allowed(sender_origin(request), request):
            return refused(request, "/login")
        await accounts().log_out(token_from_cookie_header(request.headers.get("cookie")))
        response = RedirectResponse(page_url(request, "/login", done="logout"), status_code=303)
        return clear_session(response, request)

    async def password(request: Request) -> Response:
        form = await form_of(request)
        if isinstance(form, str):
            return refused(request, "/account", form)
        if _field(form, "new") != _field(form, "confirm"):
            return back(request, "/account", "mismatch")
        token = token_from_cookie_header(request.headers.get("cookie"))
        try:
            signed_in = await accounts().change_password(
                token, _field(form, "current"), _field(form, "new")
            )
        except ParleyError as exc:
            return back(request, "/account", error_code(exc))
        response = RedirectResponse(page_url(request, "/account", done="password"), 303)
        return set_session(response, request, signed_in)

    async def oidc_start(request: Request) -> Response:
        client = oidc()
        if client is None:
            return RedirectResponse(page_url(request, "/login", error="oidc"), 303)
        next_path = safe_next(request.query_params.get("next"))
        try:
            url, pending = await client.begin(request_origin(request) + CALLBACK, next_path)
        except Exception:
            log.exception("could not start OpenID Connect sign-in")
            return RedirectResponse(page_url(request, "/login", error="oidc"), 303)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            OIDC_COOKIE,
            pending.encode(),
            max_age=600,
            path=CALLBACK,
            httponly=True,
            samesite="lax",
            secure=is_secure(request),
        )
        return response

    async def oidc_callback(request: Request) -> Response:
        client = oidc()
        pending = Pending.decode(request.cookies.get(OIDC_COOKIE))
        try:
            if client is None:
                raise RuntimeError("OpenID Connect is not configured")
            identity = await client.finish(
                pending,
                state=request.query_params.get("state"),
                code=request.query_params.get("code"),
                redirect_uri=request_origin(request) + CALLBACK,
            )
            signed_in = await accounts().oidc_sign_in(
                issuer=identity.issuer,
                subject=identity.subject,
                email=identity.email,
                email_verified=identity.email_verified,
                name=identity.name,
            )
        except ParleyError as exc:
            response: Response = RedirectResponse(f"/login?error={error_code(exc)}", 303)
        except Exception:
            log.exception("OpenID Connect sign-in failed")
            response = RedirectResponse("/login?error=oidc", 303)
        else:
            next_path = pending.next if pending else "/"
            response = set_session(RedirectResponse(safe_next(next_path), 303), request, signed_in)
        response.delete_cookie(OIDC_COOKIE, path=CALLBACK)
        return response

    return Starlette(
        routes=[
            Route(f"{PREFIX}/signup", signup, methods=["POST"]),
            Route(f"{PREFIX}/login", login, methods=["POST"]),
            Route(f"{PREFIX}/logout", logout, methods=["POST"]),
            Route(f"{PREFIX}/password", password, methods=["POST"]),
            Route(f"{PREFIX}/oidc/start", oidc_start, methods=["GET"]),
            Route(CALLBACK, oidc_callback, methods=["GET"]),
        ]
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _now(signed_in: SignedIn) -> datetime:
    return datetime.now(signed_in.expires_at.tzinfo)
