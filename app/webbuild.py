"""One command at a time per Reflex build directory, and a broken build repaired before it
breaks the next one.

``python -m app.webbuild --web-dir DIR -- reflex run ...`` runs the command with Reflex's
build directory (``REFLEX_WEB_WORKDIR``) set to ``DIR``, and:

- holds an exclusive lock on ``DIR`` for as long as the command lives, so two commands never
  write one build directory at once (the second waits, and says for whom);
- holds a second lock, one per checkout, while the command installs and builds (until Reflex
  prints "App running at"), so builds in different directories never interleave their writes
  to the shared ``reflex.lock/`` nor fight for the two cores;
- records how each build ended, and a summary of ``node_modules`` (files and bytes per
  package) once a build has succeeded. The next command checks the directory against that
  record and deletes it, with a message that says why, when a build was interrupted or a
  package lost files since (as when ``square-pen.mjs`` vanished from ``lucide-react``). Reflex
  then rebuilds it from scratch.

``make run`` and ``make dev`` use ``.web``; the browser tests use ``.cache/web-test``. The
records and locks live in ``.cache/webbuild/``. Standard library only: it runs before, and
around, Reflex.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

READY_LINE = "App running at"  # Reflex prints it once the build is served (dev and prod)
# Reflex skips its npm install while this file says the packages are installed.
INSTALL_RECORD = "reflex.install_frontend_packages.cached"
PREFIX = "webbuild: "


@dataclass(frozen=True, slots=True)
class BuildDir:
    """A build directory and the files that guard it."""

    web_dir: Path
    label: str  # web_dir from the checkout's root, for messages
    states_dir: Path
    lock: Path  # held while a command uses web_dir
    record: Path  # how the last build ended, and node_modules' summary
    build_lock: Path  # held while any command of this checkout installs or builds

    @classmethod
    def at(cls, root: Path, web_dir: Path) -> BuildDir:
        web_dir = web_dir if web_dir.is_absolute() else root / web_dir
        guards = root / ".cache" / "webbuild"
        name = web_dir.relative_to(root).as_posix().strip(".").replace("/", "-") or "web"
        states = root / ".states" if web_dir == root / ".web" else Path(f"{web_dir}-states")
        return cls(
            web_dir=web_dir,
            label=web_dir.relative_to(root).as_posix(),
            states_dir=states,
            lock=guards / f"{name}.lock",
            record=guards / f"{name}.json",
            build_lock=guards / "build.lock",
        )


def say(message: str, out: IO[str]) -> None:
    out.write(PREFIX + message + "\n")
    out.flush()


def lock(path: Path, what: str, out: IO[str]) -> int:
    """An exclusive lock on ``path`` (created if missing); waits, saying so, while it is held.

    The lock file names its holder, for the message the next waiter prints. The lock goes
    when its descriptor closes, which a crash or a kill does too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = path.read_text(encoding="utf-8", errors="replace").strip() or "another command"
        say(f"waiting for {what}: in use by {holder}", out)
        fcntl.flock(fd, fcntl.LOCK_EX)
        say(f"{what} is free; going on", out)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[1:])[:200]})".encode(), 0)
    return fd


def unlock(fd: int) -> None:
    os.close(fd)  # closing the last descriptor releases the lock


def summarise(node_modules: Path) -> dict[str, list[int]]:
    """Files and bytes under each installed package (``name`` or ``@scope/name``)."""
    summary: dict[str, list[int]] = {}
    if not node_modules.is_dir():
        return summary
    for entry in sorted(node_modules.iterdir()):
        if entry.name.startswith("."):
            continue
        packages = (
            sorted(entry.iterdir()) if entry.name.startswith("@") and entry.is_dir() else [entry]
        )
        for package in packages:
            files = size = 0
            for folder, _dirs, names in os.walk(package):
                for name in names:
                    files += 1
                    size += os.lstat(os.path.join(folder, name)).st_size
            summary[package.relative_to(node_modules).as_posix()] = [files, size]
    return summary


def read_record(path: Path) -> dict[str, object]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(path: Path, record: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.replace(path)  # atomic: a crash leaves the old record or the new one


def diagnose(build: BuildDir) -> str | None:
    """Why ``build.web_dir`` cannot be trusted for the next build, or None if it can."""
    web_dir, record = build.web_dir, read_record(build.record)
    node_modules = web_dir / "node_modules"
    if not web_dir.exists():
        return None
    if record.get("state") == "building":
        return (
            f"its last build ({record.get('command', 'unknown command')}, pid "
            f"{record.get('pid')}) stopped before it finished: node_modules may be half-installed"
        )
    if not node_modules.is_dir():
        if (web_dir / INSTALL_RECORD).exists():
            return "node_modules is missing, yet Reflex's install record says it is installed"
        return None
    known = record.get("node_modules")
    if not isinstance(known, dict) or not known:
        if record.get("state") == "failed":
            return "its last build failed, and no successful build has vouched for node_modules"
        return None  # nothing recorded here yet (made before this guard): nothing to compare
    now = summarise(node_modules)
    damaged: list[str] = []
    for package, counts in known.items():
        if not isinstance(counts, list) or len(counts) != 2:
            continue
        files, size = now.get(package, (0, 0))
        if package not in now:
            damaged.append(f"{package} (missing)")
        elif files < counts[0] or size < counts[1]:
            damaged.append(
                f"{package} (had {counts[0]} files, {counts[1]} bytes; now {files}, {size})"
            )
    if damaged:
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        return (
            "packages in node_modules lost files since its last good build: "
            + ", ".join(damaged[:3])
            + more
        )
    return None


def repair(build: BuildDir, reason: str, out: IO[str]) -> None:
    say(
        f"{build.label} is broken: {reason}. Deleting it so this command rebuilds it "
        "from scratch (npm install: a few minutes).",
        out,
    )
    shutil.rmtree(build.web_dir)
    write_record(build.record, {"state": "repaired", "reason": reason})


def guarded_env(build: BuildDir, environ: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env["REFLEX_WEB_WORKDIR"] = str(build.web_dir)
    env["REFLEX_STATES_WORKDIR"] = str(build.states_dir)
    if sys.stdout.isatty():
        env.setdefault("FORCE_COLOR", "1")  # Reflex's output goes through a pipe to us
    return env


def run(
    command: Sequence[str],
    build: BuildDir,
    out: IO[str] | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Run ``command`` on ``build``'s directory under its locks; its exit code."""
    return _run(command, build, sys.stdout if out is None else out, environ)


def _run(
    command: Sequence[str], build: BuildDir, out: IO[str], environ: dict[str, str] | None
) -> int:
    dir_lock = lock(build.lock, f"the build directory {build.label}", out)
    build_lock: int | None = lock(build.build_lock, "this checkout's build step", out)
    previous_term = signal.getsignal(signal.SIGTERM)
    previous_int = signal.getsignal(signal.SIGINT)
    summary: threading.Thread | None = None
    try:
        reason = diagnose(build)
        if reason is not None:
            repair(build, reason, out)
        known = read_record(build.record).get("node_modules") or {}
        started = {"pid": os.getpid(), "command": " ".join(command)[:200], "node_modules": known}
        write_record(build.record, {"state": "building", **started})
        child = subprocess.Popen(
            list(command),
            env=guarded_env(build, environ),
            stdout=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
            pass_fds=(dir_lock,),  # the directory stays locked while the child lives
        )
        # Ctrl+C reaches the child from the terminal by itself; a SIGTERM to us is passed on.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda _signum, _frame: child.terminate())
        assert child.stdout is not None
        for line in child.stdout:
            out.write(line)
            out.flush()
            if summary is None and READY_LINE in line:
                build_lock = _release(build_lock)
                summary = _record_success(build, started)
        code = child.wait()
        if summary is None:
            # Failed before serving. A code error is no damage: "failed", not "building". But
            # with no good build on record, nothing vouches for node_modules: repair next time.
            write_record(build.record, {"state": "failed", "code": code, **started})
        return code
    finally:
        if summary is not None:
            summary.join()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        _release(build_lock)
        unlock(dir_lock)


def _release(fd: int | None) -> None:
    if fd is not None:
        unlock(fd)


def _record_success(build: BuildDir, started: dict[str, object]) -> threading.Thread:
    """Record the success, then summarise node_modules while the output keeps flowing."""
    record = {**started, "state": "ready", "finished": time.time()}
    write_record(build.record, record)

    def summarise_now() -> None:
        write_record(
            build.record, {**record, "node_modules": summarise(build.web_dir / "node_modules")}
        )

    thread = threading.Thread(target=summarise_now, daemon=True)
    thread.start()
    return thread


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.webbuild", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--web-dir", type=Path, default=Path(".web"))
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return run(command, BuildDir.at(Path.cwd(), args.web_dir))


if __name__ == "__main__":
    raise SystemExit(main())
