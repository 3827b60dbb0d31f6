"""After start-up, what the lifespan built is frozen out of the collector's way."""

from __future__ import annotations

import gc

from rollcall import gctune
from rollcall.app import create_app
from rollcall.settings import Settings


async def test_the_lifespan_freezes_start_up_and_raises_the_thresholds(
    settings: Settings, database_url: str
) -> None:
    thresholds = gc.get_threshold()
    app = create_app(settings.model_copy(update={"gc_freeze": True}), database_url=database_url)
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == gctune.THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_a_test_apps_lifespan_leaves_the_collector_alone(
    settings: Settings, database_url: str
) -> None:
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
