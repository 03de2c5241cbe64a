"""Parley for the demos: the production build on a fresh data directory, a scripted model
(``PARLEY_FAKE_SCRIPT``) as the default, and the loopback server standing in for Anthropic so
the failover story has a provider that really fails (a 529 on the wire). Its first account,
so its admin, is the operator's (``OPERATOR_EMAIL``), made as soon as it is up: the stories'
people are ordinary members, and the usage story signs in as the operator.

Started as the browser tests start it (tests/e2e/conftest.py), through ``app.webbuild`` in a
build directory of its own: ``.cache/web-demo`` for ``make demo``; the pytest run shares the
browser tests' ``.cache/web-test`` (one build, and the build lock keeps them apart).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._app import session_token
from tests.demo.script import rules
from tests.providers.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 900  # a first run installs node_modules and builds the frontend
DEMO_ANTHROPIC_KEY = "sk-ant-demo-not-a-real-key"
OPERATOR_EMAIL = "margaret@example.com"
OPERATOR_PASSWORD = "the operator's demo passphrase"


@dataclass(frozen=True, slots=True)
class RunningApp:
    url: str
    data_dir: Path
    anthropic: LoopbackServer  # script it before an action that reaches "Anthropic"

    @property
    def database(self) -> Path:
        return self.data_dir / "parley.db"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Parley exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/ping", timeout=2) as ping:
            if ping.status == 200:
                with urllib.request.urlopen(url + "/", timeout=5) as page:
                    if page.status == 200:
                        return
        time.sleep(1)
    raise RuntimeError(f"Parley did not start in {STARTUP_TIMEOUT} s:\n{log.read_text()[-4000:]}")


def app_env(work: Path, anthropic: LoopbackServer, *, fast: bool) -> dict[str, str]:
    script = work / "script.json"
    script.write_text(json.dumps(rules(fast=fast)), encoding="utf-8")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PARLEY_DATA_DIR": str(work / "data"),
        "PARLEY_FAKE_SCRIPT": str(script),
        "PARLEY_DEFAULT_MODEL": "fake",
        "ANTHROPIC_API_KEY": DEMO_ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic.url,
        # One attempt per model, so a 529 fails over at once, and no cooldown between stories.
        "PARLEY_RETRY_MAX": "0",
        "PARLEY_COOLDOWN_FAILURES": "1000",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def running_app(build_dir: str, *, fast: bool, log_to: Path | None = None) -> Iterator[RunningApp]:
    """Parley on a fresh temporary data directory, until the block ends."""
    anthropic = LoopbackServer().start()
    with tempfile.TemporaryDirectory(prefix="parley-demo-") as tmp:
        work = Path(tmp)
        log = log_to or work / "app.log"
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "app.webbuild",
            "--web-dir",
            build_dir,
            "--",
            str(Path(sys.executable).parent / "reflex"),
            "run",
            "--env",
            "prod",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=app_env(work, anthropic, fast=fast),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://localhost:{port}"
        try:
            wait_until_up(url, proc, log)
            session_token(url, OPERATOR_EMAIL, OPERATOR_PASSWORD)  # the first account: admin
            yield RunningApp(url=url, data_dir=work / "data", anthropic=anthropic)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            anthropic.stop()
