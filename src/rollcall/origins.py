"""Which sites may talk to rollcall: the Host allow-list and the WebSocket Origin check.

A server answers whatever name resolves to it, so a page on another site could rebind its own
name to the server's address (DNS rebinding) and read the API as same-origin. With
ROLLCALL_PUBLIC_URL set, only its host name (and loopback names, for health checks on the
machine itself) is served; without it, only loopback names and the address the request came
in on (the LAN address `rollcall serve --host 0.0.0.0` prints), which no page can rebind: a
page's name is never an address literal of the server itself. A browser sends cookies with a cross-site WebSocket upgrade, so /ws
refuses an Origin that is neither the page's own nor ROLLCALL_PUBLIC_URL's.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from rollcall import metrics
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


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a name spells (an IPv4-mapped IPv6 one as its IPv4), or None for a name."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _loopback_name(name: str) -> bool:
    """localhost, a name under it (RFC 6761: browsers resolve those to loopback themselves),
    or a loopback address."""
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and address.is_loopback


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names served, or None without ROLLCALL_PUBLIC_URL (then: loopback names and
    the address each request came in on)."""
    if settings.public_url is None:
        return None
    return LOOPBACK_NAMES | {_hostname(urlsplit(settings.public_url).netloc)}


def loopback_host(headers: Headers) -> bool:
    """Whether the request names the server by a loopback name (so not a rebound one)."""
    return _hostname(headers.get("host", "")) in LOOPBACK_NAMES


def _local_address(scope: Scope) -> str | None:
    """The server address this connection came in on (for a server bound to 0.0.0.0, the
    machine's address the client dialled), or None when the server does not say."""
    server = scope.get("server")
    if not server or not server[0]:
        return None
    host = str(server[0]).lower()
    address = _address(host.split("%", 1)[0])
    return host if address is None else str(address)


def host_served(scope: Scope, hosts: frozenset[str] | None) -> bool:
    """Whether the Host the request names is served here (see the module's docstring)."""
    name = _hostname(Headers(scope=scope).get("host", ""))
    if hosts is not None:
        return name in hosts
    if _loopback_name(name):
        return True
    address = _address(name)
    return (str(address) if address is not None else name) == _local_address(scope)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(scope: Scope, scheme: str, settings: Settings) -> bool:
    """A WebSocket upgrade's Host is served, and its Origin is the page's own site or
    ROLLCALL_PUBLIC_URL's.

    Clients that are not browsers send no Origin; they carry their token themselves, and the
    cookie, which is what a foreign page would borrow, is not theirs to send.
    """
    if not host_served(scope, allowed_hosts(settings)):
        return False
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin is None:
        return True
    own_scheme = "https" if scheme in ("wss", "https") else "http"
    allowed = {f"{own_scheme}://{headers.get('host', '')}".lower()}
    if settings.public_url is not None:
        allowed.add(_origin(settings.public_url))
    return origin.lower() in allowed


class HostGuard:
    """Refuse requests whose Host is not served (421 misdirected_request; sockets: 403)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = allowed_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or scope["path"] in SELF_GUARDED_PATHS
            or host_served(scope, self.hosts)
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": Close.POLICY_VIOLATION, "reason": ""})
            return
        host = _hostname(Headers(scope=scope).get("host", ""))
        hint = "" if self.hosts is not None else " (set ROLLCALL_PUBLIC_URL to serve a name)"
        response = problem_response(
            MisdirectedRequest(f"this server does not serve the host name {host!r}{hint}")
        )
        await response(scope, receive, send)
