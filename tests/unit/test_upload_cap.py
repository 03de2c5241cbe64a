"""Upload bodies are capped as they stream in: real HTTP against the cap in front of a route
that parses multipart bodies the way Reflex's ``/_upload`` does (tests/unit/upload_app.py),
served by granian (Reflex's server) on a random port. A body over the cap is refused with
413 and never reaches the route whole, so Starlette's parser never spools it to disk."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from app.guards.origins import Message
from app.guards.upload_cap import UPLOAD_PATHS, upload_cap
from app.services.attachments import AttachmentLimits
from tests.unit.test_guards_origins import _serve  # pyright: ignore[reportPrivateUsage]
from tests.unit.upload_app import CAP

BOUNDARY = "parleyboundary"


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    yield from _serve("tests.unit.upload_app:app")


@pytest.fixture
def port(server: int) -> int:
    httpx.post(f"http://127.0.0.1:{server}/_reset").raise_for_status()
    return server


def stats(port: int) -> dict[str, int]:
    return httpx.get(f"http://127.0.0.1:{port}/_stats").json()


def part(name: str, data: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )


def raw_request(port: int, head: str, chunks: Iterator[bytes]) -> tuple[int, str]:
    """Send a request by hand (so nothing buffers or reorders it) and read the answer:
    (status, body). Sending stops at the first refusal the server sends back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        reply = b""
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            reply += data
            if b"\r\n\r\n" in reply and b"413" in reply.split(b"\r\n", 1)[0]:
                break
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode(errors="replace")


def upload_head(port: int, extra: str) -> str:
    return (
        f"POST /_upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra}\r\n"
    )


def test_a_body_declared_over_the_cap_is_refused_before_a_byte_is_read(port: int) -> None:
    # Only the head is sent: the refusal comes without waiting for (or reading) the body.
    status, body = raw_request(port, upload_head(port, "Content-Length: 50000000\r\n"), iter(()))
    assert status == 413
    assert "the most one upload may carry" in body and "fewer or smaller files" in body
    assert stats(port) == {"bytes_reached_route": 0, "forms_parsed": 0, "file_bytes": 0}


def test_a_chunked_body_over_the_cap_is_cut_off_as_it_streams(port: int) -> None:
    piece = 16_384

    def chunks() -> Iterator[bytes]:
        yield _chunk(part("big.txt", b"")[:-2])  # the part's head, then its data streams
        for _ in range(CAP * 3 // piece):
            yield _chunk(b"x" * piece)
        yield b"0\r\n\r\n"

    status, _ = raw_request(port, upload_head(port, "Transfer-Encoding: chunked\r\n"), chunks())
    assert status == 413
    seen = stats(port)
    # The route saw at most the cap (the chunk that crossed it was never handed on), and
    # never finished a form: the parser stopped and closed what it had spooled.
    assert 0 < seen["bytes_reached_route"] <= CAP
    assert seen["forms_parsed"] == 0


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_body_under_the_cap_goes_through_whole(port: int) -> None:
    files = [("files", ("a.txt", b"a" * 50_000)), ("files", ("b.txt", b"b" * 60_000))]
    response = httpx.post(f"http://127.0.0.1:{port}/_upload", files=files)
    assert (response.status_code, response.text) == (200, "stored 2 files")
    seen = stats(port)
    assert seen["forms_parsed"] == 1 and seen["file_bytes"] == 110_000
    assert seen["bytes_reached_route"] == int(response.request.headers["content-length"])


def test_other_routes_are_not_capped(port: int) -> None:
    response = httpx.post(f"http://127.0.0.1:{port}/other", content=b"z" * (CAP * 2))
    assert (response.status_code, response.text) == (200, f"read {CAP * 2} bytes")


async def test_a_malformed_content_length_is_refused_in_process() -> None:
    sent: list[Message] = []
    reached: list[str] = []

    async def route(scope: object, receive: object, send: object) -> None:
        reached.append("route")

    async def receive() -> Message:
        await asyncio.sleep(0)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_upload",
        "headers": [(b"content-length", b"12abc")],
    }
    await upload_cap(100)(route)(scope, receive, send)
    assert sent[0]["status"] == 400 and reached == []


def test_the_capped_path_is_reflexs_upload_route() -> None:
    from reflex_base.constants import Endpoint

    assert str(Endpoint.UPLOAD) in UPLOAD_PATHS


def test_the_default_cap_fits_a_full_upload_and_little_more() -> None:
    limits = AttachmentLimits()
    full = limits.max_files * limits.max_bytes
    assert full < limits.upload_body_max_bytes < full + 1_000_000
