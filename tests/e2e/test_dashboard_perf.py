"""The dashboard with 2,000 people while 100 roster messages a second arrive, measured in Chromium.

Frames are timed in the page with requestAnimationFrame and a long-task observer; a search is
timed from each keystroke's event time to the end of the first frame drawn after it. The figures
are printed (run with -s to see them) and the targets asserted: no frame's own work over 50 ms
(no long task; no long animation frame whose scripts, style and layout took over 50 ms), every
search answered within 100 ms. The same load is measured once more with every card drawn
(the card view forced by hand), for docs/decisions.md; only the list's figures are asserted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, WebSocket, expect

from rollcall import event_log
from rollcall.db.pool import create_pool
from rollcall.protocol import HostMessage
from tests.e2e.pages import (
    PROJECTOR,
    HostedEvent,
    Joined,
    create_event,
    crowd_names,
    join_crowd,
)
from tests.pg import PgServer
from tests.servers import RollcallServer, rollcall_server

pytestmark = pytest.mark.e2e

PEOPLE = 2_000
RATE = 100  # roster messages a second
SECONDS = 8.0
FRAME_BUDGET_MS = 50
SEARCH_BUDGET_MS = 100
TICK_S = 0.05
BATCH = round(RATE * TICK_S)  # changes a transaction
SEARCH = "zoe ok"  # finds "Zoë Okafor" and nobody else, accents aside

PROBES = """
() => {
  const perf = { frames: [], longTasks: [], searches: [], slowFrames: [], stop: false };
  window.__perf = perf;
  // What made a frame slow, by script and by style and layout (Long Animation Frames).
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const end = entry.startTime + entry.duration;
      const layout = end - (entry.styleAndLayoutStart || end);
      const scripts = entry.scripts.reduce((sum, script) => sum + script.duration, 0);
      perf.slowFrames.push({
        ms: Math.round(entry.duration),
        work: Math.round(scripts + layout),
        layout: Math.round(layout),
        scripts: entry.scripts.map((script) =>
          `${script.sourceFunctionName || script.invoker}@${script.sourceURL.split("/").slice(-2).join("/")}:${Math.round(script.duration)}`),
      });
    }
  }).observe({ type: "long-animation-frame" });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) perf.longTasks.push(entry.duration);
  }).observe({ type: "longtask" });
  let last = performance.now();
  const tick = (now) => {
    perf.frames.push(now - last);
    last = now;
    if (!perf.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  // A keystroke in the search box is answered when the first frame after it has been drawn.
  document.addEventListener("input", (event) => {
    if (event.target.id !== "roster-search") return;
    const typed = event.timeStamp;
    requestAnimationFrame(() => setTimeout(() => perf.searches.push(performance.now() - typed)));
  }, true);
}
"""


@pytest.fixture(scope="module")
def database_url(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RollcallServer]:
    """Presence that never times out during the test, so the sweep adds no burst of its own;
    join limits far above a crowd joining from one address."""
    with (
        rollcall_server(
            database_url,
            tmp_path_factory.mktemp("logs"),
            presence_timeout_s=3600,
            limit_joins="100000/minute",
            max_capacity=10_000,
        ) as running,
    ):
        yield running


@dataclass
class Figures:
    view: str
    frames: int
    longest_frame_ms: float
    p99_frame_ms: float
    frames_over_budget: int
    long_tasks_ms: list[float]
    slow_frames: list[dict[str, Any]]
    searches_ms: list[float]
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def report(self) -> str:
        searches = ", ".join(f"{value:.0f}" for value in self.searches_ms) or "none"
        return (
            f"[{self.view}] {PEOPLE} people, {self.messages} messages in {self.seconds:.1f} s "
            f"({self.rate:.0f}/s): {self.frames} frames, longest {self.longest_frame_ms:.1f} ms, "
            f"p99 {self.p99_frame_ms:.1f} ms, {self.frames_over_budget} over {FRAME_BUDGET_MS} ms; "
            f"long tasks {[round(value) for value in self.long_tasks_ms]}; "
            f"search per keystroke (ms): {searches}; "
            f"frames over 50 ms in the page's own account: {self.slow_frames}"
        )


def test_two_thousand_people_and_a_hundred_messages_a_second_stay_smooth(
    server: RollcallServer,
    database_url: str,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
) -> None:
    event = create_event(api, title="Town hall", capacity=PEOPLE + 100)
    started = time.monotonic()
    crowd = join_crowd(server.base_url, event.code, crowd_names(PEOPLE))
    print(f"\n{PEOPLE} joins in {time.monotonic() - started:.1f} s")

    page = contexts(**PROJECTOR).new_page()
    received = _count_roster_messages(page)
    started = time.monotonic()
    page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("shown")).to_have_text("2,000 people", timeout=30_000)
    expect(page.get_by_test_id("connection")).to_have_text("Connected", timeout=30_000)
    print(f"dashboard open with {PEOPLE} people in {time.monotonic() - started:.1f} s")
    expect(page.locator("main")).to_have_attribute("data-layout", "list")
    drawn = page.get_by_test_id("roster").locator("[data-participant-id]").count()
    assert drawn < 100, f"the list drew {drawn} rows of {PEOPLE}"

    listed = _measure(page, database_url, event, crowd, received, view="list (windowed)")
    print(listed.report())

    page.get_by_test_id("search").fill("")
    page.get_by_label("View").select_option("cards")
    expect(page.get_by_test_id("roster").locator("[data-participant-id]")).to_have_count(
        PEOPLE, timeout=60_000
    )
    carded = _measure(page, database_url, event, crowd, received, view="cards (all drawn)")
    print(carded.report())

    assert listed.rate >= RATE * 0.9, listed.report()
    # The page's own work: no task over 50 ms (Long Tasks), and no frame whose scripts, style,
    # layout and paint took over 50 ms (Long Animation Frames, which attribute the time). The
    # gaps between frames are reported as well but not asserted: on a machine shared with other
    # work, a frame also waits for a core, which no code in the page causes (docs/decisions.md).
    assert not listed.long_tasks_ms, listed.report()
    assert all(frame["work"] <= FRAME_BUDGET_MS for frame in listed.slow_frames), listed.report()
    assert len(listed.searches_ms) == len(SEARCH), listed.report()
    assert max(listed.searches_ms) <= SEARCH_BUDGET_MS, listed.report()


def _measure(
    page: Page,
    database_url: str,
    event: HostedEvent,
    crowd: list[Joined],
    received: list[float],
    *,
    view: str,
) -> Figures:
    search = page.get_by_test_id("search")
    search.fill("")
    page.evaluate(PROBES)
    window_start = time.monotonic()
    with _load(database_url, event.code, crowd) as sent:
        # A measuring window, not a wait for something; Playwright keeps taking the page's
        # socket frames meanwhile, so each is counted when it arrives.
        page.wait_for_timeout(SECONDS / 3 * 1000)  # the load runs a while before the host types
        # Generous timeouts: with every card drawn, a keystroke may take seconds (reported).
        search.press_sequentially(SEARCH, delay=120, timeout=120_000)
        expect(page.get_by_test_id("shown")).to_have_text("1 shown of 2,000 people", timeout=60_000)
        expect(page.get_by_test_id("roster").get_by_text("Zoë Okafor")).to_be_visible()
        remaining = SECONDS - (time.monotonic() - window_start)
        if remaining > 0:
            page.wait_for_timeout(remaining * 1000)
    window = time.monotonic() - window_start
    perf: dict[str, Any] = page.evaluate(
        "() => { window.__perf.stop = true; return window.__perf; }"
    )
    frames = sorted(perf["frames"][1:])  # the first delta spans the probe's start
    messages = sum(1 for at in received if window_start <= at <= window_start + window)
    assert sent[0] > 0
    return Figures(
        view=view,
        frames=len(frames),
        longest_frame_ms=frames[-1],
        p99_frame_ms=frames[int(len(frames) * 0.99)],
        frames_over_budget=sum(1 for value in frames if value > FRAME_BUDGET_MS),
        long_tasks_ms=perf["longTasks"],
        slow_frames=perf["slowFrames"],
        searches_ms=perf["searches"],
        messages=messages,
        seconds=window,
    )


def _count_roster_messages(page: Page) -> list[float]:
    """When each numbered message of the host's stream reached the page."""
    times: list[float] = []

    def watch(socket: WebSocket) -> None:
        def received(frame: str | bytes) -> None:
            try:
                message = json.loads(frame)
            except ValueError:
                return
            if isinstance(message, dict) and "seq" in message and message.get("type") != "welcome":
                times.append(time.monotonic())

        socket.on("framereceived", received)

    page.on("websocket", watch)
    return times


@dataclass
class _Change:
    kind: str  # "score" or "presence"
    who: Joined
    away: bool = False


def _changes(crowd: list[Joined]) -> Iterator[_Change]:
    """Seven score changes for every three presence changes (away, then back), to random people."""
    chooser = random.Random(14)
    away: set[str] = set()
    while True:
        who = chooser.choice(crowd)
        if chooser.random() < 0.7:
            yield _Change("score", who)
        elif who.participant_id in away:
            away.discard(who.participant_id)
            yield _Change("presence", who, away=False)
        else:
            away.add(who.participant_id)
            yield _Change("presence", who, away=True)


async def _apply(conn: asyncpg.Connection[Any], event_id: UUID, change: _Change) -> None:
    """One roster change and its message in the event log, as the services write them."""
    participant_id = UUID(change.who.participant_id)
    if change.kind == "score":
        row = await conn.fetchrow(
            """
            UPDATE event_participants
            SET state = jsonb_set(state, '{score}', to_jsonb(coalesce((state->>'score')::int, 0) + 1)),
                state_version = state_version + 1
            WHERE id = $1 RETURNING state, state_version
            """,
            participant_id,
        )
        assert row is not None
        message = {
            "type": HostMessage.STATE,
            "participant_id": str(participant_id),
            "state": row["state"],
            "version": row["state_version"],
        }
    else:
        presence = "away" if change.away else "online"
        await conn.execute(
            "UPDATE event_participants SET away = $2, reported_presence = $3 WHERE id = $1",
            participant_id,
            change.away,
            presence,
        )
        message = {
            "type": HostMessage.PRESENCE,
            "participant_id": str(participant_id),
            "presence": presence,
        }
    await event_log.append(conn, event_id=event_id, message=message)


@contextmanager
def _load(database_url: str, code: str, crowd: list[Joined]) -> Iterator[list[int]]:
    """RATE roster changes a second (scores, and away and back), each of which the host's stream
    delivers as one message, until the block ends. Yields [changes made so far].

    The changes are written as the services write them (the row, then event_log.append, under
    the event's lock) but BATCH to a transaction: one event's changes queue on its row lock, so
    one per transaction would measure how fast this shared machine commits, not the page.
    """
    stop = threading.Event()
    made = [0]

    async def produce() -> None:
        pool = await create_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                event_id = await conn.fetchval("SELECT id FROM events WHERE code = $1", code)
                changes = _changes(crowd)
                start = time.monotonic()
                for tick in itertools.count():
                    await asyncio.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))
                    if stop.is_set():
                        return
                    async with conn.transaction():
                        await event_log.lock_event(conn, event_id=event_id)
                        for _ in range(BATCH):
                            await _apply(conn, event_id, next(changes))
                    made[0] += BATCH
        finally:
            await pool.close()

    producer = threading.Thread(target=lambda: asyncio.run(produce()), daemon=True)
    producer.start()
    try:
        yield made
    finally:
        stop.set()
        producer.join(timeout=10)
