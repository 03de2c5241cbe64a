"""Start the real app (production build) with a scripted provider, and drive it in Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import Engine, create_engine

from app.services.credentials import SESSION_COOKIE
from bench._app import session_token
from tests.demo.server import free_port, wait_until_up  # one way to start and await the app
from tests.e2e.code_panel_reply import CODE_PANEL_REPLY
from tests.providers.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]

# What the scripted provider answers; tests/e2e pick a rule by what they type.
LONG_REPLY = " ".join(f"word{i}" for i in range(120))
XSS_REPLY = (
    'Look: <img src=x onerror="window.__xss=1"> and '
    "[a link](javascript:window.__xss=2) and <script>window.__xss=3</script>\n\n"
    "```python\nprint('safe')\n```\n"
)
# A 2000-token reply (2000 chunks of about 6 characters, in paragraphs), to count wire bytes.
WIRE_REPLY = "".join(f"t{i:04d}" + ("\n\n" if i % 40 == 39 else " ") for i in range(2000))
# Tables, a task list and two fenced blocks, one without a language.
MARKDOWN_REPLY = (
    "| Model | Speed |\n|---|---|\n| fake | fast |\n\n"
    "- [x] write the tests\n- [ ] ship it\n\n"
    "```python\ndef greet(name):\n    return f'hi {name}'\n```\n\n"
    "```\nplain text block\n```\n"
)
CONTACTS = {
    "contacts": [
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "phone": "+44 20 7946 0000",
            "company": "Analytical Engines",
            "addresses": [{"street": "12 St James's Sq", "city": "London", "type": "work"}],
        }
    ]
}
WIRE_CHUNK_CHARS = 6
LONG_REPLY_CHUNK_CHARS = 6
RULES: list[dict[str, Any]] = [
    {
        "match": "^measure the wire",
        "reply": WIRE_REPLY,
        "chunk_chars": WIRE_CHUNK_CHARS,
        "delay_ms": 1,
    },
    {
        "match": "^count slowly",
        "reply": LONG_REPLY,
        "chunk_chars": LONG_REPLY_CHUNK_CHARS,
        "delay_ms": 25,
    },
    {"match": "^stop me", "reply": LONG_REPLY, "chunk_chars": 4, "delay_ms": 120},
    # About 100 s unless stopped: replies that are still streaming minutes later (test_guards).
    {"match": "^hold the line", "reply": LONG_REPLY, "chunk_chars": 2, "delay_ms": 250},
    {"match": "^show xss", "reply": XSS_REPLY, "chunk_chars": 8, "delay_ms": 5},
    {"match": "^show markdown", "reply": MARKDOWN_REPLY, "chunk_chars": 9, "delay_ms": 2},
    {
        "match": "^break please",
        "reply": "Half a ",
        "error": "overloaded",
        "error_message": "The provider is overloaded (scripted).",
    },
    {
        "match": "^show a function",
        "reply": "Here is a function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nDone.",
        "chunk_chars": 8,
        "delay_ms": 5,
    },
    # A tall reply (a short paragraph a line) that streams for about six seconds.
    {
        "match": "^many lines",
        "reply": "".join(f"line {i:03d}\n\n" for i in range(200)),
        "chunk_chars": 10,
        "delay_ms": 30,
    },
    {"match": "^show code", "reply": CODE_PANEL_REPLY, "chunk_chars": 24, "delay_ms": 2},
    {"match": "^User: show code", "reply": "Slugify helper for URLs"},  # its title
    # Agent mode (tests/e2e/test_agent.py): a tool call, then an answer that takes its time.
    {
        "match": "^agent sum",
        "reply": "Let me work it out. ",
        "tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}],
    },
    {
        "match": "^agent sum",
        "after_tool": True,
        "reply": "The product is 42, as the calculator says.",
        "chunk_chars": 2,
        "delay_ms": 60,
        "first_delay_ms": 800,
    },
    # Agent mode with a tool of a local MCP server (tests/unit/mcp/server.py, "lab").
    {
        "match": "^agent lab",
        "tool_calls": [{"name": "lab__add", "arguments": {"a": 20, "b": 22}}],
    },
    {"match": "^agent lab", "after_tool": True, "reply": "The lab server says 42."},
    # Extraction: the contacts extractor's forced tool call.
    {"match": "^Ada Lovelace, ada@", "tool_calls": [{"name": "contacts", "arguments": CONTACTS}]},
]


ANTHROPIC_TEST_KEY = "sk-ant-e2e-not-a-real-key"
MCP_COMMAND = [sys.executable, str(ROOT / "tests" / "unit" / "mcp" / "server.py"), "stdio"]
# Replies one user may have streaming at once on the test server (a fresh user fills it).
STREAMS_PER_USER = 3


# PARLEY_E2E_CPU_THROTTLE=4 runs every page on a CPU four times slower (Chrome DevTools'
# throttling), to bring out races between navigation, hydration and events.
THROTTLE = float(os.environ.get("PARLEY_E2E_CPU_THROTTLE", "1"))

# Assertions wait up to 15 s (Playwright's default is 5 s): CI machines can be busy.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def anthropic_server() -> Iterator[LoopbackServer]:
    """Stands in for Anthropic's API (ANTHROPIC_BASE_URL); each test scripts its replies."""
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def anthropic(anthropic_server: LoopbackServer) -> Iterator[LoopbackServer]:
    anthropic_server.reset()
    yield anthropic_server
    assert anthropic_server.pending == 0, "a scripted reply was never requested"


@pytest.fixture(scope="package")
def app_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="package")
def app_database(app_workdir: Path) -> Iterator[Engine]:
    """The running app's own SQLite database, to check what it recorded."""
    engine = create_engine(f"sqlite:///{app_workdir / 'data' / 'parley.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="package")
def app_url(app_workdir: Path, anthropic_server: LoopbackServer) -> Iterator[str]:
    workdir = app_workdir
    script = workdir / "script.json"
    script.write_text(json.dumps(RULES), encoding="utf-8")
    # A real MCP server over stdio, written with the SDK's server side: its tools join the
    # agent's (as "lab__add", "lab__slow", "lab__fail").
    mcp_servers = workdir / "mcp.json"
    mcp_servers.write_text(json.dumps([{"name": "lab", "command": MCP_COMMAND}]), encoding="utf-8")
    port = free_port()
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PARLEY_DATA_DIR": str(workdir / "data"),
        "PARLEY_FAKE_SCRIPT": str(script),
        "PARLEY_MCP_SERVERS": str(mcp_servers),
        "PARLEY_DEFAULT_MODEL": "fake",
        # Short local replies, so the built-in model's test is quick even on a busy machine.
        "PARLEY_LOCAL_MAX_TOKENS": "64",
        "ANTHROPIC_API_KEY": ANTHROPIC_TEST_KEY,
        "ANTHROPIC_BASE_URL": anthropic_server.url,
        # One attempt per model, so a scripted 529 fails over at once; no cooldown.
        "PARLEY_RETRY_MAX": "0",
        "PARLEY_COOLDOWN_FAILURES": "1000",
        # Every test signs in as one user: the per-user window would count the whole
        # suite's sends, which the per-IP window (the same machine) bounds already.
        "PARLEY_RATE_REQUESTS_PER_USER": "120/minute",
        # The per-user limit tests/e2e/test_guards.py fills: replies streaming at once.
        "PARLEY_CONCURRENT_STREAMS_PER_USER": str(STREAMS_PER_USER),
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    log = workdir / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                # Its own build directory, locked and checked (app/webbuild.py): never make run's.
                sys.executable,
                "-m",
                "app.webbuild",
                "--web-dir",
                ".cache/web-test",
                "--",
                str(venv_bin / "reflex"),
                "run",
                "--env",
                "prod",
                "--frontend-port",
                str(port),
                "--backend-port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:
        wait_until_up(url, proc, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ----- accounts: every page is signed in ----------------------------------------------------

E2E_EMAIL = "e2e-admin@example.com"
E2E_PASSWORD = "e2e password, loopback only"
AUTH = "/_parley/auth"


@pytest.fixture(scope="package")
def e2e_account(app_url: str) -> tuple[str, str]:
    """The suite's user, signed up through the real route before any page opens: the first
    account on this fresh install, so its admin. (email, password)"""
    session_token(app_url, E2E_EMAIL, E2E_PASSWORD)
    return E2E_EMAIL, E2E_PASSWORD


def post_auth(context: BrowserContext, app_url: str, route: str, form: dict[str, str]) -> str:
    """POST a form to an auth route as the app's own page does (its Origin), with the
    context's cookies; the redirect's target (the route always answers 303)."""
    fields: dict[str, str | float | bool] = dict(form)
    response = context.request.post(
        f"{app_url}{AUTH}/{route}", form=fields, headers={"Origin": app_url}, max_redirects=0
    )
    assert response.status == 303, f"{route}: HTTP {response.status}"
    return response.headers.get("location", "")


def has_session(context: BrowserContext, app_url: str) -> bool:
    return any(c.get("name") == SESSION_COOKIE for c in context.cookies(app_url))


def sign_in(context: BrowserContext, app_url: str, email: str, password: str) -> None:
    """Log the context in through the real login route: its own session (HttpOnly cookie)."""
    target = post_auth(context, app_url, "login", {"email": email, "password": password})
    assert "error=" not in target and has_session(context, app_url), target


def sign_up(context: BrowserContext, app_url: str, email: str, password: str) -> None:
    """Sign a new user up through the real route; the context is then signed in as them."""
    form = {"email": email, "password": password, "confirm": password, "display_name": ""}
    target = post_auth(context, app_url, "signup", form)
    assert "error=" not in target and has_session(context, app_url), target


def new_signed_in_context(
    browser: Browser, app_url: str, account: tuple[str, str], **options: Any
) -> BrowserContext:
    """A context logged in as ``account``; the caller closes it (module-scoped fixtures)."""
    context = browser.new_context(**options)
    sign_in(context, app_url, *account)
    return context


# Package scope: Playwright's sync API keeps an event loop running while the browser is
# open, which async tests elsewhere cannot share; it closes when the e2e tests are done.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium: the system's when installed, else Playwright's own."""
    system = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=system, args=args)
        yield browser
        browser.close()


def watch_errors(page: Page) -> list[str]:
    """What the page logs as an error or throws, from now on."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console.error: {msg.text}") if msg.type == "error" else None,
    )
    return problems


@pytest.fixture
def page(browser: Browser, app_url: str, e2e_account: tuple[str, str]) -> Iterator[Page]:
    """A fresh browser context signed in as the suite's user (its own session, through the
    login route); the test fails if the page logs an error or throws."""
    context = new_signed_in_context(
        browser, app_url, e2e_account, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    if THROTTLE > 1:
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
    problems = watch_errors(page)
    yield page
    context.close()
    assert not problems, "the page reported errors:\n" + "\n".join(problems)
