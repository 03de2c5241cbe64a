"""The code panel's parsing and naming (app/services/code_blocks.py, code_names.py), without Reflex.

Fences are checked by example and, with Hypothesis, against markdown-it-py's CommonMark
parser on generated documents of fences, text, blank and indented lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app.services.code_blocks import (
    Fence,
    conversation_blocks,
    find_block,
    parse_fences,
    summary_of,
)
from app.services.code_names import (
    extension_for,
    file_name_for,
    named_file,
    prism_language,
    safe_file_name,
    unique_names,
)

# ----- fences -----------------------------------------------------------------------------


def test_backtick_and_tilde_fences_with_info_strings() -> None:
    text = "Intro\n\n```python title=app.py\nprint(1)\n```\n\nThen\n~~~ bash \nls -la\n~~~\n"
    fences = parse_fences(text)
    assert [(f.info, f.language, f.code, f.line, f.closed) for f in fences] == [
        ("python title=app.py", "python", "print(1)", 2, True),
        ("bash", "bash", "ls -la", 7, True),
    ]
    assert fences[0].before == "Intro"
    assert fences[1].before == "Then"


def test_a_longer_fence_holds_shorter_ones_and_closes_only_with_its_own_kind() -> None:
    text = "````markdown\n```python\nx = 1\n```\n~~~~\n````\nafter"
    (fence,) = parse_fences(text)
    assert fence.language == "markdown"
    assert fence.code == "```python\nx = 1\n```\n~~~~"
    assert fence.closed


def test_a_closing_fence_may_be_longer_but_not_shorter_and_carries_no_text() -> None:
    assert parse_fences("~~~~\na\n~~~\nb\n~~~~~~\n")[0].code == "a\n~~~\nb"
    (fence,) = parse_fences("```\na\n``` not closed\nb\n```")
    assert fence.code == "a\n``` not closed\nb"


def test_an_unterminated_fence_runs_to_the_end() -> None:
    (fence,) = parse_fences("Look:\n```js\nconst a = 1;\n\nconst b = 2;\n")
    assert (fence.code, fence.closed) == ("const a = 1;\n\nconst b = 2;", False)
    (empty,) = parse_fences("```")
    assert (empty.code, empty.closed, empty.language) == ("", False, "")


def test_indentation_of_the_fence_is_removed_from_its_lines() -> None:
    (fence,) = parse_fences("  ```\n    deep\n  two\n one\nnone\n  ```")
    assert fence.code == "  deep\ntwo\none\nnone"
    # Four spaces make an indented code block, not a fence.
    assert parse_fences("    ```\n    code\n    ```") == []


def test_a_backtick_fence_with_a_backtick_in_its_info_is_not_a_fence() -> None:
    assert parse_fences("``` a`b\ncode") == []
    assert parse_fences("~~~ a`b\ncode\n~~~")[0].info == "a`b"


def test_windows_and_old_mac_line_endings() -> None:
    (fence,) = parse_fences("```py\r\na = 1\r\nb = 2\r\n```\r\n")
    assert fence.code == "a = 1\nb = 2"
    assert parse_fences("```\rx\r```")[0].code == "x"


def test_text_just_before_a_fence_is_only_the_nearest_line_of_text() -> None:
    first, second = parse_fences("Save as `a.py`:\n\n```\n1\n```\n```\n2\n```")
    assert first.before == "Save as `a.py`:"
    assert second.before == ""  # a fence in between


# Hypothesis: documents of lines that CommonMark reads without containers or HTML blocks.
_FENCE_LINE = st.builds(
    lambda indent, char, n, info: " " * indent + char * n + info,
    st.integers(0, 4),
    st.sampled_from("`~"),
    st.integers(2, 6),
    st.sampled_from(["", "python", " js ", "c++ x=1", "a`b", "  ", "\t"]),
)
_TEXT_LINE = st.text(alphabet=st.sampled_from("abc xyz=.`~#\t"), min_size=0, max_size=12).filter(
    lambda s: not s.lstrip(" ").startswith(("#", "=", "-", "*", "+", ">", "<"))
)
_LINE = st.one_of(
    _FENCE_LINE,
    _TEXT_LINE,
    st.just(""),
    st.builds(lambda n, t: " " * n + t, st.integers(1, 6), _TEXT_LINE),
)
_COMMONMARK = MarkdownIt("commonmark")


def _commonmark_fences(text: str) -> list[tuple[str, str]]:
    return [
        (token.info.strip(" \t"), token.content.removesuffix("\n"))
        for token in _COMMONMARK.parse(text)
        if token.type == "fence"
    ]


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_LINE, max_size=14), ending=st.sampled_from(["", "\n"]))
def test_fences_agree_with_commonmark(lines: list[str], ending: str) -> None:
    text = "\n".join(lines) + ending
    # markdown-it drops a last line of only spaces that has no line ending; CommonMark
    # leaves that open, and it shows nothing either way, so such documents are skipped.
    assume(ending or not lines or lines[-1].strip(" \t") or lines[-1] == "")
    assert [(f.info, f.code) for f in parse_fences(text)] == _commonmark_fences(text)


# ----- names, languages, summaries --------------------------------------------------------


def fence(code: str = "x", info: str = "", before: str = "") -> Fence:
    return Fence(info=info, code=code, line=0, closed=True, before=before)


@pytest.mark.parametrize(
    ("language", "extension"),
    [
        ("python", "py"),
        ("Python", "py"),
        ("py", "py"),
        ("tsx", "tsx"),
        ("typescript", "ts"),
        ("bash", "sh"),
        ("console", "sh"),
        ("c++", "cpp"),
        ("yaml", "yaml"),
        ("rust", "rs"),
        ("", "txt"),
        ("klingon", "txt"),
    ],
)
def test_extensions_by_language(language: str, extension: str) -> None:
    assert extension_for(language) == extension


@pytest.mark.parametrize(
    ("block", "name"),
    [
        (fence(info="python"), "snippet.py"),
        (fence(info="tsx"), "snippet.tsx"),
        (fence(info="brainfuck"), "snippet.txt"),
        (fence(), "snippet.txt"),
        (fence(info="dockerfile"), "Dockerfile"),
        # Named in the info string.
        (fence(info='python title="app/main.py"'), "main.py"),
        (fence(info="python:src/tools.py"), "tools.py"),
        (fence(info="app/main.py"), "main.py"),
        (fence(info="ts filename=lib/api.ts"), "api.ts"),
        # Named on the first line.
        (fence("# app/main.py\nimport os", "python"), "main.py"),
        (fence("// src/App.tsx\nexport {}", "tsx"), "App.tsx"),
        (fence("<!-- index.html -->\n<p>", "html"), "index.html"),
        (fence("-- file: schema.sql\ncreate table t();", "sql"), "schema.sql"),
        (fence("/* styles/site.css */\nbody {}", "css"), "site.css"),
        (fence("#!/usr/bin/env python\nprint()", "python"), "snippet.py"),
        (fence("# Install the deps\npip install x", "bash"), "snippet.sh"),
        # Named in the text just before the fence.
        (fence(info="python", before="Save this as `app/main.py`:"), "main.py"),
        (fence(info="python", before="Create **tests/test_api.py** with:"), "test_api.py"),
        (fence(info="python", before="Then update __init__.py:"), "__init__.py"),
        (fence(info="bash", before="Add a `.env` file:"), ".env"),
        (fence(info="js", before="Here it is in Node.js:"), "snippet.js"),
        (fence(info="js", before="Run it, e.g. like this:"), "snippet.js"),
        (fence(info="text", before="Dockerfile:"), "Dockerfile"),
        (fence(info="dockerfile", before="A `Dockerfile`:"), "Dockerfile"),
        (fence(info="yml", before="In `.github/ci.yaml`:"), "ci.yaml"),
        # ... unless the name does not suit the block's language.
        (fence(info="bash", before="Then run `main.py`:"), "snippet.sh"),
        (fence(info="bash", before="Run `main.py` with this `run.sh`:"), "run.sh"),
        (fence(info="dockerfile", before="Build `app.py` with:"), "Dockerfile"),
        (fence(info="klingon", before="Save as `battle.py`:"), "battle.py"),
    ],
)
def test_file_names(block: Fence, name: str) -> None:
    assert file_name_for(block) == name


def test_a_name_in_backticks_wins_over_one_in_plain_text() -> None:
    block = fence(info="python", before="Replace main.py with `app/server.py`:")
    assert named_file(block) == "app/server.py"


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("app/main.py", "main.py"),
        ("C:\\work\\main.py", "main.py"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("my file (1).py", "my_file_1_.py"),
        ("..", ""),
        ("...hidden.env", ".hidden.env"),
        ("ünïcödé.py", "unicode.py"),
        ("日本.py", "_.py"),
        ("a" * 300 + ".py", "a" * 97 + ".py"),
    ],
)
def test_safe_file_names(path: str, safe: str) -> None:
    assert safe_file_name(path) == safe


def test_unsafe_names_from_a_reply_fall_back_to_the_language() -> None:
    assert file_name_for(fence(info="python", before="Save as `../..`")) == "snippet.py"


def test_duplicates_are_numbered() -> None:
    assert unique_names(["a.py", "b.sh", "a.py", "A.py", "a-2.py", "Makefile", "Makefile"]) == [
        "a.py",
        "b.sh",
        "a-2.py",
        "A-3.py",
        "a-2-2.py",
        "Makefile",
        "Makefile-2",
    ]


@pytest.mark.parametrize(
    ("code", "summary"),
    [
        ("\n\n  x = 1\n  y = 2", "x = 1"),
        ("import re\n\n\ndef slugify(title):\n    return title", "def slugify(title):"),
        ("// components/A.tsx\nexport function A() {}", "export function A() {}"),
        (
            "export default async function handler(req) {}",
            "export default async function handler(req) {}",
        ),
        ("use std::io;\n\npub fn main() {}", "pub fn main() {}"),
        ("-- schema\nCREATE TABLE users (id int);", "CREATE TABLE users (id int);"),
        ("#!/bin/sh\n# install\npip install x", "pip install x"),
        ("# only a comment", "# only a comment"),
        ("   \n", "(empty)"),
        ("", "(empty)"),
    ],
)
def test_summaries(code: str, summary: str) -> None:
    assert summary_of(code) == summary


def test_long_summaries_are_cut() -> None:
    long = "x = " + "1" * 200
    assert summary_of(long) == long[:79] + "…"


@pytest.mark.parametrize(
    ("language", "prism"),
    [
        ("python", "python"),
        ("py", "python"),
        ("sh", "bash"),
        ("html", "markup"),
        ("tsx", "tsx"),
        ("C++", "cpp"),
        ("klingon", "text"),
        ("", "text"),
    ],
)
def test_highlighter_names(language: str, prism: str) -> None:
    assert prism_language(language) == prism


# ----- a conversation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    id: int
    role: str
    content: str
    status: str = "complete"


def test_blocks_of_a_conversation_with_origins_and_unique_names() -> None:
    messages = [
        Msg(1, "user", "Why does this fail?\n```python\nprint(x)\n```"),
        Msg(2, "assistant", "Define x first:\n\n```python\nx = 1\nprint(x)\n```\nThen:\n```\n"),
        Msg(3, "user", "thanks"),
        Msg(4, "assistant", "```sh\nls\n```\n~~~python\ny = 2"),
        Msg(5, "assistant", "```python\nhalf", status="streaming"),
    ]
    blocks = conversation_blocks(messages)
    rows = [
        (b.item.key, b.item.origin, b.item.language, b.item.file_name, b.item.summary)
        for b in blocks
    ]
    assert rows == [
        ("1-0", "Your message 1", "python", "snippet.py", "print(x)"),
        ("2-0", "Reply 1", "python", "snippet-2.py", "x = 1"),
        ("2-1", "Reply 1", "text", "snippet.txt", "(empty)"),
        ("4-0", "Reply 2", "sh", "snippet.sh", "ls"),
        ("4-1", "Reply 2", "python", "snippet-3.py", "y = 2"),
    ]
    assert [b.item.lines for b in blocks] == [1, 2, 0, 1, 1]
    assert [b.item.closed for b in blocks] == [True, True, False, True, False]
    assert blocks[1].code == "x = 1\nprint(x)"
    found = find_block(messages, "4-1")
    assert found is not None and found.code == "y = 2"
    assert find_block(messages, "5-0") is None  # the streaming message is not listed
    assert conversation_blocks([]) == []


@settings(max_examples=300, deadline=None)
@given(info=st.text(max_size=40), first_line=st.text(max_size=60), before=st.text(max_size=80))
def test_any_block_gets_a_safe_download_name(info: str, first_line: str, before: str) -> None:
    """Whatever a reply writes, the name is one plain file name: no folders, no "..",
    nothing but ASCII letters, digits and ``._+-``, not too long."""
    info = info.replace("\n", " ").replace("\r", " ")
    before = before.replace("\n", " ").replace("\r", " ")
    name = file_name_for(fence(first_line + "\nbody", info, before))
    assert re.fullmatch(r"[A-Za-z0-9._+-]{1,100}", name), name
    assert name.strip(".") != ""
    assert not name.startswith("..")


def test_an_info_string_of_other_whitespace_has_no_language() -> None:
    (block,) = parse_fences("```\x0c\nx\n```")  # a form feed is not trimmed as a space
    assert (block.language, file_name_for(block)) == ("", "snippet.txt")


def test_a_long_language_label_is_cut() -> None:
    (block,) = conversation_blocks([Msg(1, "assistant", "```" + "x" * 50 + "\ncode\n```")])
    assert block.item.language == "x" * 24
