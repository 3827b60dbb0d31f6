"""The address guard at connection time: what a URL resolves to when rollcall connects."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from rollcall.webhooks.addresses import AddressRefused, GuardedBackend, is_public
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_a_name_is_checked_again_when_rollcall_connects(
    receivers: Callable[..., Receiver],
) -> None:
    """A URL accepted once cannot reach loopback later (say, by DNS rebinding)."""
    receiver = receivers("ok")
    with pytest.raises(AddressRefused, match="loopback, private or link-local"):
        await GuardedBackend(allow_private=False).connect_tcp("localhost", receiver.port)
    with pytest.raises(AddressRefused):
        await GuardedBackend(allow_private=False).connect_tcp("127.0.0.1", receiver.port)
    stream = await GuardedBackend(allow_private=True).connect_tcp("localhost", receiver.port)
    await stream.aclose()
