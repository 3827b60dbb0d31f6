"""podman for the deploy test: the images compose.yaml runs, built here, and the stack it runs.

No image registry is reachable here, so every image is built from Debian's packages: the base
image that the Containerfile names in its FROM is made with mmdebstrap and imported under that
name (so the Containerfile builds unchanged wherever the registry is reachable), and PostgreSQL
and Caddy are stand-ins for the official images (tests/deploy/images/), which compose.yaml
takes through its ROLLCALL_POSTGRES_IMAGE and ROLLCALL_CADDY_IMAGE variables. Images stay in
podman's storage between runs: the base image is made once, and the builds reuse their layers.

The stack runs through podman-compose on compose.yaml itself, as an operator runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE / "containers.conf"

ROLLCALL_IMAGE = "localhost/rollcall-test/rollcall:latest"
POSTGRES_IMAGE = "localhost/rollcall-test/postgres:15"
CADDY_IMAGE = "localhost/rollcall-test/caddy:2"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
"""This machine's certificate authorities, handed to pip in the build as a secret: a proxy
that re-signs TLS (as this machine's network does) is trusted inside the build as outside."""

CADDY_ROOT_CA = "/data/caddy/pki/authorities/local/root.crt"
"""Where Caddy keeps its internal CA's root, in its data volume (official image and stand-in)."""

T = TypeVar("T")


def until(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """The first result of `check` that is neither None nor False, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


def environment(**extra: str) -> dict[str, str]:
    """The test's own process environment, with podman's settings and `extra`."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **extra}


def podman(
    *args: str, check: bool = True, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args],
        env=environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done


def unusable() -> str | None:
    """Why podman cannot run containers on this machine, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/install-podman installs it from Debian's packages)"
    info = podman("info", check=False)
    if info.returncode != 0:
        return f"podman cannot run here: {info.stderr.strip()[-500:]}"
    return None


def base_image() -> str:
    """The image the Containerfile builds on, from its FROM line."""
    found = re.search(r"^FROM\s+(\S+)", (ROOT / "Containerfile").read_text(), re.MULTILINE)
    assert found is not None, "the Containerfile has no FROM"
    return found.group(1)


def exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def make_base_image(name: str, work: Path) -> None:
    """Debian bookworm's minimal system, as the slim image has it, imported under `name`.

    Documentation, manual pages and translations are left out, as the official slim image does.
    """
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is missing: scripts/install-podman installs it")
    tarball = work / "bookworm.tar"
    slim = [
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*",
    ]
    subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            *(f"--dpkgopt={option}" for option in slim),
            "bookworm",
            str(tarball),
        ],
        check=True,
        timeout=600,
    )
    podman("import", "--change", 'CMD ["bash"]', str(tarball), name, timeout=300)
    tarball.unlink()


def build(tag: str, context: Path) -> None:
    """`podman build` in docker format, which keeps HEALTHCHECK (the OCI format has none)."""
    args = ["build", "--format", "docker", "--tag", tag]
    if HOST_CA_BUNDLE.is_file():
        args += ["--secret", f"id=ca_certificates,src={HOST_CA_BUNDLE}"]
    podman(*args, str(context), timeout=600)


@dataclass
class Stack:
    """compose.yaml run by podman-compose under its own project name, with the test's settings."""

    project: str
    settings: dict[str, str]
    timings: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 180) -> str:
        command = [str(Path(sys.executable).with_name("podman-compose")), "-p", self.project]
        done = subprocess.run(
            [*command, "-f", str(ROOT / "compose.yaml"), *args],
            env=environment(**self.settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"podman-compose {' '.join(args)}: exit {done.returncode}\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def container(self, service: str) -> str:
        """The name of the service's container (podman-compose labels them as Compose does)."""
        names = podman(
            "ps",
            "--all",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{.Names}}",
        ).stdout.split()
        assert len(names) == 1, f"{service}: containers {names}"
        return names[0]

    def healthy(self, service: str) -> bool:
        """Whether the container's own health check passes now (podman runs it on demand: on a
        machine without systemd, podman has no timer to run it by itself)."""
        return podman("healthcheck", "run", self.container(service), check=False).returncode == 0

    def wait_healthy(self, service: str, timeout: float = 90) -> None:
        until(f"{service} healthy", lambda: self.healthy(service), timeout)

    def has_file(self, service: str, path: str) -> bool:
        test = podman("exec", self.container(service), "test", "-s", path, check=False)
        return test.returncode == 0

    def exec(self, service: str, *command: str) -> str:
        return podman("exec", self.container(service), *command).stdout

    def logs(self, service: str) -> str:
        done = podman("logs", self.container(service), check=False)
        return done.stdout + done.stderr

    def inspect(self, service: str) -> dict[str, object]:
        found: list[dict[str, object]] = json.loads(
            podman("inspect", self.container(service)).stdout
        )
        return found[0]

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings.append(f"{what}: {time.monotonic() - started:.1f} s")
