"""Replies whose worker died, as a page that follows them learns it (several workers, issue 13).

A reply streams in the worker that started it. If that worker dies, another marks the reply
interrupted once its lease runs out and ends its live channel (``ChatService.
recover_interrupted``); the browser then calls ``ChatState.settle_live``, and this shows what
was saved: the page's own reply (its stream task died with the worker, so nothing else would
end it) if it was interrupted (one that ends normally is shown by the event that streams it),
and any reply the page watches (another tab's or participant's) however it ended, since no
event of this page streams those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.errors import ParleyError
from app.services import get_chat_service
from app.services.status import has_live_reply, is_streaming, was_interrupted
from app.services.views import MessageView


@dataclass(frozen=True)
class Settled:
    """What the page shows once its interrupted replies are settled."""

    clear_live: bool  # the page's own reply was one: it streams no more
    messages: list[MessageView]
    recent: list[MessageView]
    changed: bool


async def _saved(message_id: int) -> MessageView | None:
    try:
        return await get_chat_service().get_message(message_id)
    except ParleyError:
        return None


async def _settle_watched(shown: list[MessageView]) -> list[MessageView]:
    settled = list(shown)
    for index, message in enumerate(shown):
        if is_streaming(message.status) and message.live_key:
            saved = await _saved(message.id)
            if saved is not None and not is_streaming(saved.status):
                settled[index] = replace(saved, live_key="")
    return settled


async def settle_ended(
    live_id: int, live_here: bool, messages: list[MessageView], recent: list[MessageView]
) -> Settled:
    """The page's own reply ``live_id`` (shown here if ``live_here``) and the replies it
    watches in ``messages`` and ``recent``, as saved where they were interrupted."""
    clear_live = False
    if has_live_reply(live_id):
        saved = await _saved(live_id)
        if saved is not None and was_interrupted(saved.status, saved.error):
            clear_live = True
            recent = [*recent, saved] if live_here else recent
    settled = Settled(
        clear_live, await _settle_watched(messages), await _settle_watched(recent), False
    )
    changed = clear_live or settled.messages != messages or settled.recent != recent
    return replace(settled, changed=changed)
