"""What the installed package carries: every file rollcall reads at run time, not only its
Python. An installed rollcall (the container image, `pip install .`) has only what
pyproject.toml's package-data lists; a data file left out of it works in the editable
checkout the tests run from and fails in production."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rollcall"


def test_every_data_file_of_the_package_is_in_its_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["rollcall"]
    packaged = {
        Path(found)
        for pattern in patterns
        for found in glob.glob(pattern, root_dir=PACKAGE, recursive=True)
    }
    data = {
        path.relative_to(PACKAGE)
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    }
    assert sorted(map(str, data - packaged)) == []
