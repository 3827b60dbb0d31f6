"""`python -m bench joinbatch`: the database's cost per join of one rollcall_join_many call.

One call of rollcall_join_many into one event, with 16 and with 256 new devices (and, shown
beside, 100 spread over 50 events), timed around the call alone: inside its transaction,
without the commit (what the batch's size changes is the work under the event lock, not the
one flush a batch costs). Two readings: the backend's own on-CPU time (/proc/<pid>/schedstat,
when the server runs on this machine), which the targets are on, and the client's wall clock.
Each shape runs several times, each into fresh events, and the median counts. The current
function, revision 0006's (one rollcall_join per item, each updating the event row and
writing its log row) and revision join_batches' (the same sets, before names_seats_teams gave
each join its kind of name, word filter and team to check) run in the same run, interleaved:
the earlier revisions' functions are installed in the bench database under other names, as
those revisions wrote them, so they share the machine and its noise. The events have the
default word filter and 20 words of their own, and the current function gets each join's
folded name and team input as the service makes them: what a join costs now.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import statistics
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench.harness import MAX_CAPACITY, Harness

SIZES = (16, 256)
"""Batches into one event: the targets compare these two."""
SPREAD = (100, 50)
"""A batch of 100 joins over 50 events (two each): shown beside, with no target, so that a
batch spread over many events is seen not to pay for what helps one event."""
TARGET_RATIO = 1.2
"""Per-join cost of a batch of 256 over that of a batch of 16, at most."""
TARGET_US = 150.0
"""Per-join cost of a batch of 256, at most (µs)."""

WARM_UP_BATCHES = 5
"""Batches of 256 per function before the statistics are taken and the timing starts."""

CURRENT = "rollcall_join_many"
BEFORE = "rollcall_bench_join_many_0006"
BEFORE_ONE = "rollcall_bench_join_0006"
SETS = "rollcall_bench_join_many_sets"
SETS_HELPERS = {
    "rollcall_join_one(": "rollcall_bench_join_one_sets(",
    "rollcall_join_set(": "rollcall_bench_join_set_sets(",
}
FUNCTIONS = (BEFORE, SETS, CURRENT)
LABELS = {BEFORE: "0006, one by one", SETS: "join_batches, as sets", CURRENT: "current, as sets"}
BLOCKED_WORDS = [f"blocked{n}" for n in range(19)] + ["*worse*"]


@dataclass(frozen=True)
class Batch:
    """rollcall_join_many's arrays for `size` new devices into one event."""

    columns: list[list[Any]]


def install_before(conn: psycopg.Connection[Any]) -> None:
    """Revision 0006's rollcall_join_many and rollcall_join, under the bench's names."""
    from rollcall.db.schema import revision_module

    revision = revision_module("0006")
    one = str(revision.JOIN_FUNCTION)
    many = str(revision.JOIN_MANY_FUNCTION)
    renamed_one = one.replace("FUNCTION rollcall_join(", f"FUNCTION {BEFORE_ONE}(")
    renamed_many = many.replace("FUNCTION rollcall_join_many(", f"FUNCTION {BEFORE}(").replace(
        "FROM rollcall_join(", f"FROM {BEFORE_ONE}("
    )
    if one == renamed_one or many == renamed_many or "FROM rollcall_join(" in renamed_many:
        raise RuntimeError("revision 0006's join functions are not as this bench expects")
    conn.execute(renamed_one)
    conn.execute(renamed_many)
    sets = revision_module("join_batches")
    for text in (sets.JOIN_ONE_FUNCTION, sets.JOIN_SET_FUNCTION, sets.JOIN_MANY_FUNCTION):
        renamed = str(text).replace("FUNCTION rollcall_join_many(", f"FUNCTION {SETS}(")
        for name, bench_name in SETS_HELPERS.items():
            renamed = renamed.replace(name, bench_name)
        if "rollcall_join_one(" in renamed or "rollcall_join_set(" in renamed:
            raise RuntimeError("revision join_batches' functions are not as this bench expects")
        conn.execute(renamed)


def uninstall_before(conn: psycopg.Connection[Any]) -> None:
    names = [BEFORE, BEFORE_ONE, SETS, *(name.rstrip("(") for name in SETS_HELPERS.values())]
    signatures = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p WHERE p.proname = ANY(%s)",
        (names,),
    ).fetchall()
    for (signature,) in signatures:
        conn.execute(f"DROP FUNCTION {signature}")


def new_event(conn: psycopg.Connection[Any]) -> str:
    """A fresh open event with room for any batch: its code."""
    from rollcall.events.service import blocked_patterns, new_code

    code = new_code()
    conn.execute(
        "INSERT INTO events (code, title, capacity, host_token_hash, name_filter, blocked_words,"
        " blocked_patterns) VALUES (%s, 'joinbatch', %s, %s, 'default', %s, %s)",
        (
            code,
            MAX_CAPACITY,
            secrets.token_hex(16),
            BLOCKED_WORDS,
            blocked_patterns(BLOCKED_WORDS),
        ),
    )
    return code


def batch_of(codes: list[str], size: int) -> Batch:
    """`size` new devices, spread over the events `codes` in turn: the eleven inputs every
    revision's function takes, then the four of names_seats_teams."""
    from rollcall.participants.names import name_skeleton, normalize_display_name
    from rollcall.participants.wordfilter import builtin_list, name_forms

    columns: list[list[Any]] = [[] for _ in range(14)]
    tag = secrets.token_hex(3)
    for i in range(size):
        code = codes[i % len(codes)]
        name, key = normalize_display_name(f"Batch {tag} {i}")
        device: UUID = uuid4()
        token = hashlib.sha256(device.bytes).digest()
        row = [code, device, name, key, name_skeleton(name), token, None, None, True, True]
        forms = name_forms(name)
        row += [False, forms, builtin_list().refuses(forms), None]
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return Batch(columns)


def backend_cpu_ns(pid: int) -> int | None:
    """Nanoseconds a local PostgreSQL backend has spent on a CPU (/proc/<pid>/schedstat).

    Unlike the wall clock, this hardly grows when other processes take the cores meanwhile:
    it is the database's own cost. None when the server is not on this machine.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as stats:
            return int(stats.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float | None  # the backend's on-CPU time, if it can be read


def timed_call(conn: psycopg.Connection[Any], backend: int, function: str, batch: Batch) -> Timing:
    """The call, in its own transaction, commit excluded; every join in it must have joined."""
    query = (
        f"SELECT outcome FROM {function}(%s::text[], %s::uuid[], %s::text[], %s::text[],"
        " %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::boolean[], %s::boolean[],"
        " 30.0::double precision"
    )
    columns = batch.columns[:10]
    if function == CURRENT:
        query += ", %s::boolean[], %s::text[], %s::boolean[], %s::text[]"
        columns = batch.columns
    with conn.transaction():
        cpu_before = backend_cpu_ns(backend)
        started = time.perf_counter()
        outcomes = conn.execute(query + ")", columns).fetchall()
        took = time.perf_counter() - started
        cpu_after = backend_cpu_ns(backend)
    joined = sum(1 for (outcome,) in outcomes if outcome == "joined")
    if joined != len(batch.columns[0]):
        raise RuntimeError(f"{function}: {joined} of {len(batch.columns[0])} joined")
    cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / 1e9
    return Timing(took, cpu)


Samples = dict[tuple[str, str, str], list[float]]
"""(measure, function, shape): µs per join of each repeat."""

CPU = "database CPU"
WALL = "wall clock"


def measure(url: str, repeats: int) -> Samples:
    """Each (function, size) `repeats` times, each into a fresh event, interleaved."""
    samples: Samples = {}
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        backend = int(row[0])
        install_before(conn)
        try:
            # A database in use has rows and statistics. A fresh one has neither, and a plan
            # cached for the session on an empty table (a sequential scan) would make each call
            # slower than the one before: some rows first, then ANALYZE, then the plans.
            for _ in range(WARM_UP_BATCHES):
                for function in FUNCTIONS:
                    timed_call(conn, backend, function, batch_of([new_event(conn)], SIZES[1]))
            conn.execute("ANALYZE events, event_participants, event_log")
            for function in FUNCTIONS:
                timed_call(conn, backend, function, batch_of([new_event(conn)], SIZES[0]))
            shapes = [(size, 1) for size in SIZES] + [SPREAD]
            for _ in range(repeats):
                for size, events in shapes:
                    for function in FUNCTIONS:
                        codes = [new_event(conn) for _ in range(events)]
                        timing = timed_call(conn, backend, function, batch_of(codes, size))
                        readings = [(WALL, timing.wall_s), (CPU, timing.cpu_s)]
                        for name, seconds in readings:
                            if seconds is not None:
                                key = (name, function, shape(size, events))
                                samples.setdefault(key, []).append(1e6 * seconds / size)
        finally:
            uninstall_before(conn)
    return samples


NAMES = [f"Player {i:05d}" for i in range(5_000)] + [f"Ana María {i}" for i in range(5_000)]
"""Names for the Python side's cost per join: what the service does to a name before it is
batched, as join_batches did it (clean, key, skeleton) and now (also the word filter's folded
forms and the built-in list's answer)."""


def python_per_name() -> dict[str, float]:
    """µs per name, best of five passes over NAMES, for each way."""
    from rollcall.participants.names import name_skeleton, normalize_display_name
    from rollcall.participants.service import CheckedName

    def cleaned(raw: str) -> None:
        name, _ = normalize_display_name(raw)
        name_skeleton(name)

    ways = {"join_batches, as sets": cleaned, "current, as sets": CheckedName.of}
    best: dict[str, float] = {}
    for label, way in ways.items():
        way("warm up")
        for _ in range(5):
            started = time.perf_counter()
            for raw in NAMES:
                way(raw)
            per_name = 1e6 * (time.perf_counter() - started) / len(NAMES)
            best[label] = min(best.get(label, per_name), per_name)
    return best


async def run(h: Harness) -> None:
    repeats = 5 if h.quick else 15
    print(
        f"== joinbatch: one rollcall_join_many call into one event, {repeats} repeats per size,"
        " revisions 0006's and join_batches' functions beside the current one",
        flush=True,
    )
    samples = await asyncio.to_thread(measure, h.db.url, repeats)
    python = await asyncio.to_thread(python_per_name)
    for label, per_name in python.items():
        h.figure("joinbatch", f"Python per join, the name, {label}", per_name, "µs")
    details = h.details.setdefault("joinbatch", {"repeats": repeats})
    details["us_per_join"] = {" ".join(map(str, key)): v for key, v in samples.items()}
    # The targets are on the database's CPU per join (its cost); the wall clock, which other
    # processes on the machine stretch, is shown beside it. Without /proc, the wall clock.
    targeted = CPU if (CPU, CURRENT, shape(SIZES[0], 1)) in samples else WALL
    for measured in (CPU, WALL):
        if (measured, CURRENT, shape(SIZES[0], 1)) in samples:
            _figures(h, samples, measured, with_targets=measured == targeted)


def _figures(h: Harness, samples: Samples, measured: str, *, with_targets: bool) -> None:
    median = {key: statistics.median(values) for key, values in samples.items()}
    small, large = (shape(size, 1) for size in SIZES)
    shapes = [small, large, shape(*SPREAD)]
    for function, label in LABELS.items():
        targeted = with_targets and function == CURRENT
        for each in shapes:
            values = samples[(measured, function, each)]
            value = median[(measured, function, each)]
            h.figure(
                "joinbatch",
                f"{measured} per join, {each}, {label}",
                value,
                "µs",
                f"<= {TARGET_US:.0f}" if targeted and each == large else "",
                value <= TARGET_US if targeted and each == large else None,
                f"median of {len(values)}; {min(values):.0f}-{max(values):.0f}",
            )
        ratio = median[(measured, function, large)] / median[(measured, function, small)]
        h.figure(
            "joinbatch",
            f"  {SIZES[1]} over {SIZES[0]}, one event, {label}",
            ratio,
            "x",
            f"<= {TARGET_RATIO}" if targeted else "",
            ratio <= TARGET_RATIO if targeted else None,
        )
    for baseline in (BEFORE, SETS):
        for each in shapes:
            h.figure(
                "joinbatch",
                f"  current over {LABELS[baseline].split(',')[0]}, {each}",
                median[(measured, CURRENT, each)] / median[(measured, baseline, each)],
                "x",
            )


def shape(size: int, events: int) -> str:
    return f"{size} into one event" if events == 1 else f"{size} over {events} events"
