"""The addresses of an event: where phones join and where the host's dashboard is."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from rollcall.settings import Settings


def public_base(settings: Settings, request: HTTPConnection) -> str:
    """ROLLCALL_PUBLIC_URL, or else the address the request came in on."""
    return settings.public_url or str(request.base_url).rstrip("/")


def join_url(base: str, code: str) -> str:
    return f"{base}/j/{code}"


def room_check_url(base: str, code: str, room_check: str) -> str:
    """The join link with the room check code in it: scanning it needs no typing."""
    return f"{join_url(base, code)}?rc={room_check}"


def recovery_url(base: str, code: str, recovery_code: str) -> str:
    """The join link that brings a recovery code: the phone that opens it is offered the seat."""
    return f"{join_url(base, code)}?recover={recovery_code}"


def host_url(base: str, code: str) -> str:
    return f"{base}/host/{code}"
