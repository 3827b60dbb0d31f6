"""A real `rollcall serve` with short presence timings: the realtime tests' own fixtures."""

from tests.realtime.conftest import http_a, server_a

__all__ = ["http_a", "server_a"]
