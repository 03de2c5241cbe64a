"""Origin and Host checks with real HTTP requests and websocket handshakes, against the
middleware wrapping an ASGI app served by granian (Reflex's server) on a random port."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.guards.origins import (
    OriginGuard,
    allowed_hosts,
    allowed_origins,
    host_name,
    normalise_origin,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = "http://localhost:3000"
EVIL = "http://evil.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(target: str) -> Iterator[int]:
    port = _free_port()
    granian = Path(sys.executable).with_name("granian")
    process = subprocess.Popen(
        [str(granian), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), target],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("granian did not start")
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def guarded() -> Iterator[int]:
    yield from _serve("tests.unit.origin_app:app")


@pytest.fixture(scope="module")
def bare() -> Iterator[int]:
    yield from _serve("tests.unit.origin_app:inner")


def handshake(port: int, path: str, origin: str | None, host: str | None = None) -> int:
    """Open a websocket handshake by hand; the HTTP status the server answered with."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin else []),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


EVENT = "/_event/?EIO=4&transport=websocket"
STREAM = "/_parley/stream/1"


@pytest.mark.parametrize("path", [EVENT, STREAM])
def test_websockets_refuse_other_origins(guarded: int, path: str) -> None:
    assert handshake(guarded, path, GOOD) == 101
    assert handshake(guarded, path, "http://127.0.0.1:3000") == 101
    assert handshake(guarded, path, EVIL) == 403
    assert handshake(guarded, path, "http://localhost:3001") == 403  # another port
    assert handshake(guarded, path, "null") == 403  # a sandboxed or file: page
    assert handshake(guarded, path, None) == 101  # not a browser page


def test_the_event_websocket_refuses_on_its_own_with_the_configured_origins(bare: int) -> None:
    """Reflex's socket.io server gets the same list (rxconfig.py), so it refuses too."""
    assert handshake(bare, EVENT, GOOD) == 101
    assert handshake(bare, EVENT, EVIL) in (400, 403)


def test_uploads_refuse_other_origins(guarded: int) -> None:
    url = f"http://127.0.0.1:{guarded}/_upload"
    assert httpx.post(url, content=b"abc", headers={"Origin": GOOD}).text == "stored 3 bytes"
    refused = httpx.post(url, content=b"abc", headers={"Origin": EVIL})
    assert refused.status_code == 403 and "origin" in refused.text


def test_a_foreign_host_is_refused_against_dns_rebinding(guarded: int) -> None:
    url = f"http://127.0.0.1:{guarded}/"
    assert httpx.get(url).status_code == 200
    assert httpx.get(url, headers={"Host": f"localhost:{guarded}"}).status_code == 200
    rebound = httpx.get(url, headers={"Host": f"attacker.example:{guarded}"})
    assert rebound.status_code == 400
    assert handshake(guarded, STREAM, GOOD, host=f"attacker.example:{guarded}") == 400


def test_pages_carry_a_csp_that_allows_images_only_from_self(guarded: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{guarded}/")
    csp = response.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in csp and "*" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_origin_and_host_rules() -> None:
    assert allowed_origins("", 3000) == (
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
    )
    assert allowed_origins("https://Chat.Example.com/, https://x.example:443", 3000) == (
        "https://chat.example.com",
        "https://x.example",
    )
    assert normalise_origin("http://localhost:80") == "http://localhost"
    assert normalise_origin("http://localhost:99999") != "http://localhost"
    hosts = allowed_hosts("", allowed_origins("https://chat.example.com", 3000))
    assert {"chat.example.com", "localhost", "127.0.0.1", "::1"} == hosts
    assert host_name("[::1]:3000") == "::1" and host_name("Example.com:8000") == "example.com"
    guard = OriginGuard(["https://chat.example.com"], hosts)
    assert guard.host_ok("chat.example.com") and not guard.host_ok(None)
    assert not guard.host_ok("chat.example.com.evil.example")
