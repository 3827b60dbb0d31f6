"""The deploy test's stack: compose.yaml's images built, and its services up, as the docs say.

The test runs only when asked for (`-m deploy`, which `make deploy-test` passes): it builds
images and starts containers, minutes of work that the ordinary passes must not start. It is
skipped, saying why, only where podman cannot run.
"""

from __future__ import annotations

import fcntl
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy import podman
from tests.deploy.podman import Stack, until
from tests.servers import free_port

PROJECT = "rollcall-deploy-test"
DOMAIN = "rollcall.test"
"""A name reserved for tests (RFC 2606); the test resolves it to loopback, as a venue's DNS
would resolve the real name to the machine that runs Caddy."""
SUBNET = "172.30.73.0/24"
PROXY_ADDRESS = "172.30.73.10"
"""Not compose.yaml's defaults, so that the test's network never meets an operator's stack."""
LOCK = Path(tempfile.gettempdir()) / f"{PROJECT}.lock"
"""Held while a run's stack is up: a second run on the machine (another checkout) waits for
it instead of taking down its containers or asking for its addresses."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "deploy" in (config.getoption("markexpr") or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("deploy") is None]
    if len(chosen) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if (why := podman.unusable()) is not None:
        pytest.skip(why)
    https_port = free_port()
    stack = Stack(
        PROJECT,
        {
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            "ROLLCALL_ADMIN_TOKEN": secrets.token_urlsafe(24),
            "ROLLCALL_DOMAIN": DOMAIN,
            "ROLLCALL_TLS": "internal",
            "ROLLCALL_PUBLIC_URL": f"https://{DOMAIN}:{https_port}",
            "ROLLCALL_HTTPS_PORT": f"127.0.0.1:{https_port}",
            "ROLLCALL_HTTP_PORT": f"127.0.0.1:{free_port()}",
            "ROLLCALL_IMAGE": podman.ROLLCALL_IMAGE,
            "ROLLCALL_POSTGRES_IMAGE": podman.POSTGRES_IMAGE,
            "ROLLCALL_CADDY_IMAGE": podman.CADDY_IMAGE,
            "ROLLCALL_SUBNET": SUBNET,
            "ROLLCALL_PROXY_ADDRESS": PROXY_ADDRESS,
        },
    )
    failed_before = request.session.testsfailed
    with stack_lock():
        _build_images(stack, tmp_path_factory.mktemp("images"))
        stack.compose("down", "--volumes")  # what a run that was stopped short left behind
        try:
            _start(stack)
            yield stack
        finally:
            if request.session.testsfailed > failed_before:
                _print_logs(stack)
            stack.compose("down", "--volumes", "--timeout", "5")
            print("\n" + "\n".join(stack.timings))


@contextmanager
def stack_lock() -> Iterator[None]:
    """The machine's one deploy stack, held (after waiting for a run that holds it)."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _print_logs(stack: Stack) -> None:
    """What the instances logged, for a failure that their answers alone do not explain."""
    for service in ("rollcall-1", "rollcall-2"):
        print(f"\n---- {service}'s log (its end)\n" + stack.logs(service)[-6000:])


def _build_images(stack: Stack, work: Path) -> None:
    base = podman.base_image()
    if podman.exists(base):
        stack.timings.append(f"base image {base}: reused")
    else:
        with stack.timed(f"base image {base}: mmdebstrap and podman import"):
            podman.make_base_image(base, work)
    with stack.timed("images built: rollcall, PostgreSQL, Caddy"):
        podman.build(podman.ROLLCALL_IMAGE, podman.ROOT)
        podman.build(podman.POSTGRES_IMAGE, podman.HERE / "images" / "postgres")
        podman.build(podman.CADDY_IMAGE, podman.HERE / "images" / "caddy")
    # Builds of earlier checkouts leave their images untagged; what they share stays cached.
    podman.podman(
        "image", "prune", "--force", "--filter", "label=org.opencontainers.image.title=rollcall"
    )


def _start(stack: Stack) -> None:
    """docs/operations.md's first start: the database, the schema's upgrade, then the rest.

    podman before 4.6 cannot wait for a health check (podman-compose then starts a service
    without waiting for `service_healthy`), so the start waits for PostgreSQL's itself, as the
    docs tell operators on such a podman to do.
    """
    with stack.timed("PostgreSQL up and healthy"):
        stack.compose("up", "--detach", "postgres")
        stack.wait_healthy("postgres")
    with stack.timed("schema migrated"):
        stack.compose("--profile", "migrate", "run", "--rm", "migrate")
    with stack.timed("both instances and Caddy up, healthy, Caddy's CA issued"):
        stack.compose("up", "--detach")
        for instance in ("rollcall-1", "rollcall-2"):
            stack.wait_healthy(instance)
        until("Caddy's internal CA", lambda: stack.has_file("caddy", podman.CADDY_ROOT_CA), 30)
