"""Model output as markdown, safely: raw HTML is shown as text, never rendered."""

from __future__ import annotations

from typing import Any

import reflex as rx

# Highlighting themes with stronger token colours: Reflex's default one-light fails WCAG AA
# contrast on a plain Python function (axe, tests/e2e/test_a11y.py); these pass it.
_CODE_THEME = rx.color_mode_cond(light=rx.code_block.themes.vs, dark=rx.code_block.themes.a11y_dark)


def _code_block(value: Any, **props: Any) -> rx.Component:
    """A fenced block: a header with its language and a Copy button, then the highlighted
    code. ``language`` is the fence's info string (react-markdown's ``language-*`` class),
    empty when the fence names none."""
    language = props.get("language", "")
    label = (
        rx.cond(language != "", language, "text")
        if isinstance(language, rx.Var)
        else (language or "text")
    )
    header = rx.hstack(
        rx.text(label, size="1", font_family="var(--code-font-family)", class_name="code-lang"),
        rx.button(
            rx.icon("copy", size=14),
            "Copy",
            aria_label="Copy code",
            on_click=rx.set_clipboard(value),
            type="button",
            size="1",
            variant="ghost",
            color_scheme="gray",
        ),
        justify="between",
        align="center",
        padding="0.25em 0.75em",
        background=rx.color("gray", 3),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )
    return rx.box(
        header,
        rx.code_block(
            value,
            wrap_long_lines=True,
            margin="0",
            border_radius="0",
            **{"theme": _CODE_THEME, **props},
        ),
        class_name="code-block",
        role="group",
        aria_label=rx.cond(language != "", f"{language} code", "code")
        if isinstance(language, rx.Var)
        else f"{language or 'text'} code",
        margin_y="0.75em",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        overflow="hidden",
    )


def safe_markdown(content: rx.Var[str] | str, **props: Any) -> rx.Component:
    """GitHub-flavoured markdown (tables, task lists, strikethrough, autolinks) with
    highlighted code blocks labelled with their language and a Copy button.

    ``use_raw=False`` drops rehype-raw, so ``<img onerror=...>`` in a reply stays text;
    react-markdown's default URL transform blanks ``javascript:`` links.
    """
    return rx.markdown(
        content,
        use_raw=False,
        use_katex=False,
        use_math=False,
        component_map={"pre": _code_block},
        **props,
    )
