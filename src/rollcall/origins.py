"""Which sites may talk to rollcall: the Host allow-list and the WebSocket Origin check.

A LAN instance answers whatever name resolves to it, so a page on another site could rebind
its own name to the instance's address (DNS rebinding) and read the API as same-origin. With
ROLLCALL_PUBLIC_URL set, only its host name (and loopback names, for health checks on the
machine itself) is served. A browser sends cookies with a cross-site WebSocket upgrade, so /ws
refuses an Origin that is neither the page's own nor ROLLCALL_PUBLIC_URL's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from rollcall import metrics
from rollcall.cors import listed_origins
from rollcall.errors import MisdirectedRequest
from rollcall.problems import problem_response
from rollcall.protocol import Close
from rollcall.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

SELF_GUARDED_PATHS = frozenset({metrics.PATH})
"""Routes that check their callers themselves (a token, or loopback by peer and Host), so a
scraper may name the server however its network does."""


def _hostname(host: str) -> str:
    """The name part of a Host header value: no port, no brackets, lower case."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names served, or None when any is (no ROLLCALL_PUBLIC_URL)."""
    if settings.public_url is None:
        return None
    return LOOPBACK_NAMES | {_hostname(urlsplit(settings.public_url).netloc)}


def loopback_host(headers: Headers) -> bool:
    """Whether the request names the server by a loopback name (so not a rebound one)."""
    return _hostname(headers.get("host", "")) in LOOPBACK_NAMES


def host_served(headers: Headers, hosts: frozenset[str] | None) -> bool:
    return hosts is None or _hostname(headers.get("host", "")) in hosts


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(headers: Headers, scheme: str, settings: Settings) -> bool:
    """A WebSocket upgrade's Host is served, and its Origin is the page's own site or
    ROLLCALL_PUBLIC_URL's.

    Clients that are not browsers send no Origin; they carry their token themselves, and the
    cookie, which is what a foreign page would borrow, is not theirs to send.
    """
    if not host_served(headers, allowed_hosts(settings)):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    own_scheme = "https" if scheme in ("wss", "https") else "http"
    allowed = {f"{own_scheme}://{headers.get('host', '')}".lower()}
    if settings.public_url is not None:
        allowed.add(_origin(settings.public_url))
    return origin.lower() in allowed | listed_origins(settings)


class HostGuard:
    """Refuse requests whose Host is not served (421 misdirected_request; sockets: 403)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = allowed_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.hosts is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in SELF_GUARDED_PATHS
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if host_served(headers, self.hosts):
            await self.app(scope, receive, send)
            return
        host = _hostname(headers.get("host", ""))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": Close.POLICY_VIOLATION, "reason": ""})
            return
        response = problem_response(
            MisdirectedRequest(f"this server does not serve the host name {host!r}")
        )
        await response(scope, receive, send)
