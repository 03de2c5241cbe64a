"""A streaming reply's lease: its process rewrites its row while it lives, also when no text
arrives (a slow model, a long tool call), so workers sharing the database can tell a live reply
from one whose process died (tests/unit/test_crash_recovery.py tries that with real processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from app.llm.base import Finish, StreamEvent, TextDelta
from app.services.reply import Replies, lease_kept


async def test_a_silent_reply_still_renews_its_lease() -> None:
    saves: list[tuple[int, str]] = []

    async def save(message_id: int, text: str) -> None:
        saves.append((message_id, text))

    async def slow() -> AsyncIterator[StreamEvent]:
        yield TextDelta("thinking")
        await asyncio.sleep(0.8)  # nothing new for several renewal periods
        yield Finish("stop")

    replies = Replies(
        first_token_timeout=5,
        call_timeout=5,
        checkpoint=save,
        checkpoint_interval=0.02,
        renew_every=0.15,
    )
    ended = await replies.run(7, slow, lambda _text: None)

    assert ended.reply.text == "thinking"
    # The text once when it grew, then again at each renewal: without the lease, once.
    assert len(saves) >= 3, saves
    assert set(saves) == {(7, "thinking")}


async def test_lease_kept_renews_while_the_body_runs_and_stops_after() -> None:
    renewals = 0

    async def renew() -> None:
        nonlocal renewals
        renewals += 1

    async with lease_kept(renew, every=0.05):
        await asyncio.sleep(0.4)
    during = renewals
    await asyncio.sleep(0.2)

    assert during >= 3
    assert renewals == during  # nothing renews a reply that has ended


async def test_a_failing_renewal_does_not_end_the_body() -> None:
    async def renew() -> None:
        raise OSError("database gone")

    async with lease_kept(renew, every=0.02):
        await asyncio.sleep(0.1)  # reached the end: the failures were only logged
