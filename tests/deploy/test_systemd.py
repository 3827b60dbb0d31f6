"""deploy/systemd/rollcall.service, the plain server's alternative to the containers: systemd
reads it without a complaint, and its sandboxing holds (systemd's own exposure rating)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "rollcall.service"
SYSTEM_UNITS = Path("/lib/systemd/system")

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or not SYSTEM_UNITS.is_dir(),
    reason="systemd-analyze is not installed (Debian: systemd), so the unit cannot be checked",
)


def _installed(root: Path) -> Path:
    """A system root where the unit is installed as the docs say, and rollcall is in place."""
    executable = root / "opt" / "rollcall" / "bin" / "rollcall"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    (root / "usr" / "lib" / "systemd" / "system").symlink_to(SYSTEM_UNITS)
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    shutil.copy(UNIT, units)
    return units / UNIT.name


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_systemd_reads_the_unit_without_a_complaint(tmp_path: Path) -> None:
    unit = _installed(tmp_path)
    verified = _analyze(f"--root={tmp_path}", "verify", str(unit))
    assert verified.returncode == 0, verified.stderr
    # systemd says what it ignores (an unknown setting, a bad value) and still succeeds.
    assert verified.stdout + verified.stderr == ""


def test_the_unit_keeps_rollcall_in_a_sandbox(tmp_path: Path) -> None:
    unit = _installed(tmp_path)
    rated = _analyze("security", "--offline=yes", f"--root={tmp_path}", str(unit))
    assert rated.returncode == 0, rated.stderr
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", rated.stdout)
    assert exposure is not None, rated.stdout
    # 10 is a service with no sandboxing at all; below 4 systemd calls it "OK".
    assert float(exposure.group(1)) < 4.0, rated.stdout
