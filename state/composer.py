"""The composer's state: sending a message, the files waiting to go with it, and the
conversation's parameters and system prompt. A substate of the chat state, so it reads the
open conversation and model as its own vars.

The composer's text is not in state (issue 9). The box is an uncontrolled textarea: the
browser owns what is typed (assets/composer_draft.jsx keeps it across page changes and
reloads), and :meth:`ComposerState.send` reads it from the submitted form. Nothing the server
sends ever sets the box: a refused send leaves it alone, so its text stays; an accepted one
asks the browser to remove the text it sent, and only if the box still starts with it
(:func:`clear_sent`), so whatever was typed meanwhile stays too.

Uploads go through Reflex's ``/_upload`` route into :meth:`ComposerState.upload`; each file
is checked and stored by :mod:`app.services.attachments` at once, so a refused file shows its
error straight away and the text and the other files stay. For a new chat, parameters and
prompt wait here until its first message; for a saved one they are saved as they change.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.errors import ParleyError
from app.services import (
    get_attachment_service,
    get_chat_service,
    get_conversation_options,
    get_prompt_service,
)
from app.services.attachment_checks import refused_in_browser
from app.services.attachments import AttachmentView
from app.services.authz import owner_of
from app.services.extract_chat import parse_command
from app.services.options import Parameters, PostExtras
from app.services.prompts import PromptOption
from app.services.wiring import browser_upload_limits
from app.settings import get_settings
from state.access import SIGNED_IN, Need, authorize, payer_of
from state.agent import agent_stream
from state.chat import ChatState
from state.composer_box import clear_sent
from state.conversation import conversation_path
from state.extract import ExtractState

UPLOAD_ID = "composer-upload"
MESSAGE_FIELD = "message"  # the textarea's name in the composer's form


def message_text(form_data: dict[str, Any]) -> str:
    """The composer's text as the browser submitted it ("" if the form had none)."""
    value = form_data.get(MESSAGE_FIELD, "")
    return value if isinstance(value, str) else ""


def upload_limits() -> tuple[int, int]:
    """The largest file and the most files the browser uploads at once (the page's dropzone
    refuses the rest itself, so no upload meets the body cap's bare 413)."""
    return browser_upload_limits(get_settings())


def _text(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class ComposerState(ChatState):
    attachments: rx.Field[list[AttachmentView]] = rx.field(default_factory=list)
    upload_errors: rx.Field[list[str]] = rx.field(default_factory=list)
    # The Parameters dialog's fields, as typed; empty means the model's default.
    temperature: rx.Field[str] = rx.field("")
    max_tokens: rx.Field[str] = rx.field("")
    params_open: rx.Field[bool] = rx.field(False)
    params_error: rx.Field[str] = rx.field("")
    # Saved values (what the dialog shows on opening), for a new chat still pending.
    saved_temperature: rx.Field[str] = rx.field("")
    saved_max_tokens: rx.Field[str] = rx.field("")
    prompt_id: rx.Field[str] = rx.field("")  # "" for none
    prompt_options: rx.Field[list[PromptOption]] = rx.field(default_factory=list)

    @rx.var
    def params_summary(self) -> str:
        parts = []
        if self.saved_temperature:
            parts.append(f"temperature {self.saved_temperature}")
        if self.saved_max_tokens:
            parts.append(f"max {self.saved_max_tokens} tokens")
        return ", ".join(parts)

    # ----- attachments ------------------------------------------------------------------

    @rx.event
    async def upload(self, files: list[rx.UploadFile]) -> None:
        """A drop's accepted files (the page clears the drop's messages first; the files the
        browser refused are reported by :meth:`refuse_files`, so both add to the list)."""
        principal = await self._allow(Need(create=True))
        if principal is None:
            self.upload_errors = [self.notice]
            return
        if not files:  # every file of the drop was refused in the browser
            return
        service = get_attachment_service()
        result = await service.add_many(
            [(f.name, f.size, f.read) for f in files],
            pending=len(self.attachments),
            owner=owner_of(principal),
        )
        self.upload_errors = [*self.upload_errors, *result.errors]
        if result.added:
            self.attachments = [*self.attachments, *result.added]

    @rx.event
    async def remove_attachment(self, attachment_id: str) -> None:
        if await self._allow(Need(attachments=(attachment_id,))) is None:
            return
        try:
            await get_attachment_service().remove_pending(attachment_id)
        except ParleyError as exc:
            self.upload_errors = [exc.message]
        self.attachments = [a for a in self.attachments if a.id != attachment_id]

    @rx.event
    async def refuse_files(self, rejected: list[dict[str, Any]]) -> None:
        """Files the browser would not upload (each over the largest a file may be, or too
        many at once): say which, how large, and the limit. Nothing was sent, and the text
        and the files already attached stay."""
        if await self._allow() is None:
            return
        limits = get_attachment_service().limits
        largest = limits.largest_file(get_settings().upload_max_bytes)
        most = limits.max_files
        items = rejected if isinstance(rejected, list) else []
        refused = refused_in_browser(items, largest=largest, max_files=most)
        self.upload_errors = [*self.upload_errors, *refused]

    @rx.event
    async def dismiss_upload_errors(self) -> None:
        if await self._allow() is not None:
            self.upload_errors = []

    def _extras(self) -> PostExtras:
        """What :meth:`send` posts along with the text."""
        new_chat = not self.current_id
        parameters = None
        if new_chat and (self.saved_temperature or self.saved_max_tokens):
            parameters = Parameters(
                float(self.saved_temperature) if self.saved_temperature else None,
                int(self.saved_max_tokens) if self.saved_max_tokens else None,
            )
        return PostExtras(
            attachment_ids=tuple(a.id for a in self.attachments),
            parameters=parameters,
            prompt_id=int(self.prompt_id) if new_chat and self.prompt_id else None,
        )

    def _send_need(self, extras: PostExtras) -> Need:
        """What a send touches: the conversation on screen (or the default project, for a
        new one), the files waiting in the composer and a new chat's prompt."""
        return Need(
            conversation=self.current_id or None,
            uses_prompt=extras.prompt_id,
            attachments=extras.attachment_ids,
            write=True,
            create=not self.current_id,
        )

    def _sent(self) -> None:
        """The message went out with the pending files."""
        if self.attachments:
            self.attachments = []
        if self.upload_errors:
            self.upload_errors = []

    # ----- sending --------------------------------------------------------------------------

    @rx.event
    async def send(self, form_data: dict[str, Any]) -> rx.event.EventType[()] | None:
        """Post the composer's text (from the submitted form) with its files and options,
        and start streaming the reply. Refused (empty, a reply already streaming, a file the
        model cannot take...), it says why and the browser keeps the text as it is."""
        text = message_text(form_data)
        if self._busy():
            return None
        if self._new_chat_asked:  # New chat, before ``/``'s on_load: a new conversation
            self._close_conversation()
        extras = self._extras()
        principal = await self._allow(self._send_need(extras))
        if principal is None:
            return None
        command = parse_command(text)  # /sentiment, /contacts...: an extraction (issue 12)
        if command is not None:
            return ExtractState.send_command(text, command[0])
        try:
            payer = await payer_of(principal, conversation_id=self.current_id or None)
            posted = await get_chat_service().post_message(
                self.current_id or None,
                text,
                model=self.model or None,
                extras=extras,
                owner=None if self.current_id else owner_of(principal),
                payer=payer,  # a share's participant pays for their own sends
                # Reflex resolves it from X-Forwarded-For only through trusted_proxy_hops.
                client_ip=self.router.session.client_ip,
            )
        except ParleyError as exc:
            # A refusal (a limit, a budget, moderation) saved nothing; its message says
            # when to try again, or the budget's figures. The text and files stay.
            self.notice = exc.message
            return None
        self._sent()
        self.notice = ""
        self.current_id = posted.conversation.id
        self.current_title = posted.conversation.title
        self.recent = [*self.recent, posted.user]  # history stays where it is: not resent
        stream = self._begin_reply(posted.reply.id, posted.conversation.id).stream_reply
        agent = await agent_stream(self, posted.conversation.id)  # agent mode (issue 12)
        if agent is not None:
            stream = agent.stream_agent
        # The box empties before the page changes, so a new page starts from what is left.
        events: list[rx.event.IndividualEventType[()]] = [clear_sent(text)]
        if posted.created:
            # A new conversation joins the sidebar now; otherwise the reply's end refreshes it.
            await self._refresh_sidebar()
            events.append(rx.redirect(conversation_path(posted.conversation.id), replace=True))
        events.append(stream)
        # Budget warnings (a threshold crossed): a toast, the send went ahead.
        events.extend(rx.toast.warning(w, duration=10_000) for w in posted.warnings)
        return events

    # ----- parameters and prompt ----------------------------------------------------------

    @rx.event
    async def load_options(self) -> None:
        """on_load (after the chat's): the prompt list and this conversation's options."""
        principal = await self._allow()
        if principal is None:  # nobody: the page's notice says so
            self.prompt_options = []
            return
        self.prompt_options = await get_prompt_service().options(scope=principal.scope)
        self.params_error = ""
        if self.current_id and await self._allow(Need(conversation=self.current_id)) is None:
            return
        if not self.current_id:
            self.saved_temperature = self.saved_max_tokens = self.prompt_id = ""
            return
        try:
            options = await get_conversation_options().get(self.current_id)
        except ParleyError:
            return  # the chat page shows what is wrong with the conversation
        self.saved_temperature = _text(options.temperature)
        self.saved_max_tokens = _text(options.max_tokens)
        self.prompt_id = "" if options.prompt_id is None else str(options.prompt_id)
        if self.prompt_id and self.prompt_id not in {o.id for o in self.prompt_options}:
            # An archived prompt still in use: keep it selectable.
            try:
                await authorize(self, Need(uses_prompt=int(self.prompt_id)))
                prompt = await get_prompt_service().get(int(self.prompt_id))
                self.prompt_options = [
                    *self.prompt_options,
                    PromptOption(self.prompt_id, f"{prompt.name} (archived)"),
                ]
            except ParleyError:
                self.prompt_id = ""

    @rx.event
    async def set_params_open(self, value: bool) -> None:
        if await self._allow() is None:
            return
        self.params_open = value
        if value:
            self.temperature = self.saved_temperature
            self.max_tokens = self.saved_max_tokens
            self.params_error = ""

    @rx.event
    async def set_temperature(self, value: str) -> None:
        if await self._allow() is not None:
            self.temperature = value

    @rx.event
    async def set_max_tokens(self, value: str) -> None:
        if await self._allow() is not None:
            self.max_tokens = value

    @rx.event
    async def save_params(self) -> None:
        need = Need(conversation=self.current_id, manage=True) if self.current_id else SIGNED_IN
        if await self._allow(need) is None:
            return
        options = get_conversation_options()
        try:
            parameters = options.check_parameters(self.model, self.temperature, self.max_tokens)
            if self.current_id:
                await options.set_parameters(self.current_id, parameters)
        except ParleyError as exc:
            self.params_error = exc.message
            return
        self.saved_temperature = _text(parameters.temperature)
        self.saved_max_tokens = _text(parameters.max_tokens)
        self.params_error = ""
        self.params_open = False

    @rx.event
    async def reset_params(self) -> None:
        if await self._allow() is None:
            return
        self.temperature = self.max_tokens = ""
        await self.save_params()

    @rx.event
    async def set_prompt(self, value: str) -> None:
        try:
            prompt_id = int(value) if value else None
        except ValueError:
            self.notice = "Pick a prompt."
            return
        need = Need(conversation=self.current_id or None, uses_prompt=prompt_id, manage=True)
        if await self._allow(need) is None:
            return
        previous = self.prompt_id
        self.prompt_id = value
        if not self.current_id:
            return  # a new chat: saved with its first message
        try:
            await get_conversation_options().set_prompt(
                self.current_id, int(value) if value else None
            )
        except (ParleyError, ValueError) as exc:
            self.prompt_id = previous
            self.notice = exc.message if isinstance(exc, ParleyError) else "Pick a prompt."
