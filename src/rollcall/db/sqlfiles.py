"""The database functions' text: one `.sql` file per function in `db/functions/`.

`db/functions/<name>.sql` is the current definition of `<name>`, the one a database at head
has (tests/db/test_sql_files.py holds them equal). A revision that changes functions applies
them with `Frozen`: the texts it was written with, each named by its SHA-256, so that editing
a file later cannot change what an old revision does. When a file moves on, the text an older
revision applied is kept as `db/functions/<revision>/<name>.sql` (the error below says so),
and that revision keeps reading it there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).parent / "functions"


def digest(text: str) -> str:
    """The name a revision gives a function's text: its SHA-256, 16 hex digits of it."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def current() -> dict[str, str]:
    """Every function's current text, by the function's name."""
    return {path.stem: path.read_text() for path in sorted(FUNCTIONS_DIR.glob("*.sql"))}


class Frozen:
    """The functions one revision applies, each exactly as it was when the revision was written."""

    def __init__(self, revision: str, digests: Mapping[str, str]) -> None:
        self.revision = revision
        self.digests = dict(digests)

    def text(self, name: str) -> str:
        kept = FUNCTIONS_DIR / self.revision / f"{name}.sql"
        path = kept if kept.exists() else FUNCTIONS_DIR / f"{name}.sql"
        text = path.read_text()
        if digest(text) != self.digests[name]:
            raise RuntimeError(
                f"{path.name} is no longer the text revision {self.revision} applied"
                f" (SHA-256 {self.digests[name]}…): keep that text, from the commit that wrote"
                f" the revision, as db/functions/{self.revision}/{name}.sql"
            )
        return text

    def texts(self) -> list[str]:
        """Every text, in the order of the names (all exist by then: any order would do)."""
        return [self.text(name) for name in sorted(self.digests)]
