"""The previous release's code, from git, for tests that run it beside this one.

PREVIOUS_RELEASE is the last commit of the release before this one's revisions (attendance,
names_seats_teams, live_channel and what follows them): its schema head is join_batches.
Its tree is exported (`git archive`) into a directory and run with this virtualenv's Python,
PYTHONPATH pointing there, so the two releases share their dependencies and nothing else.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
PREVIOUS_RELEASE = "63bb27936ff0166b3923917cb78aef191058e25a"
PREVIOUS_HEAD = "join_batches"
"""The previous release's schema head."""

CLI = "import sys; from rollcall.cli import main; sys.exit(main())"


@dataclass(frozen=True)
class Release:
    """A rollcall tree to run: its `src` directory, or None for this checkout's."""

    src: Path | None

    @property
    def environment(self) -> dict[str, str]:
        """Variables that make `python -m rollcall.cli` this release's."""
        return {} if self.src is None else {"PYTHONPATH": str(self.src)}

    def command(self, *args: str, database_url: str, timeout: float = 600) -> str:
        """`rollcall ARGS` of this release, to its end; returns its output, fails if it does."""
        done = subprocess.run(
            [sys.executable, "-c", CLI, *args],
            env=self.env(database_url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        return output

    def start(self, *args: str, database_url: str) -> subprocess.Popen[str]:
        """`rollcall ARGS` of this release, started; its output (both streams) on stdout."""
        return subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            env=self.env(database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def env(self, database_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
        env.pop("PYTHONPATH", None)
        return {**env, **self.environment, "DATABASE_URL": database_url}


CURRENT = Release(None)


def export_release(commit: str, into: Path) -> Release:
    """The commit's `src` tree, exported into `into` (made once, reused after)."""
    src = into / "src"
    if not (src / "rollcall" / "__init__.py").exists():
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", commit, "src"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    return Release(src)


def load_legacy_rows(url: str, rows: int) -> None:
    """Yesterday's events, 1,000 participants each, as the previous release's joins left them
    and its presence sweep saw them go (offline, so that today's sweep has nothing to do)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO events (code, title, capacity, host_token_hash, seats_taken)
            SELECT (SELECT string_agg(substr(%(alphabet)s, floor(n / 30 ^ k)::int %% 30 + 1, 1), ''
                                      ORDER BY k DESC)
                    FROM generate_series(0, 5) AS k),
                   'Legacy ' || n, 10000, sha256(('host-' || n)::bytea), 1000
            FROM generate_series(1, %(events)s) AS n
            """,
            {"alphabet": "23456789ABCDEFGHJKMNPQRSTVWXYZ", "events": rows // 1000},
        )
        conn.execute(
            """
            INSERT INTO event_participants (event_id, display_name, name_key, created_at,
                                            join_timestamp, last_heartbeat, reported_presence)
            SELECT e.id, 'Player ' || n, 'player ' || n, at, at, at, 'offline'
            FROM (SELECT now() - interval '1 day' - make_interval(secs => n) AS at, n
                  FROM generate_series(1, 1000) AS n) AS t
            CROSS JOIN events AS e
            WHERE e.title LIKE 'Legacy %'
            """
        )
        conn.execute("VACUUM ANALYZE")
