"""A server killed with SIGKILL mid-reply keeps the text it had streamed (issue 13).

A real subprocess runs the chat service with the scripted provider (tests/unit/crash_child.py)
on SQLite and on PostgreSQL; it is killed mid-stream; start-up recovery in a fresh service then
shows the reply interrupted, with its text up to the last checkpoint (at most ~1 s behind).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.db import crud
from app.db.models import MessageStatus
from app.db.session import get_engine
from app.llm.registry import ModelRegistry
from app.services.chat import ChatService

ROOT = Path(__file__).resolve().parents[2]
REPLY = "".join(f"word{i:05d} " for i in range(800))  # 8 000 characters
KILL_AFTER = 2_500  # characters streamed
CHECKPOINT = 1.0  # the service's interval, seconds
SLACK = 0.6  # scheduling slack on a loaded machine


def run_and_kill(
    db_url: str, tmp_path: Path, on_live: Callable[[int], None] | None = None
) -> tuple[int, list[tuple[float, int]], float]:
    """Start the child, read its progress, SIGKILL it past KILL_AFTER characters (calling
    ``on_live`` with the reply's id once, halfway there, while it streams).
    Returns the reply's id, (time, characters streamed) observations, and the kill time."""
    script = tmp_path / "script.json"
    # 10 characters every 20 ms: 500 characters a second, 16 s for the whole reply.
    script.write_text(
        json.dumps([{"match": ".", "reply": REPLY, "chunk_chars": 10, "delay_ms": 20}])
    )
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PARLEY_FAKE_SCRIPT": str(script),
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_CACHE_SIZE": "0",
    }
    env.pop("REDIS_URL", None)
    seen: list[tuple[float, int]] = []
    with subprocess.Popen(
        [sys.executable, "-m", "tests.unit.crash_child"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        try:
            reply_id, killed = _read_and_kill(child, seen, on_live)
        except BaseException:
            child.kill()
            raise
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert reply_id > 0
    return reply_id, seen, killed


def _read_and_kill(
    child: subprocess.Popen[str],
    seen: list[tuple[float, int]],
    on_live: Callable[[int], None] | None,
) -> tuple[int, float]:
    reply_id = -1
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    for line in child.stdout:
        fields = json.loads(line)
        if "reply_id" in fields:
            reply_id = int(fields["reply_id"])
        elif "chars" in fields:
            seen.append((time.monotonic(), int(fields["chars"])))
            if on_live is not None and fields["chars"] >= KILL_AFTER // 2:
                on_live(reply_id)
                on_live = None
            if fields["chars"] >= KILL_AFTER:
                break
        assert "done" not in fields, "the reply ended before the kill"
        assert time.monotonic() < deadline, "the child streamed too slowly"
    else:
        assert child.stderr is not None
        raise AssertionError(f"the child exited early: {child.stderr.read()[-2000:]}")
    os.kill(child.pid, signal.SIGKILL)
    return reply_id, time.monotonic()


async def test_sigkill_mid_reply_keeps_the_checkpointed_text(db_url: str, tmp_path: Path) -> None:
    reply_id, seen, killed = run_and_kill(db_url, tmp_path)
    engine = get_engine(db_url)
    service = ChatService(engine, ModelRegistry(default="fake"))

    assert await service.recover_interrupted() == 1
    view = await service.get_message(reply_id)

    assert view.status == MessageStatus.error
    assert view.error == crud.INTERRUPTED
    # The text up to the last checkpoint: a prefix of the reply, no older than one interval.
    assert REPLY.startswith(view.content)
    floor = max((n for at, n in seen if at <= killed - CHECKPOINT - SLACK), default=0)
    assert floor >= 1_000, f"too few observations before the kill: {seen[-5:]}"
    assert len(view.content) >= floor, (len(view.content), floor)
    assert len(view.content) <= seen[-1][1] + 200  # nothing it had not streamed
    # Recovery is done once: a second start-up finds nothing left streaming.
    assert await service.recover_interrupted() == 0


async def test_workers_sharing_a_database_end_only_replies_whose_worker_died(
    db_url: str, tmp_path: Path
) -> None:
    """Several workers (REDIS_URL): a worker that starts, or sweeps, while another streams a
    reply must leave that reply alone (its checkpoints renew its lease); once the streaming
    worker is killed, the reply is marked interrupted when its lease runs out."""
    lease = 4.0
    service = ChatService(get_engine(db_url), ModelRegistry(default="fake"), lease=lease)
    loop = asyncio.get_running_loop()
    while_live: list[tuple[int, str]] = []

    def sweep_beside_it(reply_id: int) -> None:  # in run_and_kill's thread
        marked = asyncio.run_coroutine_threadsafe(
            service.recover_interrupted(shared=True), loop
        ).result(timeout=30)
        status = asyncio.run_coroutine_threadsafe(service.get_message(reply_id), loop)
        while_live.append((marked, status.result(timeout=30).status))

    reply_id, _, killed = await asyncio.to_thread(run_and_kill, db_url, tmp_path, sweep_beside_it)

    assert while_live == [(0, MessageStatus.streaming)]
    if time.monotonic() - killed < lease - 2:  # its last checkpoint is still within the lease
        assert await service.recover_interrupted(shared=True) == 0
    await asyncio.sleep(max(0.0, killed + lease + 0.5 - time.monotonic()))
    assert await service.recover_interrupted(shared=True) == 1
    view = await service.get_message(reply_id)
    assert view.status == MessageStatus.error
    assert view.error == crud.INTERRUPTED
    assert REPLY.startswith(view.content) and len(view.content) >= 1_000
