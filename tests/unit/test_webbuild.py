"""Builds that cannot break each other (app/webbuild.py), with real processes on a fake checkout.

Each test runs ``python -m app.webbuild`` in a temporary directory standing for a checkout. The
guarded command is a small Python script standing for ``reflex run``: it marks files, prints
Reflex's "App running at" line when its "build" is done, and waits for a file before exiting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.webbuild import INSTALL_RECORD, READY_LINE, BuildDir, summarise

ROOT = Path(__file__).resolve().parents[2]

# argv: name, ready (1 or 0), exit code. Marks <name>.started (its build dir), then (if
# ready) prints the ready line, then waits for <name>.release, marks <name>.ended and exits
# with the code.
CHILD = f"""
import os, sys, time
from pathlib import Path
name, ready, code = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
Path(name + ".starting").write_text(os.environ["REFLEX_WEB_WORKDIR"])
os.replace(name + ".starting", name + ".started")  # whole when seen: no read of a half file
if ready:
    print("{READY_LINE}: http://127.0.0.1:1/", flush=True)
while not Path(name + ".release").exists():
    time.sleep(0.02)
Path(name + ".ended").touch()
sys.exit(code)
"""


class Command:
    """One ``python -m app.webbuild`` process, its output in a file."""

    def __init__(self, root: Path, web_dir: str, name: str, *, ready: bool, code: int = 0):
        self.root, self.name = root, name
        self.log = root / f"{name}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "app.webbuild", "--web-dir", web_dir, "--"),
                    *(sys.executable, "-c", CHILD, name, "1" if ready else "0", str(code)),
                ],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def started(self) -> bool:
        return (self.root / f"{self.name}.started").exists()

    def release(self) -> int:
        (self.root / f"{self.name}.release").touch()
        return self.proc.wait(timeout=20)


def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for release in ("a", "b", "c"):  # let any child still waiting go
        (tmp_path / f"{release}.release").touch()


def fake_web(root: Path, web_dir: str = ".web") -> Path:
    """A small .web as Reflex leaves it after installing: lucide-react among the packages."""
    web = root / web_dir
    icons = web / "node_modules" / "lucide-react" / "dist" / "esm" / "icons"
    icons.mkdir(parents=True)
    for icon in ("square-pen", "send", "copy"):
        (icons / f"{icon}.mjs").write_text(f"export default '{icon}';\n")
    (web / "node_modules" / "lucide-react" / "package.json").write_text("{}\n")
    scoped = web / "node_modules" / "@radix-ui" / "themes"
    scoped.mkdir(parents=True)
    (scoped / "package.json").write_text("{}\n")
    (web / INSTALL_RECORD).write_text("cached\n")
    return web


def test_two_commands_on_one_build_directory_run_one_after_the_other(checkout: Path) -> None:
    first = Command(checkout, ".web", "a", ready=True)
    until(first.started)
    second = Command(checkout, ".web", "b", ready=True)
    until(lambda: "waiting for the build directory .web: in use by pid" in second.output)
    time.sleep(0.3)
    assert not second.started()  # it waits while the first one serves from .web

    assert first.release() == 0
    until(second.started)
    assert "the build directory .web is free" in second.output
    assert second.release() == 0


def test_run_and_test_directories_build_in_turn_and_serve_together(checkout: Path) -> None:
    run = Command(checkout, ".web", "a", ready=False)  # still installing and building
    until(run.started)
    test = Command(checkout, ".cache/web-test", "b", ready=True)
    until(lambda: "waiting for this checkout's build step" in test.output)
    time.sleep(0.3)
    assert not test.started()
    assert run.release() == 0

    until(test.started)
    assert (checkout / "b.started").read_text() == str(checkout / ".cache" / "web-test")
    until(lambda: READY_LINE in test.output)
    serving = Command(checkout, ".web", "c", ready=True)
    until(serving.started)  # the test build has finished: the run may build and serve
    assert (checkout / "c.started").read_text() == str(checkout / ".web")
    assert not (checkout / "b.ended").exists()  # both serve at once, each from its own dir
    assert test.release() == 0
    assert serving.release() == 0


def test_a_file_lost_from_node_modules_is_found_and_the_directory_rebuilt(
    checkout: Path,
) -> None:
    web = fake_web(checkout)
    good = Command(checkout, ".web", "a", ready=True)
    assert good.release() == 0
    assert "is broken" not in good.output
    (web / "node_modules" / "lucide-react" / "dist" / "esm" / "icons" / "square-pen.mjs").unlink()

    after = Command(checkout, ".web", "b", ready=True)
    until(after.started)
    assert not web.exists()  # deleted before the command ran, so Reflex rebuilds it
    assert (
        "webbuild: .web is broken: packages in node_modules lost files since its last good "
        "build: lucide-react (had 4 files, 78 bytes; now 3, 49). Deleting it" in after.output
    )
    assert after.release() == 0


def test_a_build_cut_short_is_repaired_by_the_next_command(checkout: Path) -> None:
    web = fake_web(checkout)
    cut = Command(checkout, ".web", "a", ready=False)  # killed while "installing"
    until(cut.started)
    os.killpg(cut.proc.pid, signal.SIGKILL)
    cut.proc.wait(timeout=20)

    after = Command(checkout, ".web", "b", ready=True)
    until(after.started)
    assert not web.exists()
    assert "webbuild: .web is broken: its last build (" in after.output
    assert "stopped before it finished: node_modules may be half-installed" in after.output
    assert after.release() == 0


def test_a_failed_build_after_a_good_one_keeps_the_directory(checkout: Path) -> None:
    web = fake_web(checkout)
    assert Command(checkout, ".web", "a", ready=True).release() == 0
    assert Command(checkout, ".web", "b", ready=False, code=3).release() == 3  # a code error

    after = Command(checkout, ".web", "c", ready=True)
    assert after.release() == 0
    assert "is broken" not in after.output
    assert (web / "node_modules" / "lucide-react" / "package.json").exists()


def test_a_failed_first_build_is_not_trusted(checkout: Path) -> None:
    web = fake_web(checkout)  # made before any recorded success (say, by an older checkout)
    assert Command(checkout, ".web", "a", ready=False, code=1).release() == 1

    after = Command(checkout, ".web", "b", ready=True)
    assert after.release() == 0
    assert "no successful build has vouched for node_modules" in after.output
    assert not web.exists()


def test_node_modules_gone_but_recorded_as_installed_is_repaired(checkout: Path) -> None:
    web = fake_web(checkout)
    assert Command(checkout, ".web", "a", ready=True).release() == 0
    subprocess.run(["rm", "-rf", str(web / "node_modules")], check=True)

    after = Command(checkout, ".web", "b", ready=True)
    assert after.release() == 0
    assert "node_modules is missing, yet Reflex's install record says" in after.output
    assert not (web / INSTALL_RECORD).exists()


def test_the_summary_counts_files_and_bytes_per_package(tmp_path: Path) -> None:
    web = fake_web(tmp_path)
    assert summarise(web / "node_modules") == {
        "@radix-ui/themes": [1, 3],
        "lucide-react": [4, 3 + 29 + 23 + 23],  # package.json and three icons
    }


def test_the_tracked_gitignore_is_already_what_reflex_writes(tmp_path: Path) -> None:
    from reflex.utils.frontend_skeleton import initialize_gitignore

    tracked = (ROOT / ".gitignore").read_bytes()
    copy = tmp_path / ".gitignore"
    copy.write_bytes(tracked)
    initialize_gitignore(gitignore_file=copy)  # what every fresh `reflex run` does
    assert copy.read_bytes() == tracked


def test_every_build_output_is_ignored_by_git() -> None:
    build = BuildDir.at(ROOT, Path(".cache/web-test"))
    run = BuildDir.at(ROOT, Path(".web"))
    paths = [run.web_dir, run.states_dir, build.web_dir, build.states_dir, run.lock, run.record]
    relative = [str(path.relative_to(ROOT)) for path in paths]
    assert relative == [
        ".web",
        ".states",
        ".cache/web-test",
        ".cache/web-test-states",
        ".cache/webbuild/web.lock",
        ".cache/webbuild/web.json",
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *relative],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == relative


@pytest.mark.parametrize(
    ("variables", "host"), [({}, "127.0.0.1"), ({"HOST": "0.0.0.0"}, "0.0.0.0")]
)
def test_make_run_serves_on_this_machine_only_unless_host_says(
    variables: dict[str, str], host: str
) -> None:
    # Under `make test` this runs inside make: drop the parent's MAKEFLAGS/MAKELEVEL, which
    # would make the child print "Entering directory" lines among the recipe.
    inherited = {"HOST", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
    env = {key: value for key, value in os.environ.items() if key not in inherited} | variables
    recipe = subprocess.run(
        ["make", "--no-print-directory", "--dry-run", "--always-make", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = recipe.replace("\\\n", " ").splitlines()[-1].split()
    assert command[:6] == [
        f"{ROOT}/.venv/bin/python",
        "-m",
        "app.webbuild",
        "--web-dir",
        ".web",
        "--",
    ]
    assert command[6:10] == [f"{ROOT}/.venv/bin/reflex", "run", "--env", "prod"]
    assert command[command.index("--backend-host") + 1] == host
