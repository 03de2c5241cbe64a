"""Secrets never reach the logs: every log record is redacted as it is made.

:func:`install` wraps the logging module's record factory, so it applies to every logger
(Parley's, the SDKs', uvicorn's) and every handler alike. A record's message is formatted
with its arguments and each configured secret (the providers' API keys, the session
secret...) replaced by ``[redacted]``; its traceback is formatted and redacted too, so a
provider error that carries the key in its text (some servers echo it back) is logged
without it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

MASK = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values would blot out ordinary words

_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def install(secrets: Iterable[str | None]) -> None:
    """Redact these values from every log record from now on (adds to earlier calls)."""
    global _installed
    _secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_CHARS)
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(formatted)
        return record

    logging.setLogRecordFactory(factory)
