"""A streamed reply's text, appended in the browser from Parley's live-reply channel.

A small React module (assets/live_reply.jsx) opens ``/_parley/stream/<key>`` on the backend
and appends the text it receives, so a reply costs each byte once on the wire: not resent
through Reflex state while it streams, nor when it ends (the finished message shows the same
text from the browser, see :func:`live_text`). The key is the reply's unguessable stream key.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import FunctionStringVar

_LIBRARY = rx.asset("live_reply.jsx").importable_path


class LiveReply(rx.Component):
    """Shows the text of the reply streamed under ``stream_key``: "Thinking…" until the
    first text while it streams; ``finished`` for a reply that has ended."""

    library = _LIBRARY
    tag = "LiveReply"

    stream_key: rx.Var[str]
    finished: rx.Var[bool]
    # Called once when the channel ends, if ``report_end``: the server then shows a reply a
    # dead worker left (state/settle.py).
    report_end: rx.Var[bool]
    on_end: rx.EventHandler[rx.event.no_args_event_spec]


class LiveArm(rx.Component):
    """Opens the next reply's channel (key ``next_key``) the moment the composer's form is
    submitted, so the first token need not wait for the send's state update."""

    library = _LIBRARY
    tag = "LiveArm"

    next_key: rx.Var[str]


def live_reply(
    stream_key: rx.Var[str] | str,
    *,
    finished: rx.Var[bool] | bool = False,
    on_end: Any = None,
    report_end: rx.Var[bool] | bool = False,
) -> rx.Component:
    if on_end is None:
        return LiveReply.create(stream_key=stream_key, finished=finished)
    return LiveReply.create(
        stream_key=stream_key, finished=finished, on_end=on_end, report_end=report_end
    )


def live_arm(next_key: rx.Var[str] | str) -> rx.Component:
    return LiveArm.create(next_key=next_key)


def live_text(stream_key: rx.Var[str]) -> rx.Var[str]:
    """The browser-side text of a reply it streamed (for Copy): the finished message's
    ``content`` is not sent again for such a reply."""
    return FunctionStringVar.create("window.parleyLiveText").call(stream_key).to(str)
