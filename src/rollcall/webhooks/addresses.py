"""Where a webhook may go: an http(s) URL whose host resolves to public addresses only.

A host may point its event's webhook at any URL; unchecked, that lets anyone make the server
send requests into its own network (server-side request forgery). The URL is checked when it
is set, so the host gets a 422 saying why, and again at every connection, on the very
addresses connected to, so a name that resolves elsewhere later (DNS rebinding) gets nowhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from rollcall.settings import WEBHOOK_URL_MAX_LENGTH

RESOLVE_TIMEOUT_S = 3.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(httpcore.ConnectError):
    """The URL's host resolves to an address webhooks may not reach (or to none)."""


def url_problem(url: str) -> str | None:
    """Why this is not a usable webhook URL (None: it is, as far as its text goes)."""
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        return f"is longer than {WEBHOOK_URL_MAX_LENGTH} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (the signature authenticates rollcall)"
    if port == 0:
        return "has no usable port"
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "must not contain spaces or control characters"
    return None


NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",  # IETF protocol assignments (some of which Python calls global)
        "fec0::/10",  # site-local, deprecated but still routed inside some networks
        "64:ff9b:1::/48",  # NAT64 for local use (RFC 8215)
    )
)
EMBEDDING_IPV4 = tuple(
    ipaddress.ip_network(network)
    for network in (
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "64:ff9b::/96",  # NAT64's well-known prefix (RFC 6052)
        "::/96",  # IPv4-compatible (deprecated)
    )
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (mapped, translated, NAT64, 6to4, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """A global unicast address: not loopback, private, link-local, shared, reserved or
    multicast; for an IPv6 address that carries an IPv4 one (a gateway would deliver to it),
    the IPv4 one is what must be public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            address = embedded  # :: and ::1 too: 0.0.0.0 and 0.0.0.1 are not public
    if any(address in network for network in NOT_GLOBAL if network.version == address.version):
        return False
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to for host:port, or AddressRefused saying why there are none.

    Every address the name resolves to must be allowed, not just one: otherwise a name with
    one public and one private address would be a way in.
    """
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise AddressRefused("the host name does not resolve") from exc
        found = _unique(ipaddress.ip_address(info[4][0]) for info in infos)
        if not found:
            raise AddressRefused("the host name does not resolve")
    if not allow_private and not all(is_public(address) for address in found):
        raise AddressRefused(
            "resolves to a loopback, private or link-local address, which webhooks may not"
            " reach (ROLLCALL_WEBHOOK_ALLOW_PRIVATE allows them)"
        )
    return found


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))


async def check(url: str, *, allow_private: bool) -> str | None:
    """Why webhooks may not go to this URL (None: they may)."""
    problem = url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        await resolve(parts.hostname, port, allow_private=allow_private)
    except AddressRefused as refused:
        return str(refused)
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to the addresses resolve() allows.

    TLS still verifies the certificate against the URL's host name: httpcore passes the name
    to start_tls separately from the address connected to.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, allow_private=self._allow_private)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    *, allow_private: bool, max_connections: int | None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through GuardedBackend, and no proxy."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx does not take a network backend; its pool is replaced by one that uses ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return transport
