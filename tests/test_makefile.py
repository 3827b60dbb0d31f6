"""The Makefile: a bare `make` lists each target with what it does, and lists only real ones."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_bare_make_lists_every_target_with_what_it_does() -> None:
    shown = make()
    assert shown.returncode == 0, shown.stderr
    listed = dict(re.findall(r"^  make (\S+) +(\S.*)$", shown.stdout, re.MULTILINE))
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert phony is not None
    assert sorted(listed) == sorted(phony.group(1).split())
    assert {"run", "test", "lint", "bench", "clean"} <= set(listed)
    for target in listed:
        dry = make("-n", target)  # prints the recipe, runs nothing
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def test_make_test_runs_the_test_script() -> None:
    dry = make("-n", "test")
    assert "bash scripts/test" in dry.stdout.splitlines()
