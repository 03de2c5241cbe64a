"""The call-log sink's writer thread (SQLite and PostgreSQL): records that arrive together are
written in few transactions, each caller's row exists when its await returns, one row that
cannot be written loses no other, and the event loop's shared thread pool is never used."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from app.db.models import CallLog
from app.llm.calllog import CallRecord
from app.services.calllog import DatabaseCallSink


def record(n: int, *, model: str = "m") -> CallRecord:
    return CallRecord(
        provider="anthropic",
        model=model,
        provider_model=model,
        status="ok",
        feature="api",
        user_id="u1",
        project_id="p1",
        input_tokens=n,
        output_tokens=1,
    )


def rows(engine: Engine) -> list[CallLog]:
    with Session(engine) as session:
        return list(session.exec(select(CallLog).order_by(col(CallLog.input_tokens))).all())


@contextmanager
def transactions(engine: Engine) -> Iterator[list[int]]:
    count = [0]

    def begin(*_: object) -> None:
        count[0] += 1

    event.listen(engine, "begin", begin)
    try:
        yield count
    finally:
        event.remove(engine, "begin", begin)


async def test_a_burst_of_records_is_written_in_a_few_transactions(engine: Engine) -> None:
    sink = DatabaseCallSink(engine)
    with transactions(engine) as count:
        await asyncio.gather(*(sink(record(n)) for n in range(60)))
    assert [r.input_tokens for r in rows(engine)] == list(range(60))
    assert 1 <= count[0] <= 4  # one per batch (each batch also checks the budget alerts)


async def test_each_callers_row_is_there_when_its_await_returns(engine: Engine) -> None:
    sink = DatabaseCallSink(engine)
    for n in range(3):
        await sink(record(n))
        assert len(rows(engine)) == n + 1


async def test_the_writes_leave_the_loops_thread_pool_free(engine: Engine) -> None:
    """A pool whose only thread is busy until the writes are done: they still complete."""
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(pool)
    release = asyncio.Event()
    blocked = loop.run_in_executor(None, lambda: asyncio.run_coroutine_threadsafe(
        release.wait(), loop).result())  # fmt: skip
    sink = DatabaseCallSink(engine)
    await asyncio.wait_for(asyncio.gather(*(sink(record(n)) for n in range(5))), 10)
    assert len(rows(engine)) == 5
    release.set()
    await blocked


class FlakySink(DatabaseCallSink):
    """Fails any write that includes a record of the model "bad", as a database would
    refuse one row (a constraint) and with it the transaction."""

    def write(self, *records: CallRecord) -> None:
        if any(r.model == "bad" for r in records):
            raise RuntimeError("the database refused the row")
        super().write(*records)


async def test_a_row_that_cannot_be_written_loses_no_other(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FlakySink(engine)
    with caplog.at_level(logging.ERROR, logger="app.services.calllog"):
        await asyncio.gather(*(sink(record(n, model="bad" if n == 3 else "m")) for n in range(8)))
    assert [r.input_tokens for r in rows(engine)] == [0, 1, 2, 4, 5, 6, 7]
    assert "could not write the call log row" in caplog.text


async def test_a_cancelled_caller_still_gets_its_row_written(engine: Engine) -> None:
    sink = DatabaseCallSink(engine)
    task = asyncio.create_task(sink(record(1)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sink(record(2))  # written after the first: its return means both are in
    assert [r.input_tokens for r in rows(engine)] == [1, 2]
