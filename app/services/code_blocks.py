"""The code blocks of a conversation, for the code panel: parsing, labels and file names.

Pure functions, no Reflex. :func:`parse_fences` finds CommonMark fenced code blocks (```
and ~~~ fences, info strings, longer closing fences, a fence left open at the end) in one
message; :func:`conversation_blocks` lists every block of the messages shown, each with a
language label, a one-line summary, where it came from and a file name to download it as
(named by :mod:`app.services.code_names`).

What is not looked into: block quotes and list items nested deeper than three spaces
(CommonMark containers), and HTML blocks. A fence there is not listed; the message still
shows it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.services.code_names import file_name_for, unique_names

_LINE_ENDING = re.compile(r"\r\n|\r|\n")
# Up to three spaces, then three or more backticks or tildes, then the info string.
_OPENING = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_CLOSING = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")

SUMMARY_CHARS = 80
LABEL_CHARS = 24  # a language label longer than this is cut


@dataclass(frozen=True, slots=True)
class Fence:
    """One fenced code block of a markdown text."""

    info: str  # the info string, trimmed ("python title=x.py"), "" if none
    code: str  # the content, without the final line ending
    line: int  # the opening fence's line, from 0
    closed: bool  # False when the text ended before a closing fence
    before: str = ""  # the nearest non-blank line of text above the fence, if any

    @property
    def language(self) -> str:
        """The info string's first word, as written ("Python", "tsx", "c++"), or ""."""
        words = self.info.split(maxsplit=1)
        return words[0] if words else ""


def _strip_indent(line: str, width: int) -> str:
    """Remove up to ``width`` columns of leading spaces and tabs (tab stops of 4), as
    CommonMark does for the lines of a fence indented by ``width``; a tab only partly
    removed leaves its remaining columns as spaces."""
    column = 0
    for i, char in enumerate(line):
        if column >= width:
            return line[i:]
        if char == " ":
            column += 1
        elif char == "\t":
            stop = column + 4 - column % 4
            if stop > width:
                return " " * (stop - width) + line[i + 1 :]
            column = stop
        else:
            return line[i:]
    return ""


def parse_fences(text: str) -> list[Fence]:
    """The fenced code blocks of ``text``, in order (CommonMark, outside containers)."""
    lines = _LINE_ENDING.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the text ended with a line ending
    fences: list[Fence] = []
    before = ""
    i = 0
    while i < len(lines):
        opening = _OPENING.match(lines[i])
        if opening is None or (opening[2][0] == "`" and "`" in opening[3]):
            if lines[i].strip():
                before = lines[i].strip()
            i += 1
            continue
        indent, marker, info = len(opening[1]), opening[2], opening[3].strip(" \t")
        body: list[str] = []
        closed = False
        j = i + 1
        while j < len(lines):
            closing = _CLOSING.match(lines[j])
            if closing and closing[1][0] == marker[0] and len(closing[1]) >= len(marker):
                closed = True
                break
            body.append(_strip_indent(lines[j], indent))
            j += 1
        fences.append(Fence(info, "\n".join(body), i, closed, before))
        before = ""  # text above a fence is not "just before" the next one
        i = j + 1
    return fences


# A line that defines something: the best one-line summary of a block.
_DEFINITION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function\*?|fn|func|interface|struct|enum|trait|impl|type\s+\w+\s*=)\b"
    r"|^\s*create\s+(?:or\s+replace\s+)?(?:table|view|function|index)\b",
    re.IGNORECASE,
)
# Lines that say little about a block: imports and comments.
_PREAMBLE = re.compile(
    r"^\s*(?:import\b|from\s+\S+\s+import\b|#include\b|using\b|package\b|use\b|"
    r"#|//|/\*|\*|--|<!--|;)"
)


def summary_of(code: str) -> str:
    """One line for the list: the first definition (``def``, ``class``, ``function``, ...),
    else the first line that is not an import or comment, else the first non-blank line;
    trimmed and cut to ``SUMMARY_CHARS``. "(empty)" for a blank block."""
    lines = [line.strip() for line in code.split("\n") if line.strip()]
    line = next(
        (ln for ln in lines if _DEFINITION.match(ln)),
        next((ln for ln in lines if not _PREAMBLE.match(ln)), lines[0] if lines else ""),
    )
    if not line:
        return "(empty)"
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


# ----- a conversation's blocks ----------------------------------------------------------


class MessageLike(Protocol):
    """What :func:`conversation_blocks` reads of a message (``MessageView`` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CodeBlockItem:
    """One row of the code panel's list. It carries no code: the list stays small on the
    wire, and a block's code travels only when it is opened."""

    key: str  # "<message id>-<block index in the message>"
    origin: str  # "Reply 2", "Your message 1": which shown message it came from
    language: str  # the label: the info string's language, or "text"
    summary: str
    lines: int
    file_name: str  # unique within the conversation
    closed: bool  # False if the message ended inside the block


@dataclass(frozen=True, slots=True)
class CodeBlock:
    item: CodeBlockItem
    code: str


def conversation_blocks(messages: Sequence[MessageLike]) -> list[CodeBlock]:
    """Every fenced block of the finished messages, in order, with unique file names.

    A message still streaming is skipped (its blocks are not final); user messages count
    too, since code pasted into a question is code one may want back.
    """
    found: list[tuple[MessageLike, int, str, Fence]] = []
    counts = {"user": 0, "assistant": 0}
    for message in messages:
        if message.status == "streaming":
            continue
        if message.role in counts:
            counts[message.role] += 1
        n = counts.get(message.role, 0)
        origin = f"Your message {n}" if message.role == "user" else f"Reply {n}"
        for index, fence in enumerate(parse_fences(message.content)):
            found.append((message, index, origin, fence))
    names = unique_names(file_name_for(fence) for _, _, _, fence in found)
    return [
        CodeBlock(
            CodeBlockItem(
                key=f"{message.id}-{index}",
                origin=origin,
                language=fence.language[:LABEL_CHARS] or "text",
                summary=summary_of(fence.code),
                lines=fence.code.count("\n") + 1 if fence.code else 0,
                file_name=name,
                closed=fence.closed,
            ),
            fence.code,
        )
        for (message, index, origin, fence), name in zip(found, names, strict=True)
    ]


def find_block(messages: Sequence[MessageLike], key: str) -> CodeBlock | None:
    """The block with this key among the messages' blocks, or None."""
    return next((b for b in conversation_blocks(messages) if b.item.key == key), None)
