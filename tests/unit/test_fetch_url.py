"""``fetch_url`` against local servers: SSRF through redirects, address forms and rebinding.

The "public" site is a server on 127.0.0.2, the one loopback address the test's policy lets
through (reached by the made-up name ``public.test``); the "internal" service is a second
server on 127.0.0.1, which must never see a request.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from app.agent.builtin.fetch import (
    Fetcher,
    FetchRefused,
    IPAddress,
    fetch_url_tool,
    html_to_text,
    is_public,
    system_resolve,
)
from app.agent.tools import ToolError

PAGE = (
    "<html><head><title>Tides</title><style>p{}</style><script>alert(1)</script></head>"
    "<body><h1>High tide</h1><p>At 6 &amp; 18 o'clock.</p></body></html>"
)


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Handler)
        self.hits: list[tuple[str, str]] = []  # (path, Host header)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        site = self.server
        assert isinstance(site, Site)
        site.hits.append((self.path, self.headers.get("host", "")))
        url = urlsplit(self.path)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("location", parse_qs(url.query)["to"][0])
            self.end_headers()
            return
        if url.path == "/big":
            body, kind = b"x" * 50_000, "text/plain"
        elif url.path == "/binary":
            body, kind = b"\x89PNG....", "image/png"
        else:
            body, kind = PAGE.encode(), "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(host: str) -> Iterator[Site]:
    site = Site(host)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture
def public() -> Iterator[Site]:
    yield from serve("127.0.0.2")


@pytest.fixture
def internal() -> Iterator[Site]:
    yield from serve("127.0.0.1")


def lab_policy(ip: IPAddress) -> bool:
    return ip == ipaddress.IPv4Address("127.0.0.2") or is_public(ip)


def fetcher(**kwargs: object) -> Fetcher:
    async def resolve(host: str, port: int) -> list[str]:
        if host == "public.test":
            return ["127.0.0.2"]
        return await system_resolve(host, port)

    options: dict[str, object] = {"resolve": resolve, "permitted": lab_policy, "timeout": 5.0}
    options.update(kwargs)
    return Fetcher(**options)  # type: ignore[arg-type]


def port_of(site: Site) -> int:
    return site.server_address[1]


async def test_a_public_page_comes_back_as_text(public: Site) -> None:
    page = await fetcher().fetch(f"http://public.test:{port_of(public)}/page")
    assert page.text == "Tides\n\nHigh tide\nAt 6 & 18 o'clock."
    assert (page.status, page.content_type, page.truncated) == (200, "text/html", False)
    # The connection went to the checked address; the name was kept for Host.
    assert public.hits == [("/page", f"public.test:{port_of(public)}")]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://localhost:{port}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
)
async def test_redirects_to_internal_addresses_are_refused(
    public: Site, internal: Site, target: str
) -> None:
    to = target.format(port=port_of(internal))
    start = f"http://public.test:{port_of(public)}/redirect?to={to}"
    with pytest.raises(FetchRefused):
        await fetcher().fetch(start)
    assert [path for path, _ in public.hits] == [f"/redirect?to={to}"]
    assert internal.hits == []
    # Asked directly, the same addresses are refused too.
    with pytest.raises(FetchRefused):
        await fetcher().fetch(to)
    assert internal.hits == []


async def test_dns_rebinding_between_check_and_connect_cannot_reach_inside(
    public: Site, internal: Site
) -> None:
    """The name answers a permitted address once, then the internal one. The fetch connects
    to the address it checked, so the second answer is never used."""
    answers = ["127.0.0.2"]
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return [answers.pop(0)] if answers else ["127.0.0.1"]

    page = await fetcher(resolve=rebinding).fetch(f"http://rebind.test:{port_of(public)}/page")
    assert page.status == 200
    assert asked == ["rebind.test"]
    assert public.hits == [("/page", f"rebind.test:{port_of(public)}")]
    assert internal.hits == []
    # Each fetch resolves afresh: now that the name answers the internal address, it refuses.
    with pytest.raises(FetchRefused):
        await fetcher(resolve=rebinding).fetch(f"http://rebind.test:{port_of(public)}/page")
    assert internal.hits == []


async def test_size_type_and_redirect_limits(public: Site) -> None:
    base = f"http://public.test:{port_of(public)}"
    page = await fetcher(max_bytes=1000).fetch(f"{base}/big")
    assert page.truncated and len(page.text) == 1000
    with pytest.raises(ToolError, match="image/png, not a text page"):
        await fetcher().fetch(f"{base}/binary")
    loop = f"{base}/redirect?to={base}/redirect?to={base}/page"
    with pytest.raises(ToolError, match="More than 1 redirects"):
        await fetcher(max_redirects=1).fetch(loop)
    assert (await fetcher(max_redirects=2).fetch(loop)).text.startswith("Tides")


async def test_the_time_limit_covers_the_whole_fetch() -> None:
    import socket

    quiet = socket.socket()
    quiet.bind(("127.0.0.2", 0))
    quiet.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(ToolError, match=r"took longer than 0\.3 s"):
            await fetcher(timeout=0.3).fetch(f"http://public.test:{quiet.getsockname()[1]}/")
    finally:
        quiet.close()


@pytest.mark.parametrize(
    ("address", "public_"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::", False),
    ],
)
def test_which_addresses_are_public(address: str, public_: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public_


async def test_the_tool_reports_refusals_as_tool_errors() -> None:
    tool = fetch_url_tool(Fetcher(timeout=2))
    with pytest.raises(FetchRefused, match="private, local or reserved"):
        await tool.call({"url": "http://127.0.0.1/"})


def test_html_to_text_drops_scripts_and_styles() -> None:
    assert html_to_text("<p>a</p><script>x()</script><div>b <b>c</b></div>") == "a\nb c"
