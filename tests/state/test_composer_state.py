"""ComposerState's handlers through Reflex's event processor (the chat state tests' harness):
uploads become pending chips or readable errors, Send carries them (or refuses and keeps
everything), parameters and prompt wait for a new chat's first message, and a saved
conversation's options are saved as they change."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import reflex as rx
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from sqlalchemy import Engine

from app import services
from app.services.attachments import AttachmentLimits, AttachmentService
from app.services.options import ConversationOptions
from app.services.prompts import PromptService
from state.composer import ComposerState
from state.prompts import PromptsState
from tests.state.harness import Backend, Tab, backend, reply, send, tab

__all__ = ["backend", "tab"]  # fixtures, shared with the chat state tests

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture(autouse=True)
def uploads(backend: Backend, engine: Engine, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    backend.service.attachments = AttachmentService(
        engine, root, AttachmentLimits(text_max_bytes=100, image_max_bytes=1000, max_files=5)
    )
    return root


def upload_file(name: str, data: bytes) -> rx.UploadFile:
    return rx.UploadFile(file=io.BytesIO(data), path=Path(name), size=len(data))


async def upload(tab: Tab, *files: tuple[str, bytes]) -> ComposerState:
    """Run the upload handler as Reflex's /_upload route does: under the session's lock."""
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        composer = await root.get_state(ComposerState)
        await ComposerState.upload.fn(composer, [upload_file(n, d) for n, d in files])
        root._clean()
        return composer


async def composer(tab: Tab) -> ComposerState:
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        return await root.get_state(ComposerState)


async def test_uploads_become_chips_or_errors_and_send_carries_them(
    tab: Tab, backend: Backend, uploads: Path
) -> None:
    backend.script(reply("Got it."))
    await tab.visit("/")
    state = await upload(tab, ("a.md", b"# A\n"), ("bad.bin", b"\x00\x01"), ("big.txt", b"x" * 101))
    assert [a.filename for a in state.attachments] == ["a.md"]
    assert state.upload_errors == [
        "bad.bin: this kind of file can't be attached. "
        "Attach text, code, or PNG/JPEG/GIF/WebP images.",
        "big.txt is 101 bytes; the limit is 100 bytes. Attach a shorter excerpt.",
    ]
    assert len(os.listdir(uploads)) == 1  # the refused files never reached disk

    await tab.run(send("read this"))
    chat = await tab.chat()
    assert chat.notice == ""
    user = chat.recent[0]  # sent in this session: the short list, not the loaded history
    assert [a.filename for a in user.attachments] == ["a.md"]
    state = await composer(tab)
    assert (state.attachments, state.upload_errors) == ([], [])
    sent = backend.provider.requests[0].messages[-1].content
    assert sent == "read this\n\nAttached file `a.md`:\n```markdown\n# A\n```"


async def test_an_image_for_a_blind_model_is_refused_and_nothing_is_lost(
    tab: Tab, backend: Backend
) -> None:
    await tab.visit("/")
    await upload(tab, ("p.png", PNG))
    refused_at = len(tab.wire.updates)
    await tab.run(send("look"))
    chat = await tab.chat()
    assert chat.notice.startswith("Fake can't see images (p.png).")
    assert (chat.current_id, chat.messages, chat.recent) == ("", [], [])
    assert tab.wire.scripts(refused_at) == []  # "look" stays in the box
    state = await composer(tab)
    assert [a.filename for a in state.attachments] == ["p.png"]

    # Removing it lets the message go.
    backend.script(reply("ok"))
    await tab.run(ComposerState.remove_attachment(state.attachments[0].id), send("look"))
    assert (await tab.chat()).notice == ""
    assert backend.provider.requests[0].messages[-1].content == "look"


async def test_new_chat_options_wait_for_the_first_message(
    tab: Tab, backend: Backend, engine: Engine
) -> None:
    prompt = await PromptService(engine).create("Pirate", "Talk like a pirate.")
    backend.script(reply("Arr."), reply("Aye."))
    await tab.visit("/")
    await tab.run(ComposerState.load_options)
    state = await composer(tab)
    assert [o.name for o in state.prompt_options] == ["Pirate"]

    await tab.run(
        ComposerState.set_params_open(True),
        ComposerState.set_temperature("3"),
        ComposerState.save_params,
    )
    state = await composer(tab)
    assert state.params_error == "Temperature for Fake must be between 0 and 2."
    assert state.params_open
    await tab.run(
        ComposerState.set_temperature("0.2"),
        ComposerState.set_max_tokens("50"),
        ComposerState.save_params,
        ComposerState.set_prompt(str(prompt.id)),
    )
    state = await composer(tab)
    assert (state.params_open, state.params_summary) == (False, "temperature 0.2, max 50 tokens")

    await tab.run(send("ahoy"))
    request = backend.provider.requests[0]
    assert (request.temperature, request.max_tokens) == (0.2, 50)
    assert request.messages[0].content == "Talk like a pirate."
    chat = await tab.chat()
    options = await ConversationOptions(engine, backend.service.models).get(chat.current_id)
    assert (options.temperature, options.max_tokens, options.prompt_id) == (0.2, 50, prompt.id)

    # In a saved conversation, choices are saved at once.
    await tab.run(ComposerState.set_prompt(""), ComposerState.set_params_open(True))
    await tab.run(ComposerState.reset_params)
    options = await ConversationOptions(engine, backend.service.models).get(chat.current_id)
    assert (options.temperature, options.max_tokens, options.prompt_id) == (None, None, None)

    # A reload shows the saved options.
    await tab.visit(f"/c/{chat.current_id}")
    await tab.run(ComposerState.load_options)
    state = await composer(tab)
    assert (state.saved_temperature, state.saved_max_tokens, state.prompt_id) == ("", "", "")
    assert services.get_chat_service() is backend.service


async def prompts_state(tab: Tab) -> PromptsState:
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        return await root.get_state(PromptsState)


async def test_the_prompt_library_page(tab: Tab) -> None:
    await tab.run(
        PromptsState.load,
        PromptsState.start_new,
        PromptsState.set_name("Reviewer"),
        PromptsState.set_body(""),
        PromptsState.save,
    )
    page = await prompts_state(tab)
    assert (page.error, page.editing) == ("Write the prompt's text first.", True)
    await tab.run(PromptsState.set_body("Review code."), PromptsState.save)
    page = await prompts_state(tab)
    assert (page.status, page.editing) == ("Created Reviewer v1.", False)
    prompt_id = page.prompts[0].id

    await tab.run(PromptsState.start_edit(prompt_id), PromptsState.save)
    assert (await prompts_state(tab)).status == (
        "Saved Reviewer; the text is unchanged, so still v1."
    )
    await tab.run(
        PromptsState.show_history(prompt_id),
        PromptsState.start_edit(prompt_id),
        PromptsState.set_body("Review code strictly."),
        PromptsState.save,
    )
    page = await prompts_state(tab)
    assert page.status == "Saved Reviewer v2."
    assert [(v.version, v.body) for v in page.history] == [
        (2, "Review code strictly."),
        (1, "Review code."),
    ]
    await tab.run(PromptsState.set_archived(prompt_id, True))
    assert (await prompts_state(tab)).prompts == []
    await tab.run(PromptsState.set_show_archived(True))
    page = await prompts_state(tab)
    assert [(p.name, p.archived, p.version) for p in page.prompts] == [("Reviewer", True, 2)]


async def test_a_drop_reports_the_browsers_refusals_and_the_servers_together(tab: Tab) -> None:
    """One drop: the page clears the last drop's messages, the browser reports what it would
    not upload (too large), the server what it would not keep; the text box is untouched."""
    await tab.visit("/")
    await upload(tab, ("old.bin", b"\x00"))  # the last drop's message, cleared by the next
    huge = {"name": "huge.log", "size": 51_000_000, "errors": ["file-too-large"]}
    await tab.run(ComposerState.dismiss_upload_errors, ComposerState.refuse_files([huge]))
    await upload(tab)  # every file refused: the empty upload changes nothing
    state = await upload(tab, ("ok.md", b"# ok\n"), ("long.txt", b"x" * 101))
    assert [a.filename for a in state.attachments] == ["ok.md"]
    assert state.upload_errors == [
        "huge.log is 51 MB; the limit is 1 KB. Nothing was uploaded; attach a smaller file.",
        "long.txt is 101 bytes; the limit is 100 bytes. Attach a shorter excerpt.",
    ]
