"""`python -m bench migrate [--rows N]`: the schema migrations on a big table that is in use.

Loads N participants at revision 0001 (1,000 per event) into a fresh database, keeps a writer
busy at a steady rate (joins, renames, roster reads) the whole time, and runs `rollcall db
upgrade head`, `rollcall db downgrade 0001` and `rollcall db upgrade head` again, each as an
operator would: its own process, with DATABASE_URL. Per revision it prints the time, rows per
second, the writer's latency and errors, and the longest lock a migration statement held
(pg_locks, sampled every 50 ms), each beside its target; then whether the round trip lost a
row or left the schema different.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.synchronize import Event as EventFlag
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow

from bench.cluster import REPO, Database
from bench.harness import percentile
from rollcall.db import migrate
from rollcall.participants.names import normalize_display_name

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The PostgreSQL 15 service; DATABASE_URL names another server."""
PER_EVENT = 1_000
LOAD_EVENTS_PER_STATEMENT = 100
WRITER_RATE = 25.0
"""Writer operations a second: a join, a rename and a roster read in turn."""
WRITER_CONNECTIONS = 8
WARM_UP_S = 3.0
SAMPLE_EVERY_S = 0.05
APPLICATION_NAME = "rollcall-migrate"
"""The migration's connections carry this name (PGAPPNAME), so the sampler can find them."""
WRITER_NAME = "rollcall-bench-writer"

TARGET_UPGRADE_S = 120.0
"""`upgrade head` on 1,000,000 rows."""
TARGET_SCALING = 4.5
"""4,000,000 rows in at most this many times the time of 1,000,000."""
TARGET_STALL_S = 1.0
TARGET_STATEMENT_S = 2.0
WRITER_BLOCKING_MODES = frozenset(
    {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}
)
"""Lock modes that make an INSERT or UPDATE (RowExclusiveLock) wait."""
TABLES = ("events", "event_participants", "event_log")

# Names a legacy table may hold: most plain, some that clash once normalised, some that only
# Unicode-aware code keys right (ß, dotted İ, full-width, zero-width, combining marks).
TRICKY_NAMES = [
    "Straße",
    "STRASSE",
    "İpek",
    "ｍａｒｉａ",
    "A\u200bna",
    "Jose\u0301",
    "José",
    "ǅemal",
]


@dataclass
class Phase:
    """One revision step of one command, as the migration's log announced it."""

    command: str
    step: str
    started: float
    ended: float = 0.0
    rows: int = 0

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Backfill:
    """The last progress line of a backfill: its rows, time and longest statement."""

    command: str
    label: str
    rows: int
    seconds: float
    rows_per_s: float
    longest_statement_s: float
    at: float


@dataclass
class Command:
    command: str
    seconds: float
    exit_code: int
    phases: list[Phase] = field(default_factory=list)
    backfills: list[Backfill] = field(default_factory=list)


@dataclass
class WriterOp:
    kind: str
    scheduled: float
    seconds: float
    error: str | None = None


@dataclass
class LockHold:
    """A lock a migration backend held, from the first sample that saw it to the last."""

    relation: str
    mode: str
    first: float
    last: float
    statement: str

    @property
    def seconds(self) -> float:
        return self.last - self.first


# --- loading ---------------------------------------------------------------------------------


def load(url: str, rows: int) -> int:
    """N participants at revision 0001, 1,000 per event.

    Events fill 100 at a time, their joins interleaved (each page holds rows of 100 events), as
    on a busy evening. The primary key, the index and the foreign key are dropped for the load
    and made again,
    with the same names, so the table is as 0001 made it; then VACUUM ANALYZE, as autovacuum
    would have done to a table in service. Returns the number of events.
    """
    migrate.upgrade(url, "0001")
    per_event = min(PER_EVENT, rows)
    events = max(1, rows // per_event)
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO events (code, title, capacity, host_token_hash)
            SELECT (SELECT string_agg(substr(%(alphabet)s::text, (n::bigint / (28 ^ k)::bigint %% 28 + 1)::int, 1),
                                      '' ORDER BY k DESC)
                    FROM generate_series(0, 5) AS k),
                   'Event ' || n, 10000, sha256(('host-' || n)::bytea)
            FROM generate_series(1, %(events)s) AS n
            """,
            {"alphabet": "23456789ABCDEFGHJKMNPQRSTVWXYZ", "events": events},
        )
        conn.execute(
            "ALTER TABLE event_participants DROP CONSTRAINT event_participants_pkey,"
            " DROP CONSTRAINT event_participants_event_id_fkey"
        )
        conn.execute("DROP INDEX event_participants_event_id_idx")
        for offset in range(0, events, LOAD_EVENTS_PER_STATEMENT):
            conn.execute(
                """
                INSERT INTO event_participants (event_id, display_name, created_at)
                SELECT e.id,
                       CASE WHEN n %% 250 = 0 THEN (%(tricky)s::text[])[(n / 250 + e.k) %% %(count)s + 1]
                            WHEN n %% 100 = 0 THEN 'PLAYER ' || (n - 1)
                            ELSE 'Player ' || n END,
                       now() - make_interval(secs => %(per_event)s - n)
                FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM events
                      ORDER BY id OFFSET %(offset)s LIMIT %(chunk)s) AS e,
                     generate_series(1, %(per_event)s) AS n
                ORDER BY n, e.k
                """,
                {
                    "tricky": TRICKY_NAMES,
                    "count": len(TRICKY_NAMES),
                    "per_event": per_event,
                    "offset": offset,
                    "chunk": LOAD_EVENTS_PER_STATEMENT,
                },
            )
            done = min(events, offset + LOAD_EVENTS_PER_STATEMENT) * per_event
            say(f"loading: {done:,} of {events * per_event:,} rows")
        conn.execute(
            "ALTER TABLE event_participants ADD CONSTRAINT event_participants_pkey PRIMARY KEY (id)"
        )
        conn.execute(
            "CREATE INDEX event_participants_event_id_idx ON event_participants (event_id)"
        )
        conn.execute(
            "ALTER TABLE event_participants ADD CONSTRAINT event_participants_event_id_fkey"
            " FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE"
        )
        conn.execute("VACUUM ANALYZE")
        # The load's own writes flushed now, not in a checkpoint during the migration.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    say(
        f"loaded {events * per_event:,} rows in {events:,} events in {time.monotonic() - started:.0f} s"
    )
    return events


def content_checksum(conn: psycopg.Connection[TupleRow], ids: list[UUID] | None = None) -> int:
    """A sum over every participant's (id, name, joined at), or over these ids only."""
    query = (
        "SELECT coalesce(sum(hashtextextended(id::text || '|' || display_name || '|'"
        " || created_at::text, 0)), 0) FROM event_participants"
    )
    if ids is None:
        found = conn.execute(query).fetchone()
    else:
        found = conn.execute(query + " WHERE id = ANY(%s)", (ids,)).fetchone()
    assert found is not None
    return int(found[0])


# --- the writer ------------------------------------------------------------------------------


class Writer:
    """Joins, renames and roster reads at a steady rate, whatever the schema is at the moment.

    It writes as the application does at every revision: the event row first (as a join locks
    it), then the participant; the name key once the column exists, a seat once seats are
    counted. Each operation's latency counts from when it was due, so a stall also delays the
    ones queued behind it, as it would a user's.
    """

    def __init__(
        self, url: str, events: list[UUID], legacy: dict[UUID, str], *, old: bool = False
    ) -> None:
        self.url = url
        self.old = old
        """Write as a release before revision 0003 did, whatever the schema: no name key, no
        seat (`--writer legacy`)."""
        self.events = events
        self.legacy = legacy
        self.ops: list[WriterOp] = []
        self.inserted: dict[UUID, str] = {}
        self.renamed: dict[UUID, str] = {}
        self._renaming: set[UUID] = set()
        self._counter = 0
        self._random = random.Random(15)

    async def run(self, stop: Callable[[], bool]) -> None:
        free: asyncio.Queue[psycopg.AsyncConnection[TupleRow]] = asyncio.Queue()
        for _ in range(WRITER_CONNECTIONS):
            free.put_nowait(await self._connect())
        kinds = ["join", "rename", "roster"]
        pending: set[asyncio.Task[None]] = set()
        due = time.monotonic()
        try:
            while not stop():
                kind = kinds[self._counter % len(kinds)]
                self._counter += 1
                task = asyncio.create_task(self._one(free, kind, due))
                pending.add(task)
                task.add_done_callback(pending.discard)
                due += 1 / WRITER_RATE
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await asyncio.gather(*pending)
        finally:
            while not free.empty():
                await free.get_nowait().close()

    async def _one(
        self, free: asyncio.Queue[psycopg.AsyncConnection[TupleRow]], kind: str, due: float
    ) -> None:
        conn = await free.get()
        error: str | None = None
        try:
            if kind == "join":
                await self._join(conn)
            elif kind == "rename":
                await self._rename(conn)
            else:
                await self._roster(conn)
        except psycopg.Error as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            if conn.broken:
                conn = await self._connect()
        finally:
            free.put_nowait(conn)
        self.ops.append(WriterOp(kind, due, time.monotonic() - due, error))

    async def _connect(self) -> psycopg.AsyncConnection[TupleRow]:
        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, application_name=WRITER_NAME
        )

    def _name(self, word: str) -> str:
        return f"{word} {self._counter} {secrets.token_hex(3)}"

    async def _join(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        event = self._random.choice(self.events)
        name = self._name("Writer")
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM events WHERE id = %s FOR UPDATE", (event,))
            await conn.execute("LOCK TABLE event_participants IN ROW EXCLUSIVE MODE")
            columns = set() if self.old else await _columns(conn)
            if "seats_taken" in columns:
                await conn.execute(
                    "UPDATE events SET seats_taken = seats_taken + 1 WHERE id = %s", (event,)
                )
            if "name_key" in columns:
                cursor = await conn.execute(
                    "INSERT INTO event_participants (event_id, display_name, name_key)"
                    " VALUES (%s, %s, %s) RETURNING id",
                    (event, name, normalize_display_name(name)[1]),
                )
            else:
                cursor = await conn.execute(
                    "INSERT INTO event_participants (event_id, display_name)"
                    " VALUES (%s, %s) RETURNING id",
                    (event, name),
                )
            row = await cursor.fetchone()
        assert row is not None
        self.inserted[row[0]] = name

    async def _rename(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        pool = list(self.legacy) if self._counter % 2 or not self.inserted else list(self.inserted)
        target = self._random.choice(pool)
        if target in self._renaming:  # one rename of a row at a time, so the last one is known
            return
        self._renaming.add(target)
        name = self._name("Renamed")
        try:
            await self._rename_to(conn, target, name)
        finally:
            self._renaming.discard(target)
        self.renamed[target] = name

    async def _rename_to(
        self, conn: psycopg.AsyncConnection[TupleRow], target: UUID, name: str
    ) -> None:
        async with conn.transaction():
            await conn.execute("LOCK TABLE event_participants IN ROW EXCLUSIVE MODE")
            if not self.old and "name_key" in await _columns(conn):
                await conn.execute(
                    "UPDATE event_participants SET display_name = %s, name_key = %s WHERE id = %s",
                    (name, normalize_display_name(name)[1], target),
                )
            else:
                await conn.execute(
                    "UPDATE event_participants SET display_name = %s WHERE id = %s",
                    (name, target),
                )

    async def _roster(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        event = self._random.choice(self.events)
        cursor = await conn.execute(
            "SELECT id, display_name, created_at FROM event_participants WHERE event_id = %s",
            (event,),
        )
        await cursor.fetchall()


WriterResult = tuple[list[WriterOp], dict[UUID, str], dict[UUID, str]]
"""What the writer did: its operations, the rows it added, and the last name of each it renamed."""


def _writer_process(
    url: str,
    events: list[UUID],
    legacy: dict[UUID, str],
    old: bool,
    stop: EventFlag,
    out: multiprocessing.connection.Connection,
) -> None:
    """The writer in a process of its own: nothing the bench does can delay its loop."""
    writer = Writer(url, events, legacy, old=old)
    try:
        import uvloop
    except ImportError:
        asyncio.run(writer.run(stop.is_set))
    else:
        uvloop.run(writer.run(stop.is_set))
    result: WriterResult = (writer.ops, writer.inserted, writer.renamed)
    out.send(result)


@contextlib.contextmanager
def writing(
    url: str, events: list[UUID], legacy: dict[UUID, str], *, old: bool = False
) -> Iterator[list[WriterResult]]:
    """The writer runs while the block does; the list holds its result afterwards."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_writer_process, args=(url, events, legacy, old, stop, send), daemon=True
    )
    process.start()
    results: list[WriterResult] = []
    try:
        yield results
    finally:
        stop.set()
        if receive.poll(60):
            results.append(receive.recv())
        process.join(10)


async def _columns(conn: psycopg.AsyncConnection[TupleRow]) -> set[str]:
    """The writer's view of the schema, read under its table locks so it cannot change."""
    cursor = await conn.execute(
        "SELECT attname::text FROM pg_attribute WHERE attrelid IN"
        " ('events'::regclass, 'event_participants'::regclass)"
        " AND attname IN ('name_key', 'seats_taken') AND NOT attisdropped"
    )
    return {row[0] for row in await cursor.fetchall()}


# --- the lock sampler ------------------------------------------------------------------------


class LockSampler:
    """Every SAMPLE_EVERY_S, the table locks the migration's backends hold (pg_locks).

    Every 5 s also how busy the machine is: its load average and the share of time some task
    waited for a CPU (/proc/pressure/cpu), since other work on the machine slows everything.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.holds: list[LockHold] = []
        self._open: dict[tuple[str, str, str], LockHold] = {}
        self.samples = 0
        self.load: list[float] = []
        self.cpu_pressure: list[float] = []
        self.writer_waits: list[tuple[float, str]] = []
        """What the writer's busy sessions were doing, sample by sample."""

    async def run(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while not stop.is_set():
                cursor = await conn.execute(
                    """
                    SELECT l.virtualtransaction, c.relname::text, l.mode, left(a.query, 160)
                    FROM pg_stat_activity AS a
                    JOIN pg_locks AS l ON l.pid = a.pid AND l.granted AND l.locktype = 'relation'
                    JOIN pg_class AS c ON c.oid = l.relation
                    WHERE a.application_name = %s AND a.datname = current_database()
                      AND c.relname = ANY(%s)
                    """,
                    (APPLICATION_NAME, list(TABLES)),
                )
                now = time.monotonic()
                if self.samples % round(5 / SAMPLE_EVERY_S) == 0:
                    self._machine()
                self.samples += 1
                seen: dict[tuple[str, str, str], LockHold] = {}
                for transaction, relation, mode, statement in await cursor.fetchall():
                    key = (str(transaction), str(relation), str(mode))
                    hold = self._open.get(key)
                    if hold is None:  # a lock is one hold while consecutive samples see it
                        hold = LockHold(relation, mode, now, now, " ".join(statement.split()))
                        self.holds.append(hold)
                    hold.last = now
                    seen[key] = hold
                self._open = seen
                cursor = await conn.execute(
                    "SELECT coalesce(wait_event_type || ': ' || wait_event, 'running')"
                    " FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
                    " AND datname = current_database()",
                    (WRITER_NAME,),
                )
                self.writer_waits += [(now, str(row[0])) for row in await cursor.fetchall()]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)

    def _machine(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            self.load.append(float(Path("/proc/loadavg").read_text().split()[0]))
            some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
            self.cpu_pressure.append(float(some.split()[1].removeprefix("avg10=")))


# --- the migration commands ------------------------------------------------------------------

RUNNING = re.compile(r"Running (upgrade|downgrade) ([^\s,]+) -> ([^\s,]+)")
FINISHED = re.compile(
    r"rollcall\.migrations: (.+): (\d+) of \d+ rows in ([\d.]+) s \(([\d,]+) rows/s,"
    r" longest statement ([\d.]+) s\)"
)


async def rollcall_db(url: str, *args: str, rows: int) -> Command:
    """`rollcall db ARGS` in its own process, its progress echoed, its revisions timed."""
    name = " ".join(args)
    say(f"$ rollcall db {name}")
    env = {**os.environ, "DATABASE_URL": url, "PGAPPNAME": APPLICATION_NAME}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rollcall.cli",
        "db",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    command = Command(name, 0.0, 0)
    async for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        now = time.monotonic()
        if running := RUNNING.search(line):
            if command.phases:
                command.phases[-1].ended = now
            step = f"{running.group(2)} -> {running.group(3)}"
            command.phases.append(Phase(name, step, now, rows=rows))
        if finished := FINISHED.search(line):
            label, done, seconds, rate, longest = finished.groups()
            command.backfills.append(
                Backfill(
                    name,
                    label,
                    int(done),
                    float(seconds),
                    float(rate.replace(",", "")),
                    float(longest),
                    now,
                )
            )
        if "Context impl" in line or "Will assume" in line:
            continue
        say(f"  {now - started:6.1f} s  {line.removeprefix('INFO ')}")
    command.exit_code = await process.wait()
    command.seconds = time.monotonic() - started
    if command.phases:
        command.phases[-1].ended = started + command.seconds
    return command


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    rows: int
    events: int
    load_seconds: float
    commands: list[Command]
    ops: list[WriterOp]
    holds: list[LockHold]
    lock_samples: int
    load: list[float]
    cpu_pressure: list[float]
    writer_waits: list[tuple[float, str]]
    checks: dict[str, object]
    started: float
    ended: float


async def run(rows: int, *, old_writer: bool = False) -> int:
    """The whole scenario; prints the figures and writes artifacts/bench/migrate-N.json."""
    server = os.environ.get("DATABASE_URL", SERVER)
    say(f"== migrate: {rows:,} participants, a writer at {WRITER_RATE:.0f} operations/s")
    database = Database(server)
    try:
        began = time.monotonic()
        events = await asyncio.to_thread(load, database.url, rows)
        load_seconds = time.monotonic() - began
        outcome = await _migrate_under_load(
            database.url, rows, events, load_seconds, old_writer=old_writer
        )
    finally:
        database.close()
    figures = report(outcome)
    out = REPO / "artifacts" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"migrate-{rows}.json"
    path.write_text(json.dumps({"figures": figures, "run": asdict(outcome)}, indent=1, default=str))
    say(f"results in {path}")
    return 0


async def _migrate_under_load(
    url: str, rows: int, events: int, load_seconds: float, *, old_writer: bool
) -> Run:
    with psycopg.connect(url, autocommit=True) as conn:
        event_ids = [r[0] for r in conn.execute("SELECT id FROM events").fetchall()]
        sample = conn.execute(
            "SELECT id, display_name FROM event_participants TABLESAMPLE SYSTEM (1) LIMIT 2000"
        ).fetchall()
        legacy: dict[UUID, str] = {row[0]: row[1] for row in sample}
        before = content_checksum(conn)
    sampler = LockSampler(url)
    stop = asyncio.Event()
    commands: list[Command] = []
    checks: dict[str, object] = {}
    with writing(url, event_ids, legacy, old=old_writer) as written:
        sampling = asyncio.ensure_future(sampler.run(stop))
        await asyncio.sleep(WARM_UP_S)
        started = time.monotonic()
        commands.append(await rollcall_db(url, "upgrade", "head", rows=rows))
        after_upgrade = await asyncio.to_thread(migrate.schema_snapshot, url)
        commands.append(await rollcall_db(url, "downgrade", "0001", rows=rows))
        commands.append(await rollcall_db(url, "upgrade", "head", rows=rows))
        ended = time.monotonic()
        stop.set()
        await sampling
    ops, inserted, renamed = written[0]
    checks.update(await asyncio.to_thread(_check, url, rows, inserted, renamed, legacy, before))
    checks["schema_same"] = after_upgrade == await asyncio.to_thread(migrate.schema_snapshot, url)
    return Run(
        rows=rows,
        events=events,
        load_seconds=load_seconds,
        commands=commands,
        ops=ops,
        holds=sampler.holds,
        lock_samples=sampler.samples,
        load=sampler.load,
        cpu_pressure=sampler.cpu_pressure,
        writer_waits=sampler.writer_waits,
        checks=checks,
        started=started,
        ended=ended,
    )


def _check(
    url: str,
    rows: int,
    inserted_rows: dict[UUID, str],
    renamed: dict[UUID, str],
    legacy: dict[UUID, str],
    before: int,
) -> dict[str, object]:
    """After the round trip, with the writer stopped: every row there, as the writer left it."""
    inserted = list(inserted_rows)
    renamed_legacy = [i for i in renamed if i in legacy]
    touched = inserted + renamed_legacy
    with psycopg.connect(url, autocommit=True) as conn:
        count = _scalar(conn, "SELECT count(*) FROM event_participants")
        present = _scalar(
            conn, "SELECT count(*) FROM event_participants WHERE id = ANY(%s)", (inserted,)
        )
        as_renamed = _scalar(
            conn,
            "SELECT count(*) FROM unnest(%s::uuid[], %s::text[]) AS u(id, name)"
            " JOIN event_participants AS p ON p.id = u.id AND p.display_name = u.name",
            (list(renamed), list(renamed.values())),
        )
        renamed_before = _scalar(
            conn,
            "SELECT coalesce(sum(hashtextextended(p.id::text || '|' || u.name || '|'"
            " || p.created_at::text, 0)), 0)"
            " FROM unnest(%s::uuid[], %s::text[]) AS u(id, name)"
            " JOIN event_participants AS p ON p.id = u.id",
            (renamed_legacy, [legacy[i] for i in renamed_legacy]),
        )
        untouched_now = content_checksum(conn) - content_checksum(conn, touched)
        wrong_seats = _scalar(
            conn,
            "SELECT count(*) FROM events AS e WHERE seats_taken <> (SELECT count(*)"
            " FROM event_participants AS p WHERE p.event_id = e.id AND p.status <> 'kicked')",
        )
        sample = conn.execute(
            "SELECT id, display_name, name_key FROM event_participants"
            " TABLESAMPLE SYSTEM (2) LIMIT 20000"
        ).fetchall()
    wrong_keys = [row for row in sample if not _key_is_right(row[0], row[1], row[2])]
    return {
        "rows_expected": rows + len(inserted),
        "rows_found": count,
        "writer_rows_missing": len(inserted) - present,
        "renames_missing": len(renamed) - as_renamed,
        "untouched_rows_changed": untouched_now != before - renamed_before,
        "events_with_wrong_seats": wrong_seats,
        "keys_checked": len(sample),
        "keys_wrong": len(wrong_keys),
        "keys_wrong_renamed": sum(1 for row in wrong_keys if row[0] in renamed),
    }


def _key_is_right(row_id: UUID, name: str, key: str) -> bool:
    """The key normalize_display_name gives, or that key made unique (`key#id`, `#id`)."""
    try:
        wanted = normalize_display_name(name)[1]
    except ValueError:
        return key == f"#{row_id}"
    return key in (wanted, f"{wanted}#{row_id}")


def _scalar(conn: psycopg.Connection[TupleRow], query: str, params: tuple[object, ...] = ()) -> int:
    found = conn.execute(query, params).fetchone()
    assert found is not None
    return int(found[0])


# --- the report ------------------------------------------------------------------------------


def say(line: str) -> None:
    print(line, flush=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def _during(ops: list[WriterOp], start: float, end: float) -> list[WriterOp]:
    return [op for op in ops if start <= op.scheduled < end]


def _latency(ops: list[WriterOp]) -> str:
    times = [op.seconds for op in ops]
    return (
        f"{_ms(percentile(times, 50))} / {_ms(percentile(times, 99))} / "
        f"{_ms(max(times, default=None))} ms"
    )


def _hold(holds: list[LockHold]) -> str:
    if not holds:
        return "none seen"
    worst = max(holds, key=lambda h: h.seconds)
    shown = f"{worst.seconds:.2f} s" if worst.seconds >= SAMPLE_EVERY_S else f"< {SAMPLE_EVERY_S} s"
    return f"{shown} {worst.mode} on {worst.relation}"


def report(outcome: Run) -> dict[str, object]:
    """Print each command's revisions, then every figure beside its target; returns them."""
    for command in outcome.commands:
        say("")
        say(f"== rollcall db {command.command}: {command.seconds:.1f} s (exit {command.exit_code})")
        say(
            f"{'revision':14} {'time':>8} {'rows/s':>9}  {'writer p50 / p99 / max':>24}"
            f" {'errors':>6}  longest lock a migration statement held"
        )
        for phase in command.phases:
            ops = _during(outcome.ops, phase.started, phase.ended)
            holds = [h for h in outcome.holds if phase.started <= h.first < phase.ended]
            blocking = [h for h in holds if h.mode in WRITER_BLOCKING_MODES]
            backfilled = any(phase.started <= b.at < phase.ended for b in command.backfills)
            rate = f"{phase.rows / phase.seconds:9,.0f}" if backfilled else f"{'-':>9}"
            say(
                f"{phase.step:14} {phase.seconds:7.1f}s {rate}"
                f"  {_latency(ops):>24} {sum(1 for op in ops if op.error):6}"
                f"  blocking writers: {_hold(blocking)}; any: {_hold(holds)}"
            )
        for phase in command.phases:
            waits = Counter(
                what for at, what in outcome.writer_waits if phase.started <= at < phase.ended
            )
            if waits:
                total = sum(waits.values())
                shown = ", ".join(f"{what} {n / total:.0%}" for what, n in waits.most_common(3))
                say(f"  {phase.step}: the writer's busy sessions: {shown} of {total} samples")
        for backfill in command.backfills:
            say(
                f"  {backfill.label}: {backfill.rows:,} rows in {backfill.seconds:.1f} s"
                f" ({backfill.rows_per_s:,.0f} rows/s), longest statement"
                f" {backfill.longest_statement_s:.2f} s (target <= {TARGET_STATEMENT_S:.0f} s)"
            )

    first = outcome.commands[0]
    migrating = _during(outcome.ops, outcome.started, outcome.ended)
    errors = [op for op in migrating if op.error]
    slowest = max(migrating, key=lambda op: op.seconds, default=None)
    stall = slowest.seconds if slowest else 0.0
    where = _when(outcome, slowest.scheduled) if slowest else ""
    longest_statement = max(
        (b.longest_statement_s for c in outcome.commands for b in c.backfills), default=0.0
    )
    blocking = [h for h in outcome.holds if h.mode in WRITER_BLOCKING_MODES]
    longest_block = max((h.seconds for h in blocking), default=0.0)
    checks = outcome.checks
    figures: list[tuple[str, str, str, bool | None]] = []
    upgrade_target, upgrade_met = _upgrade_target(outcome.rows, first.seconds)
    figures.append(("upgrade head", f"{first.seconds:.1f} s", upgrade_target, upgrade_met))
    for command in outcome.commands[1:]:
        figures.append((f"then {command.command}", f"{command.seconds:.1f} s", "", None))
    figures += [
        (
            "commands that failed",
            str(sum(1 for c in outcome.commands if c.exit_code)),
            "0",
            all(c.exit_code == 0 for c in outcome.commands),
        ),
        (
            "writer: longest operation",
            f"{stall:.2f} s{where}",
            f"<= {TARGET_STALL_S:.0f} s",
            stall <= TARGET_STALL_S,
        ),
        (
            "writer: operations, errors",
            f"{len(migrating):,}, {len(errors)}",
            "errors: 0",
            not errors,
        ),
        (
            "longest backfill statement",
            f"{longest_statement:.2f} s",
            f"<= {TARGET_STATEMENT_S:.0f} s",
            longest_statement <= TARGET_STATEMENT_S,
        ),
        (
            "longest lock blocking writers",
            _hold(blocking).split(" on ")[0],
            f"< {TARGET_STALL_S:.0f} s (sampled every {SAMPLE_EVERY_S * 1000:.0f} ms)",
            longest_block < TARGET_STALL_S,
        ),
        (
            "rows after the round trip",
            f"{checks['rows_found']:,} of {checks['rows_expected']:,}",
            "none lost",
            checks["rows_found"] == checks["rows_expected"]
            and checks["writer_rows_missing"] == 0
            and checks["renames_missing"] == 0
            and not checks["untouched_rows_changed"],
        ),
        (
            "schema after downgrade + upgrade",
            "identical" if checks["schema_same"] else "DIFFERENT",
            "identical",
            bool(checks["schema_same"]),
        ),
        (
            "name keys (sample)",
            f"{checks['keys_wrong']} wrong of {checks['keys_checked']:,}"
            f" ({checks['keys_wrong_renamed']} renamed)",
            "0 wrong",
            checks["keys_wrong"] == 0,
        ),
        (
            "events whose seats are wrong",
            str(checks["events_with_wrong_seats"]),
            "0",
            checks["events_with_wrong_seats"] == 0,
        ),
    ]
    say("")
    say(f"{'':5}{'figure':34} {'measured':>22}  target")
    for name, measured, target, met in figures:
        mark = {True: "ok", False: "MISS", None: ""}[met]
        say(f"{mark:5}{name:34} {measured:>22}  {target}")
    say(
        f"\n(loading {outcome.rows:,} rows took {outcome.load_seconds:.0f} s; writer errors:"
        f" {sorted({op.error for op in errors if op.error})[:3] or 'none'})"
    )
    if outcome.load:
        say(
            f"(the machine, {os.cpu_count()} cores, meanwhile: load average"
            f" {sum(outcome.load) / len(outcome.load):.1f} on average, max {max(outcome.load):.1f};"
            f" some task waiting for a CPU {sum(outcome.cpu_pressure) / max(len(outcome.cpu_pressure), 1):.0f} %"
            " of the time)"
        )
    return {name: {"measured": m, "target": t, "met": met} for name, m, t, met in figures}


def _when(outcome: Run, moment: float) -> str:
    for command in outcome.commands:
        for phase in command.phases:
            if phase.started <= moment < phase.ended:
                return f" ({command.command}, {phase.step})"
    return " (between revisions)"


def _upgrade_target(rows: int, seconds: float) -> tuple[str, bool | None]:
    """At 1,000,000 rows: 120 s. At other sizes: linear from the recorded 1,000,000-row run."""
    million = 1_000_000
    if rows == million:
        return f"<= {TARGET_UPGRADE_S:.0f} s", seconds <= TARGET_UPGRADE_S
    if rows < million:
        return f"(the targets are set at {million:,} rows and above)", None
    recorded = REPO / "artifacts" / "bench" / f"migrate-{million}.json"
    if not recorded.exists():
        return f"(run --rows {million} first for the linear target)", None
    base = float(json.loads(recorded.read_text())["run"]["commands"][0]["seconds"])
    factor = TARGET_SCALING / 4 * rows / million
    return (
        f"<= {factor:.2f} x {base:.1f} s = {factor * base:.0f} s (the {million:,}-row run;"
        f" measured {seconds / base:.2f} x)",
        seconds <= factor * base,
    )
