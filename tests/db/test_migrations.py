"""Every revision upgrades, downgrades and upgrades again on a real PostgreSQL."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from pytest_alembic import MigrationContext
from pytest_alembic.tests import (  # noqa: F401  (pytest collects these by name)
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine

from tests.db.conftest import schema_snapshot


def _revisions_base_to_head(config: Config) -> list[str]:
    script = ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def test_stairway(
    alembic_runner: MigrationContext, alembic_config: Config, alembic_engine: Engine
) -> None:
    """For each revision: up, down, up again; the down leaves the schema as it found it."""
    for revision in _revisions_base_to_head(alembic_config):
        before = schema_snapshot(alembic_engine)
        alembic_runner.migrate_up_to(revision)
        after_up = schema_snapshot(alembic_engine)
        alembic_runner.migrate_down_one()
        assert schema_snapshot(alembic_engine) == before, f"downgrade of {revision} left a trace"
        alembic_runner.migrate_up_to(revision)
        assert schema_snapshot(alembic_engine) == after_up, (
            f"{revision} differs on a second upgrade"
        )


def test_the_chain_is_the_one_the_code_expects(alembic_config: Config) -> None:
    assert _revisions_base_to_head(alembic_config) == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "webhooks",
        "join_batches",
        "attendance",
        "names_seats_teams",
        "live_channel",
        "functions_as_files",
        "room_to_update",
    ]
