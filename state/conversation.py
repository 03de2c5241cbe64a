"""Which conversation the chat page shows: the one thing its sidebar and chat both need.

:class:`OpenConversationState` holds the open conversation's id and title and the page's
notice (a readable problem with the last action, shown above the composer). The chat
(state/chat.py) and the sidebar (state/sidebar.py) are its substates, so each reads and sets
these vars as its own (Reflex binds an inherited field to the parent's instance:
``reflex_base/vars/base.py``, ``Field.__get__``/``__set__`` through ``_owner_state``), and
neither imports the other to do so. Loading a sidebar event loads this small state, not the
chat's messages.
"""

from __future__ import annotations

import reflex as rx

from app.errors import ParleyError
from app.services.authz import Principal
from state.access import SIGNED_IN, Need, authorize


def conversation_path(conversation_id: str) -> str:
    return f"/c/{conversation_id}"


def id_from_path(path: str) -> str | None:
    """``/`` -> "" (a new chat), ``/c/<id>`` -> the id, any other path -> None (no page):
    the one chat route (app/app.py) matches every path of up to two segments."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return ""
    return parts[1] if len(parts) == 2 and parts[0] == "c" else None


class OpenConversationState(rx.State):
    current_id: rx.Field[str] = rx.field("")  # "" for a new chat
    current_title: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")  # a readable problem with the last action

    async def _allow(self, need: Need = SIGNED_IN) -> Principal | None:
        """The principal if they may do what ``need`` says (state/access.py); else None,
        with the reason in the page's notice. Every public event of the chat page's states
        calls this before acting."""
        try:
            return await authorize(self, need)
        except ParleyError as exc:
            self.notice = exc.message
            return None
