"""The garbage collector tuned for a process that holds thousands of long-lived sockets.

CPython's collector walks every tracked object of the generations it collects. What the
lifespan built (the app, its routes, the runtime, every imported module) lives as long as the
process: frozen after start-up, no collection walks it again. Each socket keeps some dozens of
objects for hours, and each broadcast makes and drops a few per socket: with the young
generation collected every 700 new objects, a burst to thousands of sockets ran many young
collections, each walking the burst's messages still in flight. A larger young generation runs
fewer of them, most of whose objects are gone by then.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 10)
"""Young collections every 10,000 net new container objects (CPython's default: 700)."""


def tune() -> None:
    """Collect once, freeze what is alive (start-up's objects) and raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
