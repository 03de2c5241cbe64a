"""Which finished replies may be shown from the live channel's text (app/services/views.py)."""

from __future__ import annotations

import pytest

from app.services.views import has_code_block


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Plain **bold** text with `inline` code.", False),
        ("- a list\n- of items\n\n| a | b |\n|---|---|\n| 1 | 2 |", False),
        ("Look:\n```python\nx = 1\n```", True),
        ("~~~\nfenced with tildes\n~~~", True),
        ("   ```\nthree spaces of indent still open a fence\n```", True),
        ("para\n\n    indented code", True),
        ("para\n\n\tcode after a tab", True),
    ],
)
def test_has_code_block(text: str, expected: bool) -> None:
    assert has_code_block(text) is expected
