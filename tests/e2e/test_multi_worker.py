"""Several workers on Redis and PostgreSQL (issue 13), in a real browser.

The production app runs as ``make serve-multi`` runs it: migrations first, then ``reflex run
--env prod`` with three granian workers, state, live replies and limits on Redis, data on
PostgreSQL. Tabs that land on different workers (the socket records the serving processes
write to Redis say which) all follow one reply as it streams. Then a worker is killed
mid-reply: granian starts another, the other workers carry on, and every tab ends with the
reply complete or marked interrupted, never lost and never twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL
from tests.demo.server import free_port, wait_until_up
from tests.e2e.conftest import E2E_PASSWORD, ROOT, new_signed_in_context, sign_up
from tests.e2e.test_chat import last_reply, open_new_chat, send
from tests.redis_server import require_redis

pytestmark = pytest.mark.e2e

WORKERS = 3
REDIS_DB = 9  # a database of its own: Reflex's state and the app's keys, flushed around the test
WORDS = " ".join(f"w{i:03d}" for i in range(240))
REPLY = f"SLOWSTART {WORDS} SLOWEND"
# About 20 s of streaming: time for the tabs to join it and for the kill to land mid-reply.
SCRIPT = [{"match": "^slow", "reply": REPLY, "chunk_chars": 8, "delay_ms": 80}]
SOCKET_RECORD = "token_manager_socket_record_"  # Reflex's key for a tab's socket, per token
INTERRUPTED = "Interrupted"


@dataclass
class Multi:
    url: str
    proc: subprocess.Popen[bytes]
    redis: redis.Redis
    database: Engine
    log: Path

    def workers(self) -> list[int]:
        """The granian workers' process ids: the children of ``reflex run``, the granian
        supervisor, which is the child of the build wrapper this test started (less a
        multiprocessing helper such as its resource tracker)."""
        (supervisor,) = children(self.proc.pid)
        return [pid for pid in children(supervisor) if "multiprocessing." not in cmdline(pid)]

    def wait_for_workers(self, timeout: float = 120) -> list[int]:
        """The workers, once all of them run: the app answers as soon as the first does."""
        deadline = time.monotonic() + timeout
        while len(found := self.workers()) != WORKERS:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{len(found)} of {WORKERS} workers started"
            time.sleep(0.2)
        return found

    def instance_of(self, page: Page) -> str:
        """Which worker serves this tab's event socket, as that worker recorded it."""
        token = page.evaluate("() => window.sessionStorage.getItem('token')")
        deadline = time.monotonic() + 15
        while (record := self._record(str(token))) is None:
            assert time.monotonic() < deadline, "the tab's socket was never recorded"
            time.sleep(0.1)
        return str(pickle.loads(record).instance_id)  # the test's own Redis

    def _record(self, token: str) -> bytes | None:
        value = self.redis.get(SOCKET_RECORD + token)
        assert value is None or isinstance(value, bytes)
        return value


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


@pytest.fixture(scope="module")
def multi(postgres_admin: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Multi]:
    base = require_redis()
    redis_url = f"{base.rsplit('/', 1)[0]}/{REDIS_DB}"
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    name = f"parley_multi_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    work = tmp_path_factory.mktemp("multi")
    script = work / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "PARLEY_DATA_DIR": str(work / "data"),
        "PARLEY_FAKE_SCRIPT": str(script),
        "PARLEY_DEFAULT_MODEL": "fake",
        "PARLEY_REPLY_LEASE": "3",
        "REFLEX_USE_GRANIAN": "1",
        "GRANIAN_WORKERS": str(WORKERS),
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    for variable in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY"):
        env.pop(variable, None)
    # As make serve-multi: the schema first, so the workers do not race to create it.
    subprocess.run(
        [sys.executable, "-m", "app.db.migrate", "upgrade"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    log = work / "app.log"
    command = [sys.executable, "-m", "app.webbuild", "--web-dir", ".cache/web-multi", "--"]
    command += [str(venv_bin / "reflex"), "run", "--env", "prod"]
    command += ["--frontend-port", str(port), "--backend-port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://localhost:{port}"
    database = create_engine(db_url)
    try:
        wait_until_up(url, proc, log)
        yield Multi(url, proc, client, database, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        database.dispose()
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        client.flushdb()
        client.close()


def reply_text(page: Page) -> str:
    return last_reply(page).inner_text()


def test_tabs_on_several_workers_follow_one_reply_and_outlive_a_killed_worker(
    browser: Browser, multi: Multi
) -> None:
    multi.wait_for_workers()
    email = f"multi-{uuid.uuid4().hex[:8]}@example.com"
    contexts: list[BrowserContext] = []
    try:
        first = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(first)
        sign_up(first, multi.url, email, E2E_PASSWORD)
        sender = first.new_page()
        sender.set_default_timeout(30_000)
        open_new_chat(sender, multi.url)
        send(sender, "slow story, please")
        expect(sender).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
        expect(last_reply(sender)).to_contain_text("SLOWSTART")

        # Other tabs (the same account, each its own session) join the reply mid-stream,
        # until the tabs are on at least two workers.
        tabs = [sender]
        instances = {multi.instance_of(sender)}
        while len(tabs) < 3 or len(instances) < 2:
            assert len(tabs) < 8, "every tab landed on the same worker"
            context = new_signed_in_context(
                browser, multi.url, (email, E2E_PASSWORD), viewport={"width": 1280, "height": 800}
            )
            contexts.append(context)
            tab = context.new_page()
            tab.set_default_timeout(30_000)
            tab.goto(sender.url)
            expect(last_reply(tab)).to_contain_text("SLOWSTART")
            tabs.append(tab)
            instances.add(multi.instance_of(tab))
        for tab in tabs:  # every tab follows it live: the reply is still streaming
            assert "SLOWEND" not in reply_text(tab)

        # One worker dies mid-reply (whichever: it may be the one streaming the reply).
        victim = multi.workers()[0]
        os.kill(victim, signal.SIGKILL)

        # Granian starts another, and the app still answers.
        deadline = time.monotonic() + 60
        while victim in multi.workers():
            assert time.monotonic() < deadline, "the dead worker was not reaped"
            time.sleep(0.2)
        assert victim not in multi.wait_for_workers(), "the dead worker was not replaced"

        # Every tab ends with the whole reply once, or with what arrived marked interrupted.
        ended = re.compile(f"SLOWEND|{INTERRUPTED}")
        for tab in tabs:
            expect(last_reply(tab)).to_contain_text(ended, timeout=90_000)
        with multi.database.connect() as conn:
            status, content = conn.execute(
                text("SELECT status, content FROM message WHERE role = 'assistant'")
            ).one()
        assert status in ("complete", "error"), status
        assert REPLY.startswith(content) and content.startswith("SLOWSTART"), content[:80]
        for tab in tabs:
            shown = reply_text(tab)
            assert shown.count("SLOWSTART") == 1, shown[:200]  # nothing twice
            if status == "complete":
                assert WORDS in shown and "SLOWEND" in shown
            else:
                assert INTERRUPTED in shown and content.split()[-1] in shown
    finally:
        for context in contexts:
            context.close()
