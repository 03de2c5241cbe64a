"""Sharing's states (issue 13): the Share dialog of the open conversation and what the
reader may do with it (:class:`ShareState`), and the read-only link page ``/s/<token>``
(:class:`LinkState`).

Thin, as every state: each event authorises on the server first (state/access.py): the
dialog's changes need the conversation's owner (``Need(manage=True)``), whatever the page
showed; the link page asks :func:`state.access.authorize_link`. Use-cases live in
:mod:`app.services.sharing`.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.errors import NotSignedIn, ParleyError
from app.services import get_chat_service, get_sharing_service
from app.services.authz import login_redirect
from app.services.sharing import SharePanel, ShareView
from app.services.views import MessageView
from state.access import Need, authorize_link
from state.conversation import OpenConversationState
from state.sidebar import SidebarState

LINK_PAGE_MESSAGES = 200  # the newest messages of the branch a link page shows


class ShareState(OpenConversationState):
    # What the reader may do with the open conversation (the page hides what they may not;
    # each event checks again). A new chat is the reader's own.
    can_send: rx.Field[bool] = rx.field(True)
    can_manage: rx.Field[bool] = rx.field(True)
    shared_role: rx.Field[str] = rx.field("")  # "viewer"/"participant" through a share
    is_shared: rx.Field[bool] = rx.field(False)  # has shares or a live link: the badge
    # The Share dialog.
    share_open: rx.Field[bool] = rx.field(False)
    shares: rx.Field[list[ShareView]] = rx.field(default_factory=list)
    link_token: rx.Field[str] = rx.field("")
    link_url: rx.Field[str] = rx.field("")  # the link's full address, for Copy
    share_error: rx.Field[str] = rx.field("")

    def _show_panel(self, panel: SharePanel) -> None:
        self.shares = panel.shares
        self.link_token = panel.link_token
        origin = self.router.url.origin if panel.link_token else ""
        self.link_url = f"{origin}/s/{panel.link_token}" if panel.link_token else ""
        self.is_shared = bool(panel.shares or panel.link_token)
        self.share_error = ""

    @rx.event
    async def load_access(self) -> None:
        """on_load of the chat page (after the chat's): what the reader may do here."""
        self.share_open = False
        principal = await self._allow()
        if principal is None or not self.current_id:
            self.can_send = self.can_manage = principal is not None
            self.shared_role, self.is_shared = "", False
            return
        if await self._allow(Need(conversation=self.current_id)) is None:
            self.can_send = self.can_manage = False
            return
        access = await get_sharing_service().access(principal, self.current_id)
        self.can_send, self.can_manage = access.can_send, access.can_manage
        self.shared_role = access.shared_role
        panel = await get_sharing_service().panel(self.current_id)
        self.is_shared = bool(panel.shares or panel.link_token)

    async def _manage(self) -> bool:
        """May the caller manage the open conversation's shares? (Else the notice says why.)"""
        if not self.current_id:
            self.share_error = "Send a first message: a new chat cannot be shared yet."
            return False
        allowed = await self._allow(Need(conversation=self.current_id, manage=True)) is not None
        if not allowed:
            self.share_error = self.notice
        return allowed

    @rx.event
    async def open_share(self) -> None:
        if not await self._manage():
            return
        self._show_panel(await get_sharing_service().panel(self.current_id))
        self.share_open = True

    @rx.event
    async def set_share_open(self, value: bool) -> None:
        """The dialog's open state changed (Esc, Close, the trigger)."""
        if value:
            await self.open_share()
        elif await self._allow() is not None:
            self.share_open = False

    async def _change(self, change: Any) -> None:
        try:
            self._show_panel(await change)
        except ParleyError as exc:
            self.share_error = exc.message
            return
        # The sidebar's "Shared" badge follows (one way: the sidebar never imports this).
        sidebar = await self.get_state(SidebarState)
        await sidebar._refresh()

    @rx.event
    async def add_share(self, form_data: dict[str, Any]) -> None:
        """The dialog's form: an email and a role."""
        principal = await self._allow()
        if principal is None or not await self._manage():
            return
        email, role = str(form_data.get("email", "")), str(form_data.get("role", "viewer"))
        service = get_sharing_service()
        await self._change(
            service.share_with(self.current_id, email=email, role=role, by=principal)
        )

    @rx.event
    async def share_with_project(self, role: str) -> None:
        principal = await self._allow()
        if principal is None or not await self._manage():
            return
        service = get_sharing_service()
        await self._change(service.share_with_project(self.current_id, role=role, by=principal))

    @rx.event
    async def change_share_role(self, share_id: int, role: str) -> None:
        if not await self._manage():
            return
        await self._change(get_sharing_service().set_role(self.current_id, int(share_id), role))

    @rx.event
    async def remove_share(self, share_id: int) -> None:
        if not await self._manage():
            return
        await self._change(get_sharing_service().remove(self.current_id, int(share_id)))

    @rx.event
    async def create_link(self) -> None:
        principal = await self._allow()
        if principal is None or not await self._manage():
            return
        await self._change(get_sharing_service().create_link(self.current_id, by=principal))

    @rx.event
    async def revoke_link(self) -> None:
        if not await self._manage():
            return
        await self._change(get_sharing_service().revoke_link(self.current_id))


class LinkState(rx.State):
    """The page of a read-only link: the conversation's branch as it is now."""

    title: rx.Field[str] = rx.field("")
    messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    more: rx.Field[bool] = rx.field(False)  # older messages not shown
    problem: rx.Field[str] = rx.field("")
    needs_login: rx.Field[bool] = rx.field(False)
    login_href: rx.Field[str] = rx.field("/login")  # back to this link after signing in

    @rx.event
    async def load(self) -> None:
        """on_load of ``/s/<token>``."""
        token = str(self.router.page.params.get("token", ""))
        self.title, self.messages, self.more = "", [], False
        self.needs_login = False
        try:
            conversation_id = await authorize_link(self, token)
            chat = get_chat_service()
            conversation = await chat.get_conversation(conversation_id)
            page = await chat.history(conversation_id, limit=LINK_PAGE_MESSAGES)
        except ParleyError as exc:
            self.problem = exc.message
            self.needs_login = isinstance(exc, NotSignedIn)
            self.login_href = login_redirect(None, f"/s/{token}") or "/login"
            return
        self.problem = ""
        self.title = conversation.title
        self.messages = page.messages
        self.more = page.has_more
