"""Reading an import file incrementally (``ijson``), whichever format it is: only one
conversation is in memory at a time. The formats are described in
:mod:`app.services.transfer_formats`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from app.services.transfer_foreign import chatgpt, claude
from app.services.transfer_formats import FORMAT, VERSION, Incoming, InvalidImport, Where, parley

# ----- reading the file ----------------------------------------------------------------------


def detect(stream: BinaryIO) -> str:
    """``"parley"`` or ``"list"`` (ChatGPT or Claude, told apart per conversation). Reads only
    the start of the file; the caller rewinds."""
    try:
        events = ijson.parse(stream)
        prefix, event, _ = next(events)
        if (prefix, event) == ("", "start_array"):
            return "list"
        if (prefix, event) != ("", "start_map"):
            raise InvalidImport("The file is not an export: expected a JSON array or object.")
        seen: dict[str, Any] = {}
        for prefix, event, value in events:
            if prefix in ("format", "version") and event in ("string", "number"):
                seen[prefix] = value
            if "format" in seen and "version" in seen:
                break
            if prefix == "conversations":
                break
    except ijson.JSONError as exc:
        raise InvalidImport(f"The file is not valid JSON: {_first_line(exc)}") from None
    except StopIteration:
        raise InvalidImport("The file is empty.") from None
    if seen.get("format") != FORMAT:
        raise InvalidImport(f'A JSON object must be a Parley export ("format": "{FORMAT}").')
    if seen.get("version") != VERSION:
        raise InvalidImport(
            f"This Parley export is version {seen.get('version')}; {VERSION} is read."
        )
    return "parley"


def read_conversations(stream: BinaryIO) -> Iterator[Incoming]:
    """Every conversation in the file, parsed and checked, one at a time."""
    kind = detect(stream)
    stream.seek(0)
    prefix = "conversations.item" if kind == "parley" else "item"
    number = 0
    try:
        for raw in ijson.items(stream, prefix, use_float=True):
            number += 1
            yield parse(kind, raw, number)
    except ijson.JSONError as exc:
        problem = f"After conversation {number}: the file is not valid JSON: {_first_line(exc)}"
        raise InvalidImport(problem) from None


def parse(kind: str, raw: object, number: int) -> Incoming:
    where = Where(number)
    if not isinstance(raw, dict):
        raise where.fail("not a JSON object")
    if kind == "parley":
        incoming = parley(raw, where)
    elif "mapping" in raw:
        incoming = chatgpt(raw, where)
    elif "chat_messages" in raw:
        incoming = claude(raw, where)
    else:
        kinds = "neither a ChatGPT conversation (mapping) nor a Claude one (chat_messages)"
        raise where.fail(kinds)
    # PostgreSQL text cannot hold NUL; no Parley export has one, so dropping it loses nothing
    # a round trip keeps.
    incoming.title = incoming.title.replace("\x00", "")
    for message in incoming.messages:
        message.content = message.content.replace("\x00", "")
    return incoming


def _first_line(exc: Exception) -> str:
    """yajl's errors end with a drawing of where they are; the first line is the message."""
    return (str(exc).strip().splitlines() or ["unreadable"])[0]
