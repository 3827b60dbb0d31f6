"""What the rate limits cost a join: the checks the join route makes, timed in this process.

The stampede runs with the limits checked on every request but set so high that none refuses
(harness.UNBINDING_LIMITS), so its figures are "limits on". Their cost cannot be read off the
stampede alone, so it is measured here, apart and exactly: the two reservations and the two
releases the join route makes per request (participants/routes.py), through rollcall's own
RateLimits, in the two cases that matter:

- a crowd at the defaults: joins from many addresses, each with a few joins in its window;
- the bench's own load: one address whose moving window holds a minute of the stampede (the
  `limits` package keeps a window as a list of its hits, so a long one costs more per hit).

Set beside the rollcall CPU per join of the same run, it says how much faster the stampede
would be with no limits at all.
"""

from __future__ import annotations

import time

from rollcall.ratelimits import RateLimits
from rollcall.settings import Settings

CHECKS = 20_000
CROWD_ADDRESSES = 10_000


async def _join_checks(limits: RateLimits, address: str) -> None:
    """What one join attempt asks of the limits: reserve both, then spend the join."""
    may_join = await limits.joins.reserve(address)
    may_guess = await limits.guesses.reserve(address)
    if may_join:
        await limits.joins.release(address, spend=True)
    if may_guess:
        await limits.guesses.release(address, spend=False)


async def crowd_us(storage: str = "memory://", checks: int = CHECKS) -> float:
    """µs per join at the default limits, joins spread over many addresses, counted in
    `storage` (ROLLCALL_RATE_LIMIT_STORAGE)."""
    limits = RateLimits(Settings(rate_limit_storage=storage))
    addresses = [f"198.51.{n // 256}.{n % 256}" for n in range(CROWD_ADDRESSES)]
    started = time.perf_counter()
    for n in range(checks):
        await _join_checks(limits, addresses[n % CROWD_ADDRESSES])
    return (time.perf_counter() - started) / checks * 1e6


async def one_address_us(window: int, unbinding: dict[str, str]) -> float:
    """µs per join from one address whose join window already holds `window` joins."""
    limits = RateLimits(Settings(**unbinding))  # type: ignore[arg-type]
    address = "192.0.2.1"
    for _ in range(window):
        await limits.joins.hit(address)
    started = time.perf_counter()
    for _ in range(CHECKS):
        await _join_checks(limits, address)
    return (time.perf_counter() - started) / CHECKS * 1e6


async def compare(storages: list[str], rounds: int = 3) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) µs per join for a crowd at the defaults in each storage, taken in turns (so
    noise spreads over all of them alike). Wall time includes the round trips to a Redis; CPU
    time is this process's, what a server's throughput pays."""
    figures: dict[str, list[tuple[float, float]]] = {storage: [] for storage in storages}
    for _ in range(rounds):
        for storage in storages:
            checks = CHECKS if storage == "memory://" else CHECKS // 10
            cpu = time.process_time()
            wall = await crowd_us(storage, checks)
            figures[storage].append((wall, (time.process_time() - cpu) / checks * 1e6))
    return figures


if __name__ == "__main__":
    import asyncio
    import statistics
    import sys

    # python -m bench.limitcost memory:// redis://127.0.0.1:6379
    for storage, runs in asyncio.run(compare(sys.argv[1:] or ["memory://"])).items():
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        print(f"{storage}: {wall:.0f} µs per join, {cpu:.0f} µs of CPU (medians of {len(runs)})")
