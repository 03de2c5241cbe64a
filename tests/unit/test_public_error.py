"""Unexpected errors reach users as a generic message with a reference; the detail is logged."""

from __future__ import annotations

import logging
import re

import pytest

from app.errors import public_error


def test_the_detail_goes_to_the_log_under_the_reference(caplog: pytest.LogCaptureFixture) -> None:
    secret = "postgresql://parley:hunter2@db/parley"
    try:
        raise RuntimeError(f"could not connect to {secret}")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR, logger="parley.errors"):
            shown = public_error(exc)
    match = re.fullmatch(r"Something went wrong on the server \(reference ([0-9a-f]{8})\)\.", shown)
    assert match is not None and secret not in shown and "RuntimeError" not in shown
    record = caplog.records[-1]
    assert match.group(1) in record.getMessage() and record.exc_info is not None
    assert secret in caplog.text  # the server log has what an operator needs
