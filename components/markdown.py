"""Model output as markdown, safely: raw HTML is shown as text, never rendered."""

from __future__ import annotations

from typing import Any

import reflex as rx

# Highlighting themes with stronger token colours: Reflex's default one-light fails WCAG AA
# contrast on a plain Python function (axe, tests/e2e/test_a11y.py); these pass it.
_CODE_THEME = rx.color_mode_cond(light=rx.code_block.themes.vs, dark=rx.code_block.themes.a11y_dark)


def _code_block(value: Any, **props: Any) -> rx.Component:
    props.setdefault("theme", _CODE_THEME)
    return rx.code_block(value, can_copy=True, wrap_long_lines=True, margin_y="0.75em", **props)


def safe_markdown(content: rx.Var[str] | str, **props: Any) -> rx.Component:
    """GitHub-flavoured markdown with highlighted, copyable code blocks.

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
