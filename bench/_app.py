"""Start and stop Parley's production build for a benchmark, on loopback only.

Like ``tests/e2e/conftest.py``: ``reflex run --env prod`` on one free port (pages and API
together), with the scripted provider (``PARLEY_FAKE_SCRIPT``) as the default model, a
temporary data directory, and nothing that phones home. The backend binds 127.0.0.1.

By default the app runs from a snapshot: a temporary copy of the repository's files
(tracked and untracked, not ignored), plus a copy of ``.web`` when one exists so no fresh
``npm install`` is needed. Then a build never races with another one in the working tree,
and edits made while a benchmark runs do not leak into it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from types import TracebackType
from typing import Any

from playwright._impl._api_structures import SetCookieParam  # the type add_cookies takes

from bench._common import ROOT

STARTUP_TIMEOUT = 900.0  # a cold start installs node_modules and builds the frontend
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def source_files(source: Path = ROOT) -> list[str]:
    """The repository's files as git sees them: tracked and untracked, not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return sorted({p for p in out.decode().split("\0") if p and (source / p).is_file()})


def snapshot(dest: Path, *, with_web: bool, source: Path = ROOT, ref: str | None = None) -> Path:
    """Copy the app into ``dest``: the working tree's files, or commit ``ref``'s (``git
    archive``); then ``.web`` (and its node_modules) from the working tree if asked and present.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if ref is not None:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref],
            cwd=source,
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=120)
    else:
        for rel in source_files(source):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, target)
    web = source / ".web"
    if with_web and web.is_dir():
        subprocess.run(["cp", "-a", str(web), str(dest / ".web")], check=True, timeout=600)
    return dest


def app_env(
    data_dir: Path, script: Path | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PARLEY_DATA_DIR": str(data_dir),
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "NPM_CONFIG_FUND": "false",
        "NPM_CONFIG_AUDIT": "false",
    }
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "PARLEY_OPENAI_COMPAT_BASE_URL",
    ):
        env.pop(name, None)
    # The benchmarks drive many sessions of one signed-in user: the per-IP, per-user and
    # per-project windows and the concurrent-stream cap (app/guards) would refuse them, and
    # they measure the streaming path, not the guards.
    for name in ("IP", "USER", "PROJECT"):
        env[f"PARLEY_RATE_REQUESTS_PER_{name}"] = ""
        env[f"PARLEY_RATE_TOKENS_PER_{name}"] = ""
    env["PARLEY_CONCURRENT_STREAMS_PER_USER"] = "0"
    if script is not None:
        env["PARLEY_FAKE_SCRIPT"] = str(script)
        env["PARLEY_DEFAULT_MODEL"] = "fake"
    env.update(extra or {})
    return env


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """CPU seconds (user + system, reaped children included) and RSS of a process group;
    ``backend_rss`` leaves out the group's leader (the ``reflex run`` CLI, which only waits).
    """

    cpu_s: float
    rss_bytes: int
    processes: int
    backend_rss: int


def group_usage(pgid: int) -> GroupUsage:
    """Sum over every live process in group ``pgid``, read from /proc/<pid>/stat.

    ``cutime + cstime`` count children that exited and were waited for, so the sum does
    not drop when a worker ends between two readings.
    """
    ticks = 0
    pages = 0
    leader_pages = 0
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            statm = Path(entry.path, "statm").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) != pgid:  # field 5, pgrp
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        ticks += utime + stime + cutime + cstime
        resident = int(statm.split()[1])
        pages += resident
        if int(entry.name) == pgid:
            leader_pages = resident
        count += 1
    return GroupUsage(ticks / CLK_TCK, pages * PAGE_SIZE, count, (pages - leader_pages) * PAGE_SIZE)


def thread_cpu(pgid: int) -> dict[str, float]:
    """CPU seconds (user + system) of every live thread in process group ``pgid``, from
    /proc/<pid>/task/<tid>/stat, summed by "<process name>: main thread" (tid = pid) or
    "<process name>: <thread name>" (digits dropped). Python names no OS threads, so a
    process's other Python threads (asyncio's thread pool) carry the process's name;
    Rust threads (granian's tokio runtime) carry their own."""
    out: dict[str, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != pgid:
                continue
            tasks = list(os.scandir(Path(entry.path, "task")))
        except (OSError, ValueError):
            continue
        process = stat[stat.index("(") + 1 : stat.rindex(")")]
        for task in tasks:
            try:
                text = Path(task.path, "stat").read_text()
            except OSError:
                continue
            comm = text[text.index("(") + 1 : text.rindex(")")].rstrip("0123456789")
            if task.name == entry.name:
                comm = f"{process}: main thread"
            elif comm == process:
                comm = f"{process}: other Python threads"
            else:
                comm = f"{process}: {comm}"
            fields = text[text.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
            out[comm] = out.get(comm, 0.0) + cpu
    return out


def descendants_cpu_s(root: int) -> float:
    """CPU seconds (user + system, reaped children included) of every live descendant of
    process ``root`` (not ``root`` itself), e.g. the browsers a Playwright driver started."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(x) for x in fields[11:15])
    total = 0
    for pid in ticks:
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            total += ticks[pid]
    return total / CLK_TCK


SESSION_COOKIE = "parley_session"  # app/services/credentials.py
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench password, loopback only"  # a throwaway app on loopback


def post_form(url: str, route: str, fields: Mapping[str, str]) -> tuple[int, str, str]:
    """POST a form to ``url + route`` as a page of ``url`` would (its Origin), without
    following the redirect: (status, Location, the session cookie it set or "")."""
    parts = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode(dict(fields))
    connection = HTTPConnection(parts.hostname or HOST, parts.port, timeout=30)
    try:
        connection.request(
            "POST",
            route,
            body=body,
            headers={
                "Origin": url,
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body)),
            },
        )
        response = connection.getresponse()
        response.read()
        cookie = ""
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == SESSION_COOKIE:
                cookie = rest.split(";", 1)[0]
        return response.status, response.headers.get("location", ""), cookie
    finally:
        connection.close()


def session_token(url: str, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> str:
    """Sign up through the real route (the first account on a fresh install is its admin),
    or log in if the address is taken; the session cookie's value. Every page, event and
    live-reply stream of Parley wants a signed-in user."""
    account = {"email": email, "password": password}
    status, location, token = post_form(
        url, "/_parley/auth/signup", {**account, "confirm": password, "display_name": "Bench"}
    )
    if not token:
        status, location, token = post_form(url, "/_parley/auth/login", account)
    if not token:
        raise RuntimeError(f"could not sign in to {url}: HTTP {status} to {location!r}")
    return token


def browser_cookie(url: str, token: str) -> SetCookieParam:
    """The session cookie for a Playwright context (``context.add_cookies([...])``)."""
    return {"name": SESSION_COOKIE, "value": token, "url": url, "httpOnly": True, "sameSite": "Lax"}


@dataclass
class StartTimes:
    """Seconds from launch until the backend answered /ping and until / answered 200."""

    ping_s: float = float("nan")
    page_s: float = float("nan")


@dataclass
class ProdApp:
    """``reflex run --env prod`` in ``root``; use as a context manager."""

    root: Path
    rules: Sequence[Mapping[str, Any]] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    workdir: Path | None = None
    startup_timeout: float = STARTUP_TIMEOUT
    times: StartTimes = field(default_factory=StartTimes)
    proc: subprocess.Popen[bytes] | None = None
    _own_workdir: tempfile.TemporaryDirectory[str] | None = None
    _token: str = ""

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def session_cookie(self) -> str:
        """A ``Cookie`` header value signed in as the benchmark's user (one session)."""
        if not self._token:
            self._token = session_token(self.url)
        return f"{SESSION_COOKIE}={self._token}"

    def browser_cookies(self) -> list[SetCookieParam]:
        """The same session, for ``context.add_cookies``."""
        self.session_cookie()
        return [browser_cookie(self.url, self._token)]

    @property
    def log(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "app.log"

    @property
    def database(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "data" / "parley.db"

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def usage(self) -> GroupUsage:
        return group_usage(self.pgid)

    def start(self) -> ProdApp:
        if self.workdir is None:
            self._own_workdir = tempfile.TemporaryDirectory(prefix="parley-bench-")
            self.workdir = Path(self._own_workdir.name)
        self.port = self.port or free_port()
        script = None
        if self.rules is not None:
            script = self.workdir / "script.json"
            script.write_text(json.dumps(list(self.rules)), encoding="utf-8")
        env = app_env(self.workdir / "data", script, self.env)
        reflex = str(Path(sys.executable).parent / "reflex")
        command = [reflex, "run", "--env", "prod", "--backend-host", HOST]
        command += ["--frontend-port", str(self.port), "--backend-port", str(self.port)]
        started = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_up(started)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self, started: float) -> None:
        assert self.proc is not None
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.tail()}")
            if self.times.ping_s != self.times.ping_s and _ok(self.url + "/ping"):
                self.times.ping_s = time.monotonic() - started
            if self.times.ping_s == self.times.ping_s and _ok(self.url + "/"):
                self.times.page_s = time.monotonic() - started
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"the app did not start within {self.startup_timeout:.0f} s:\n{self.tail()}"
        )

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
            except ProcessLookupError:
                pass
        # Anything left in the group (a worker that ignored SIGTERM) goes too.
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._own_workdir is not None:
            self._own_workdir.cleanup()
            self._own_workdir = None

    def __enter__(self) -> ProdApp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system's Chromium when installed, else Playwright's own (None)."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def assert_loopback(url: str) -> None:
    """Refuse to drive anything but this machine."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmarks only target loopback, not {host!r}")
