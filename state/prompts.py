"""The prompt library page's state: the list, the editor, a prompt's version history."""

from __future__ import annotations

import reflex as rx

from app.errors import ParleyError
from app.services import get_prompt_service
from app.services.authz import Principal, owner_of
from app.services.prompts import PromptVersionView, PromptView
from state.access import SIGNED_IN, Need, authorize

NEW = 0  # editing_id for a prompt not yet saved
NONE = -1


class PromptsState(rx.State):
    prompts: rx.Field[list[PromptView]] = rx.field(default_factory=list)
    show_archived: rx.Field[bool] = rx.field(False)
    editing_id: rx.Field[int] = rx.field(NONE)
    name: rx.Field[str] = rx.field("")
    body: rx.Field[str] = rx.field("")
    error: rx.Field[str] = rx.field("")
    status: rx.Field[str] = rx.field("")  # what the last save did, for a polite announcement
    history_id: rx.Field[int] = rx.field(NONE)
    history_name: rx.Field[str] = rx.field("")
    history: rx.Field[list[PromptVersionView]] = rx.field(default_factory=list)

    @rx.var
    def editing(self) -> bool:
        return self.editing_id != NONE

    async def _allow(self, need: Need = SIGNED_IN) -> Principal | None:
        """The principal if they may do what ``need`` says (state/access.py); else None,
        with the reason in ``error``. Every public event calls this before acting."""
        try:
            return await authorize(self, need)
        except ParleyError as exc:
            self.error = exc.message
            return None

    async def _reload(self, principal: Principal) -> None:
        self.prompts = await get_prompt_service().list(
            include_archived=self.show_archived, scope=principal.scope
        )

    @rx.event
    async def load(self) -> None:
        """on_load (after ``AuthState.require_login``): the library the user may read."""
        self.error = ""
        principal = await self._allow()
        if principal is None:
            self.prompts = []
            return
        await self._reload(principal)

    @rx.event
    async def set_show_archived(self, value: bool) -> None:
        principal = await self._allow()
        if principal is None:
            return
        self.show_archived = value
        await self._reload(principal)

    @rx.event
    async def start_new(self) -> None:
        if await self._allow(Need(create=True)) is not None:
            self.editing_id, self.name, self.body, self.error = NEW, "", "", ""

    @rx.event
    async def start_edit(self, prompt_id: int) -> None:
        if await self._allow(Need(prompt=prompt_id)) is None:
            return
        prompt = next((p for p in self.prompts if p.id == prompt_id), None)
        if prompt is None:
            return
        self.editing_id, self.name, self.body, self.error = prompt.id, prompt.name, prompt.body, ""

    @rx.event
    async def cancel_edit(self) -> None:
        if await self._allow() is not None:
            self.editing_id, self.error = NONE, ""

    @rx.event
    async def set_name(self, value: str) -> None:
        if await self._allow() is not None:
            self.name = value

    @rx.event
    async def set_body(self, value: str) -> None:
        if await self._allow() is not None:
            self.body = value

    @rx.event
    async def save(self) -> None:
        creating = self.editing_id == NEW
        principal = await self._allow(Need(create=creating))
        if principal is None:
            return
        service = get_prompt_service()
        try:
            if creating:
                saved = await service.create(self.name, self.body, owner=owner_of(principal))
                self.status = f"Created {saved.name} v{saved.version}."
            else:
                await authorize(self, Need(prompt=self.editing_id, write=True))
                before = next((p.version for p in self.prompts if p.id == self.editing_id), 0)
                saved = await service.save(self.editing_id, self.name, self.body)
                changed = saved.version != before
                self.status = (
                    f"Saved {saved.name} v{saved.version}."
                    if changed
                    else f"Saved {saved.name}; the text is unchanged, so still v{saved.version}."
                )
        except ParleyError as exc:
            self.error = exc.message
            return
        self.editing_id, self.error = NONE, ""
        await self._reload(principal)
        if self.history_id == saved.id:
            await self._load_history(saved.id, saved.name)

    @rx.event
    async def set_archived(self, prompt_id: int, archived: bool) -> None:
        principal = await self._allow()
        if principal is None:
            return
        try:
            await authorize(self, Need(prompt=prompt_id, write=True))
            saved = await get_prompt_service().set_archived(prompt_id, archived)
        except ParleyError as exc:
            self.error = exc.message
            return
        self.status = f"{'Archived' if archived else 'Restored'} {saved.name}."
        await self._reload(principal)

    async def _load_history(self, prompt_id: int, name: str) -> None:
        self.history = await get_prompt_service().history(prompt_id)
        self.history_id, self.history_name = prompt_id, name

    @rx.event
    async def show_history(self, prompt_id: int) -> None:
        if await self._allow(Need(prompt=prompt_id)) is None:
            return
        prompt = next((p for p in self.prompts if p.id == prompt_id), None)
        if prompt is not None:
            await self._load_history(prompt_id, prompt.name)

    @rx.event
    async def close_history(self) -> None:
        if await self._allow() is not None:
            self.history_id, self.history = NONE, []
