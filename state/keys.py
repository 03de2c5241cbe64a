"""The /keys page's state: create an API key (shown once), list keys with their last use,
revoke; admins see and revoke every key.

Thin: every event resolves the principal from the session cookie of its websocket handshake
(``self.router.headers``, never sent to the browser) and calls
:class:`app.services.api_keys.ApiKeyService`, which checks what the principal may do. No id
held in this state is trusted: a revoke names a key the service checks again.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time

import reflex as rx

from app.errors import NotSignedIn, ParleyError
from app.services.accounts import get_account_service
from app.services.api_keys import ApiKeyService, ApiKeyView, get_api_key_service
from app.services.authz import WRITERS, Principal
from state.access import authorize


def _keys() -> ApiKeyService:
    """On the accounts' database (the one the principal came from)."""
    return get_api_key_service(get_account_service().engine)


def writable_project(principal: Principal) -> str | None:
    """Where new things of this user go until the default project lands with the authz work:
    an owned project first, else one they may write to (by id, so the choice is stable)."""
    for wanted in (WRITERS[:1], WRITERS):  # owner first, then member
        for project_id in sorted(principal.roles):
            if principal.roles[project_id] in wanted:
                return project_id
    return None


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _row(key: ApiKeyView, principal: Principal) -> dict[str, str]:
    status = "revoked" if key.revoked_at else "live"
    if key.expires_at is not None and key.expires_at <= datetime.now(UTC) and not key.revoked_at:
        status = "expired"
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix + "…",
        "owner": "you" if key.user_id == principal.user_id else key.user_id,
        "models": ", ".join(key.models) or "all models",
        "created": _when(key.created_at),
        "expires": _when(key.expires_at) or "never",
        "last_used": _when(key.last_used_at) or "never",
        "status": status,
    }


class KeysState(rx.State):
    rows: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    is_admin: rx.Field[bool] = rx.field(False)
    new_token: rx.Field[str] = rx.field("")  # the key just made: shown once, then cleared
    error: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")

    async def _principal(self) -> Principal:
        """The caller (:func:`state.access.authorize`); raises :class:`NotSignedIn` for nobody."""
        return await authorize(self)

    async def _refresh(self, principal: Principal) -> None:
        keys = await _keys().list_keys(principal, everyone=principal.is_admin)
        self.rows = [_row(k, principal) for k in keys]
        self.is_admin = principal.is_admin

    @rx.event
    async def load(self) -> rx.event.EventSpec | None:
        """on_load: nobody goes to the login page and comes back."""
        self.new_token = self.error = self.notice = ""
        try:
            principal = await self._principal()
        except NotSignedIn:
            self.rows = []
            return rx.redirect("/login?next=/keys")
        await self._refresh(principal)
        return None

    @rx.event
    async def create(self, form: dict[str, str]) -> None:
        """The create form: name, optional expiry date (end of that day, UTC), optional
        comma-separated model ids."""
        self.error = self.notice = self.new_token = ""
        try:
            principal = await self._principal()
            project = writable_project(principal)
            if project is None:
                raise NotSignedIn("You can view projects but not spend in any: ask an owner.")
            expires = None
            if form.get("expires", "").strip():
                try:
                    day = datetime.strptime(form["expires"].strip(), "%Y-%m-%d").date()
                except ValueError:
                    self.error = "Give the expiry as a date (YYYY-MM-DD)."
                    return
                expires = datetime.combine(day, time.max, UTC)
            models = tuple(form.get("models", "").replace(" ", ",").split(","))
            made = await _keys().create(
                principal,
                project_id=project,
                name=form.get("name", ""),
                expires_at=expires,
                models=models,
            )
            self.new_token = made.token
            self.notice = f"Key “{made.view.name}” created. Copy it now: it is not shown again."
            await self._refresh(principal)
        except ParleyError as exc:
            self.error = exc.message

    @rx.event
    async def revoke(self, key_id: str) -> None:
        self.error = self.notice = ""
        try:
            principal = await self._principal()
            await _keys().revoke(principal, str(key_id))
            self.notice = "Key revoked."
            await self._refresh(principal)
        except ParleyError as exc:
            self.error = exc.message

    @rx.event
    async def dismiss_token(self) -> None:
        with contextlib.suppress(ParleyError):
            await self._principal()
        self.new_token = ""
