"""The database functions' files are their truth: a database at head has exactly their text,
and a revision applies the text it was written with even after a file moves on."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from rollcall.db import migrate, sqlfiles
from rollcall.db.sqlfiles import Frozen

FUNCTIONS = """
SELECT p.proname::text, p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc AS p
WHERE p.pronamespace = 'public'::regnamespace ORDER BY 2
"""

Definitions = list[tuple[str, str, str]]


def drifted(conn: psycopg.Connection[tuple[str, str, str]], texts: dict[str, str]) -> list[str]:
    """The functions whose definition in the database is not the given text (rolled back)."""
    with conn.transaction(force_rollback=True):
        before: Definitions = conn.execute(FUNCTIONS).fetchall()
        for text in texts.values():
            conn.execute(text)
        after: Definitions = conn.execute(FUNCTIONS).fetchall()
    changed = set(before).symmetric_difference(after)
    return sorted({name for name, _, _ in changed})


def test_every_function_at_head_is_its_file_to_the_letter(database_url: str) -> None:
    files = sqlfiles.current()
    with psycopg.connect(database_url) as conn:
        names = {name for name, _, _ in conn.execute(FUNCTIONS).fetchall()}
        assert names == set(files), "a function with no file, or a file with no function"
        assert drifted(conn, files) == []


def test_a_file_that_drifts_from_the_database_is_named(database_url: str) -> None:
    files = sqlfiles.current()
    files["rollcall_hmac"] = files["rollcall_hmac"].replace("SELECT", "SELECT /* drift */", 1)
    files["rollcall_act"] = files["rollcall_act"].replace("p_data jsonb", "p_data json")
    with psycopg.connect(database_url) as conn:
        assert drifted(conn, files) == ["rollcall_act", "rollcall_hmac"]


def test_every_revision_still_applies_the_text_it_was_written_with() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(None))
    revisions = [rev.module for rev in script.walk_revisions()]
    frozens = [m.FUNCTIONS for m in revisions if isinstance(getattr(m, "FUNCTIONS", None), Frozen)]
    assert frozens, "no revision applies the files"
    for frozen in frozens:
        assert set(frozen.digests) <= set(sqlfiles.current())
        for name, text in zip(sorted(frozen.digests), frozen.texts(), strict=True):
            assert sqlfiles.digest(text) == frozen.digests[name]


def test_a_revision_reads_its_kept_copy_once_the_file_moved_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlfiles, "FUNCTIONS_DIR", tmp_path)
    first = "CREATE OR REPLACE FUNCTION rollcall_x() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
    (tmp_path / "rollcall_x.sql").write_text(first)
    frozen = Frozen("older", {"rollcall_x": sqlfiles.digest(first)})
    assert frozen.texts() == [first]

    (tmp_path / "rollcall_x.sql").write_text(first.replace("1", "2"))
    with pytest.raises(RuntimeError, match=r"keep that text.* as db/functions/older/rollcall_x"):
        frozen.text("rollcall_x")

    (tmp_path / "older").mkdir()
    (tmp_path / "older" / "rollcall_x.sql").write_text(first)
    assert frozen.text("rollcall_x") == first
