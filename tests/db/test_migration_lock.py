"""Two schema upgrades started at once against one database run one after the other."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psycopg

from rollcall.db import migrate
from rollcall.db.migration_lock import MIGRATION_LOCK_KEY

CLI = "import sys; from rollcall.cli import main; sys.exit(main())"


def _upgrade(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "db", "upgrade"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _lines_until(process: subprocess.Popen[str], text: str) -> str:
    """The process's output up to the line that says this (killed after a minute without)."""
    guard = threading.Timer(60, process.kill)
    guard.start()
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if text in line:
                return "".join(lines)
        raise AssertionError(f"never said {text!r}:\n" + "".join(lines))
    finally:
        guard.cancel()


def test_two_upgrades_at_once_migrate_one_at_a_time(empty_database_url: str) -> None:
    first, second = _upgrade(empty_database_url), _upgrade(empty_database_url)
    outputs = [process.communicate(timeout=300)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n".join(outputs)
    assert migrate.current(empty_database_url) == migrate.head()
    # Each revision ran once: one of the two ran them all, the other found nothing to do.
    ran = [output.count("Running upgrade") for output in outputs]
    assert sorted(ran) == [0, ran[0] + ran[1]], outputs
    with psycopg.connect(empty_database_url) as conn:
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            (MIGRATION_LOCK_KEY,),
        ).fetchone()
    assert held == (0,), "the lock is released when the upgrade ends"


def test_an_upgrade_waits_while_another_holds_the_lock(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        waiting = _upgrade(empty_database_url)
        said = _lines_until(waiting, "waiting for it to finish")
        assert waiting.poll() is None
        assert migrate.current(empty_database_url) == "base", "nothing ran while it waited"
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    output = said + waiting.communicate(timeout=300)[0]
    assert waiting.returncode == 0, output
    assert migrate.current(empty_database_url) == migrate.head()
