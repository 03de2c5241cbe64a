"""Whose usage a viewer may read, from the signed-in principal (issue 11's access rule).

Admins see everything. Anyone else signed in sees their own calls and their projects' (any
role in the project); nobody signed in sees nothing (``None``: refuse). The dashboard's state
and the CSV export route both ask here, from the session cookie.
"""

from __future__ import annotations

from app.db.crud.usage import Scope
from app.services.authz import Principal


def scope_for(principal: Principal | None) -> Scope | None:
    if principal is None:
        return None
    if principal.is_admin:
        return Scope.everything()
    return Scope(user_id=principal.user_id, project_ids=frozenset(principal.roles))


async def scope_from_cookie(cookie_header: str | None) -> Scope | None:
    """The scope of the session in ``cookie_header`` (a request's or websocket's Cookie)."""
    from app.services.accounts import principal_from_cookie

    return scope_for(await principal_from_cookie(cookie_header))
