"""The read-only link page, at ``/s/<token>`` (issue 13)."""

from __future__ import annotations

import reflex as rx

from components.share import link_page_body
from components.shell import shell_style
from state.share import LinkState


def link_page() -> rx.Component:
    return rx.fragment(
        shell_style(),  # the app's focus rings and contrast fixes, as on the chat page
        link_page_body(
            title=LinkState.title,
            messages=LinkState.messages,
            more=LinkState.more,
            problem=LinkState.problem,
            needs_login=LinkState.needs_login,
            login_href=LinkState.login_href,
        ),
    )
