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
        # IPv6 addresses that lead to an IPv4 one: that one must be public.
        ("::ffff:0:10.0.0.1", False),  # IPv4-translated
        ("::ffff:0:93.184.215.14", True),
        ("::10.0.0.1", False),  # IPv4-compatible
        ("::127.0.0.1", False),
        ("64:ff9b::10.0.0.1", False),  # NAT64
        ("64:ff9b::169.254.169.254", False),
        ("64:ff9b::93.184.215.14", True),
        ("64:ff9b:1::a00:1", False),  # NAT64 for local use
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:5db8:d70e::1", True),  # 6to4 of 93.184.215.14
        ("fec0::1", False),  # site-local
        ("192.0.0.9", False),  # IETF protocol assignments
        ("192.0.0.170", False),
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
