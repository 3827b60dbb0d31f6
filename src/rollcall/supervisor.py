"""`rollcall serve`'s worker processes, each on a listening socket of its own.

uvicorn's supervisor binds one socket in the parent and every worker accepts from it: whichever
worker's event loop wakes first takes every connection waiting, so a load tool's 64 keep-alive
connections, opened at once, land mostly on one worker and stay there. Here each worker binds
its own socket on the same address with SO_REUSEPORT, and the kernel spreads new connections
over the workers' sockets by a hash of each connection's addresses, whatever the client does.

The parent binds the address too, without listening, so that the port is taken (and a port in
use is refused) before any worker starts: a socket that does not listen gets no connections.
Everything else is uvicorn's supervisor as it is: a worker that dies is replaced, SIGHUP
replaces them one by one, SIGTERM and SIGINT stop them gracefully. docs/decisions.md, "A
listening socket per worker".
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

log = logging.getLogger("uvicorn.error")


def run(app: Any, **options: Any) -> None:
    """uvicorn.run, whose arguments it takes; with workers, each listens on its own socket."""
    config = uvicorn.Config(app, **options)
    if config.workers <= 1 or config.uds is not None or config.fd is not None:
        uvicorn.run(app, **options)
        return
    claim = PortClaim.on(config.host, config.port)
    config.port = claim.port  # port 0 becomes one port, the same for every worker
    scheme = "https" if config.is_ssl else "http"
    log.info("Uvicorn running on %s://%s:%d", scheme, config.host, config.port)
    try:
        # uvicorn hands the supervisor's sockets to each worker it starts (at first, in place
        # of one that died, on SIGHUP) by pickling them: the claim pickles as "bind your own".
        Multiprocess(config, sockets=[claim]).run()
    finally:
        claim.close()


def bind_reusable(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT, not listening yet.

    In a worker, asyncio's server listens on it once the app has started, so no connection
    waits in its queue while the app is still starting.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.error("cannot listen on %s port %d: %s", host, port, exc)
        sys.exit(STARTUP_FAILURE)
    return sock


def _free_port(host: str, port: int) -> int:
    """The port, bound once without SO_REUSEPORT to see that nothing else holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            log.error("cannot listen on %s port %d: %s", host, port, exc)
            sys.exit(STARTUP_FAILURE)
        return int(probe.getsockname()[1])


class PortClaim(socket.socket):
    """The parent's socket on the address: bound, never listening; unpickled, a worker's own."""

    host: str
    port: int

    @classmethod
    def on(cls, host: str, port: int) -> PortClaim:
        """The address, if no other process serves on it (another `rollcall serve` included:
        SO_REUSEPORT alone would let a second one share the port, and half the connections)."""
        port = _free_port(host, port)
        bound = bind_reusable(host, port)
        claim = cls(bound.family, bound.type, bound.proto, fileno=bound.detach())
        claim.host, claim.port = host, int(claim.getsockname()[1])
        return claim

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[str, int]]:
        return bind_reusable, (self.host, self.port)
