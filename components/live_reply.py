"""The reply being streamed, appended in the browser from Parley's live-reply channel.

A small React component (assets/live_reply.jsx) opens ``/_parley/stream/<message id>`` on
the backend and appends the text it receives, so a streaming reply costs each byte once on
the wire instead of resending the whole reply through Reflex state on every update.
"""

from __future__ import annotations

import reflex as rx


class LiveReply(rx.Component):
    """Streams message ``message_id``'s text, showing "Thinking…" until the first text."""

    library = rx.asset("live_reply.jsx").importable_path
    tag = "LiveReply"

    message_id: rx.Var[int]


def live_reply(message_id: rx.Var[int] | int) -> rx.Component:
    return LiveReply.create(message_id=message_id)
