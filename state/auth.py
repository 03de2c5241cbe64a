"""The account pages' state (/login, /signup, /account), and the check a page's on_load
makes to send nobody to the login page.

Thin: who is signed in comes from the session cookie on the websocket handshake
(``self.router.headers.cookie``, never sent to the browser), resolved by
``app.services.accounts``; the forms post to the HTTP routes, which set the cookie.
"""

from __future__ import annotations

import reflex as rx

from app.services.accounts import AUTH_ERRORS, limited_message, principal_from_cookie
from app.services.authz import Principal, login_redirect, safe_next
from app.settings import get_settings

# The longest wait a refused sign-in's page states (seconds); a larger ?retry= is ignored.
MAX_RETRY_SHOWN = 86_400

# What a page says after a route sent it back with ?done=<code>.
NOTICES: dict[str, str] = {
    "logout": "You are logged out.",
    "password": "Password changed. Other browsers signed in to this account are signed out.",
}


class AuthState(rx.State):
    error: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")
    next_path: rx.Field[str] = rx.field("/")
    oidc_label: rx.Field[str] = rx.field("")  # empty: single sign-on is not set up
    email: rx.Field[str] = rx.field("")
    display_name: rx.Field[str] = rx.field("")

    async def _principal(self) -> Principal | None:
        return await principal_from_cookie(self.router.headers.cookie)

    def _read_params(self) -> None:
        params = self.router.page.params
        code, retry = str(params.get("error", "")), str(params.get("retry", ""))
        self.error = AUTH_ERRORS.get(code, "")
        plain = retry.isascii() and retry.isdecimal()
        if code == "limited" and plain and 0 < int(retry) <= MAX_RETRY_SHOWN:
            self.error = limited_message(int(retry))  # a number, never text from the link
        self.notice = NOTICES.get(str(params.get("done", "")), "")
        self.next_path = safe_next(str(params.get("next", "/")))
        settings = get_settings()
        enabled = bool(settings.oidc_issuer and settings.oidc_client_id)
        self.oidc_label = settings.oidc_label if enabled else ""

    @rx.event
    def load_form(self) -> None:
        """on_load of /login and /signup: the message a route sent back, where to go next."""
        self._read_params()

    @rx.event
    async def load_account(self) -> rx.event.EventSpec | None:
        """on_load of /account: signed-in users only."""
        self._read_params()
        principal = await self._principal()
        target = login_redirect(principal, "/account")
        if target is not None or principal is None:
            return rx.redirect(target or "/login")
        self.email, self.display_name = principal.email, principal.display_name
        return None

    @rx.event
    async def require_login(self) -> rx.event.EventSpec | None:
        """on_load for pages that need a signed-in user: nobody goes to /login, and comes
        back here after signing in."""
        target = login_redirect(await self._principal(), self.router.page.raw_path or "/")
        return None if target is None else rx.redirect(target)
