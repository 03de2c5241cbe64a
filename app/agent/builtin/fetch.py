"""``fetch_url``: read a public web page as text, without becoming a door into the network.

Server-side request forgery is the risk (the Open WebUI and LibreChat CVEs went through
redirects and IPv6-mapped addresses), so every hop is handled by hand:

1. Only ``http`` and ``https`` URLs.
2. The host is resolved once with ``getaddrinfo``: the system's own parser, so decimal
   (``2130706433``), octal (``0177.0.0.1``) and short forms resolve to what a connection
   would reach. Every address must be public (:func:`is_public`): no private, loopback,
   link-local (cloud metadata 169.254.169.254), CGNAT, multicast or reserved ranges, with
   IPv6-mapped, NAT64, 6to4 and Teredo addresses judged by the IPv4 address inside.
3. The connection goes to the checked address itself (the URL's host swapped for the IP,
   ``Host`` and TLS SNI/verification keep the name), so DNS cannot answer differently
   between the check and the connect (rebinding).
4. Redirects are not followed by the client: each ``Location`` is a new hop, checked again.
5. Bodies are read up to ``max_bytes``; the whole fetch has one time limit; HTML becomes text.

The tool is off unless an admin turns it on (``PARLEY_AGENT_FETCH_URL``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx2
from pydantic import BaseModel, Field

from app.agent.tools import FunctionTool, ToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")


class FetchRefused(ToolError):
    user_message = "That address may not be fetched."


def is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and what they embed)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    if ip in _CGNAT:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, by the system resolver (in a worker thread)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # after redirects
    status: int
    content_type: str
    text: str
    truncated: bool


@dataclass
class Fetcher:
    resolve: Resolver = system_resolve
    permitted: Callable[[IPAddress], bool] = is_public
    max_bytes: int = 1_000_000
    timeout: float = 15.0
    max_redirects: int = 5
    max_chars: int = 20_000

    async def fetch(self, url: str) -> Page:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise ToolError(f"Fetching {url} took longer than {self.timeout:g} s.") from exc
        except httpx2.HTTPError as exc:
            raise ToolError(f"Could not fetch {url}: {exc or type(exc).__name__}") from exc

    async def _follow(self, url: str) -> Page:
        async with httpx2.AsyncClient(follow_redirects=False, trust_env=False) as client:
            for _ in range(self.max_redirects + 1):
                pinned, headers, extensions = await self.check(url)
                request = client.build_request(
                    "GET", pinned, headers=headers, extensions=extensions
                )
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        url = urljoin(url, location)
                        continue
                    return await self._read(url, response)
                finally:
                    await response.aclose()
        raise ToolError(f"More than {self.max_redirects} redirects.")

    async def check(self, url: str) -> tuple[str, dict[str, str], dict[str, object]]:
        """The URL to connect to (its host replaced by a checked address), the headers and
        the request extensions that keep the name for ``Host`` and TLS. Raises
        :class:`FetchRefused` for anything not http(s) or not public."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"Only http and https URLs can be fetched, not {url!r}.")
        host = parts.hostname
        if not host:
            raise FetchRefused(f"{url!r} has no host.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused(f"{url!r} has an invalid port.") from exc
        try:
            addresses = await self.resolve(host, port)
        except OSError as exc:
            raise ToolError(f"Could not resolve {host}: {exc}") from exc
        ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        if not ips or not all(self.permitted(ip) for ip in ips):
            raise FetchRefused(
                f"{host} is a private, local or reserved address; it may not be fetched."
            )
        ip = ips[0]
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
        default_port = port == (443 if parts.scheme == "https" else 80)
        shown = host if ":" not in host else f"[{host}]"
        headers = {
            "host": shown if default_port else f"{shown}:{port}",
            "accept": "text/html, text/plain;q=0.9, */*;q=0.5",
            "user-agent": "Parley-fetch_url/1",
        }
        extensions: dict[str, object] = {"sni_hostname": host} if parts.scheme == "https" else {}
        return pinned, headers, extensions

    async def _read(self, url: str, response: httpx2.Response) -> Page:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and not content_type.startswith(_TEXT_TYPES):
            raise ToolError(f"{url} is {content_type}, not a text page.")
        body = bytearray()
        truncated = False
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                del body[self.max_bytes :]
                truncated = True
                break
        raw = bytes(body).decode(response.encoding or "utf-8", errors="replace")
        text = html_to_text(raw) if content_type in ("text/html", "application/xhtml+xml") else raw
        if len(text) > self.max_chars:
            text, truncated = text[: self.max_chars], True
        return Page(url, response.status_code, content_type, text, truncated)


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BREAKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML page (its title first), whitespace collapsed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    body = "\n".join(line for line in lines if line)
    title = " ".join(parser.title.split())
    return f"{title}\n\n{body}" if title else body


class FetchArgs(BaseModel):
    url: str = Field(description="An http or https URL of a public page.")


def fetch_url_tool(fetcher: Fetcher | None = None) -> FunctionTool[FetchArgs]:
    """The ``fetch_url`` tool over ``fetcher`` (the default limits when None)."""
    active = fetcher or Fetcher()

    async def run(args: FetchArgs) -> str:
        page = await active.fetch(args.url)
        note = " (cut at the size limit)" if page.truncated else ""
        return f"{page.url} [{page.status}{note}]\n\n{page.text}"

    return FunctionTool(
        "fetch_url",
        "Fetch a public web page and return its text.",
        FetchArgs,
        run,
    )
