"""Who can reach `rollcall serve`: what it says at start, what it warns about, what it refuses.

Bound to loopback, only this machine reaches it. Bound to any other address, so can everyone
on the venue's network: then host tokens and session tokens cross that network, in clear
unless it serves https, and anyone there can create events unless ROLLCALL_ADMIN_TOKEN is set.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import psutil

ALL_INTERFACES = ("0.0.0.0", "::", "")  # noqa: S104 (that is what they mean)
# Container and VM bridges: addresses no phone in the room can reach.
VIRTUAL_INTERFACES = ("docker", "br-", "veth", "virbr", "lxc", "cni", "podman", "flannel")


@dataclass(frozen=True)
class Listening:
    host: str
    port: int
    https: bool
    public_url: str | None

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def all_interfaces(self) -> bool:
        return self.host in ALL_INTERFACES

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that phones on the local network could reach, best first."""
    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    found: list[ipaddress.IPv4Address] = []
    for name, addresses in psutil.net_if_addrs().items():
        if name not in up or name.startswith(VIRTUAL_INTERFACES):
            continue
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address.address)
            except ValueError:
                continue  # a MAC address, or an IPv6 one with a zone
            if isinstance(ip, ipaddress.IPv4Address) and not (ip.is_loopback or ip.is_link_local):
                found.append(ip)
    return [str(ip) for ip in sorted(set(found), key=lambda ip: (not ip.is_private, ip))]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def phone_url(where: Listening, lan: list[str]) -> tuple[str | None, str]:
    """The base URL phones will use, and how it was found (None: it could not be)."""
    if where.public_url is not None:
        return where.public_url, "ROLLCALL_PUBLIC_URL"
    if not where.all_interfaces:
        return f"{where.scheme}://{_url_host(where.host)}:{where.port}", "the address it listens on"
    if lan:
        return (
            f"{where.scheme}://{lan[0]}:{where.port}",
            "detected; set ROLLCALL_PUBLIC_URL if phones reach this machine at another address",
        )
    return None, "no LAN address found"


def banner(where: Listening, lan: list[str]) -> list[str]:
    """What `rollcall serve` prints at start: where it listens, and the URL phones will use."""
    if where.all_interfaces:
        shown = where.host or "0.0.0.0"  # noqa: S104
        lines = [f"rollcall is listening on all network interfaces ({shown}), port {where.port}"]
    elif where.loopback:
        lines = [f"rollcall is listening on {where.host}, port {where.port} (this machine only)"]
    else:
        lines = [f"rollcall is listening on {where.host}, port {where.port}"]

    if where.loopback:
        base = where.public_url or f"{where.scheme}://{_url_host(where.host)}:{where.port}"
        lines.append(f"  open {base}/ to create an event and show its dashboard")
        lines.append(
            "  note: it listens on loopback only, so phones cannot reach it and the QR code\n"
            "  would point nowhere they can open. To serve the local network, run\n"
            "    ROLLCALL_PUBLIC_URL=http://<this machine's LAN address>:"
            f"{where.port} rollcall serve --host 0.0.0.0"
        )
        return lines

    url, how = phone_url(where, lan)
    if url is None:
        lines.append(
            "  phones need this machine's LAN address, which could not be found: set\n"
            f"  ROLLCALL_PUBLIC_URL={where.scheme}://<LAN address>:{where.port} so the QR code"
            " points there"
        )
        url = f"{where.scheme}://127.0.0.1:{where.port}"
    else:
        lines.append(f"  phones will use {url} ({how})")
    if where.all_interfaces and where.public_url is None and len(lan) > 1:
        lines.append("  this machine's other addresses: " + ", ".join(lan[1:]))
    lines.append(f"  open {url}/ to create an event and show its dashboard")
    return lines


def plain_http_warning(where: Listening) -> str | None:
    """A warning when tokens would cross the network in clear."""
    if where.loopback or where.https:
        return None
    if where.public_url is not None and where.public_url.startswith("https://"):
        return None  # a TLS proxy in front; its link to rollcall is the operator's to secure
    return (
        "warning: serving plain http on the network. Host tokens and session tokens travel in\n"
        "  clear over the venue's Wi-Fi, where anyone can read them and take an event over.\n"
        "  Serve https: --ssl-certfile and --ssl-keyfile, or a TLS proxy in front (see\n"
        "  docs/operations.md, Security)."
    )


def open_creation_refusal(
    where: Listening, *, admin_token_set: bool, open_creation: bool
) -> str | None:
    """Why serving here is refused, or None: the network must not create events unasked."""
    if where.loopback or admin_token_set or open_creation:
        return None
    return (
        f"refusing to serve {where.host or 'all interfaces'} without ROLLCALL_ADMIN_TOKEN: anyone on\n"
        "  the network could create events. Set ROLLCALL_ADMIN_TOKEN (16 characters or more;\n"
        "  the start page asks for it), or pass --open-creation to let anyone create events."
    )
