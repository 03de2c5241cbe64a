"""Ids that arrive in URLs (``?m=``, path segments) parsed so bad input cannot break a page.

``str.isdigit`` is not a test for an id: it is true for ``"²"`` (and other Unicode digits),
which ``int()`` then refuses; and a 20-digit number passes it but overflows the database's
integer column (PostgreSQL's ``integer`` holds at most 2**31 - 1) and fails the query.
"""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1  # the largest id an INTEGER primary key holds on PostgreSQL


def parse_row_id(text: str | None) -> int | None:
    """A positive row id written in ASCII digits and small enough to be one, else None."""
    if not text or not (text.isascii() and text.isdecimal()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None
