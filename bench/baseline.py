"""The database's own rate for rollcall's join SQL: pgbench running exactly those statements.

The script is not written by hand. The bench runs one real join through rollcall's own code
(`participants.service.join`, as the join route calls it) on a connection that records every
statement it sends, in order, with any BEGIN and COMMIT. Each recorded statement goes into a
pgbench script unchanged; only its parameters are replaced: the device id, the name, its key
and the token digest become per-transaction values that pgbench computes (arrays of one when
the join sends arrays), and everything else is passed as the same bound parameter the join
sent. So when the join's SQL changes, the baseline follows. One pgbench transaction is one
join: the database's own rate for a join, with no batching by the application.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

# A new device's name and key, made unique per pgbench client and transaction.
_NAME = "('b' || :client_id || 'n' || :n || 'r' || :run)"
_DEVICE = (
    "(lpad(to_hex(:client_id::int), 8, '0') || '-' || :run || '-4000-8000-'"
    " || lpad(to_hex(:n::bigint), 12, '0'))::uuid"
)
_DIGEST = "sha256(convert_to(:run || '-' || :client_id || '-' || :n, 'UTF8'))"


class _RecordingConnection:
    """Stands in for an asyncpg connection: runs every call on the real one and notes its SQL."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def _run(self, method: str, query: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((query, args))
        return await getattr(self._conn, method)(query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchrow", query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchval", query, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetch", query, *args, **kwargs)

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run("execute", query, *args, **kwargs)

    def is_in_transaction(self) -> bool:
        return bool(self._conn.is_in_transaction())

    def transaction(self) -> _RecordedTransaction:
        return _RecordedTransaction(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _RecordedTransaction:
    def __init__(self, recorder: _RecordingConnection) -> None:
        self._recorder = recorder
        self._transaction: Any = None

    async def __aenter__(self) -> None:
        self._recorder.calls.append(("BEGIN", ()))
        self._transaction = self._recorder._conn.transaction()
        await self._transaction.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        self._recorder.calls.append(("ROLLBACK" if exc[0] else "COMMIT", ()))
        await self._transaction.__aexit__(*exc)


@dataclass
class JoinScript:
    text: str
    defines: dict[str, str]
    statements: int
    recorded: list[str] = field(default_factory=list)
    transactional: bool = True


class _RecordingPool:
    """A pool whose every connection is the one recording connection."""

    def __init__(self, conn: _RecordingConnection) -> None:
        self._conn = conn

    def acquire(self, **_: Any) -> _Acquired:
        return _Acquired(self._conn)


class _Acquired:
    def __init__(self, conn: _RecordingConnection) -> None:
        self._conn = conn

    async def __aenter__(self) -> _RecordingConnection:
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        return None


async def _one_join(recorder: _RecordingConnection, code: str, device: UUID, display: str) -> None:
    """One new device's join, through rollcall's own code, on the recording connection."""
    import inspect

    from rollcall.events import service as events
    from rollcall.participants import service as participants

    # The join's signature depends on the rollcall measured (ROLLCALL_BENCH_SRC may name an
    # older one), and the recorder stands in for asyncpg's pool and connection: both are Any.
    join: Any = participants.join
    stand_in: Any = recorder
    stand_in_pool: Any = _RecordingPool(recorder)
    first = next(iter(inspect.signature(join).parameters))
    if first == "joins":  # batched joins (rollcall_join_many), one join in the batch
        from rollcall.participants.batch import JoinBatcher

        batcher = JoinBatcher(stand_in_pool)
        await join(batcher, code=code, device_id=device, display_name=display)
    else:  # one transaction per join, as the join route ran it before batching
        event = await events.get_event(stand_in, code=code)
        await join(stand_in, event=event, device_id=device, display_name=display)


async def record_join_sql(database_url: str, event_code: str, title_prefix: str) -> JoinScript:
    """Run one new-device join through rollcall's code and turn its SQL into a pgbench script.

    Each pgbench client joins one of the events titled `title_prefix` + a number (client id
    modulo `:events`), looked up once, on the client's first transaction. Each pgbench
    transaction is one join: what the database does for a join, without any batching.
    """
    from rollcall.db.pool import create_pool
    from rollcall.events import service as events
    from rollcall.participants import names

    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            event = await events.get_event(conn, code=event_code)
            recorder = _RecordingConnection(conn)
            device = uuid4()
            display = "Recorded Join"
            name, key = names.normalize_display_name(display)
            # A rollcall from before look-alike names (ROLLCALL_BENCH_SRC) has no skeleton.
            skeleton = names.name_skeleton(name) if hasattr(names, "name_skeleton") else name
            await _one_join(recorder, event.code, device, display)
    finally:
        await pool.close()

    def expression(value: Any) -> str:
        if isinstance(value, UUID) and value == device:
            return _DEVICE
        if isinstance(value, UUID) and value == event.id:
            return ":ev"
        if isinstance(value, str) and value == event.code:
            return ":evcode"
        if isinstance(value, str) and value in (name, key, display, skeleton):
            return _NAME
        if isinstance(value, bytes | bytearray) and len(value) == 32:
            return _DIGEST
        if value is None:
            return "NULL"
        var = f"p{len(defines)}"
        defines[var] = _as_text(value)
        return ":" + var

    defines: dict[str, str] = {}
    lines: list[str] = []
    for query, args in recorder.calls:
        exprs: list[str] = []
        for value in args:
            if isinstance(value, list | tuple):
                kind = _ARRAY_TYPES.get(type(value[0]), "text") if value else "text"
                items = ", ".join(f"({expression(item)})" for item in value)
                exprs.append(f"ARRAY[{items}]::{kind}[]")
            else:
                exprs.append(expression(value))
        lines.append(_substitute(_one_line(query), exprs) + ";")
    transactional = any(q == "BEGIN" for q, _ in recorder.calls)
    pick_event = (
        "\\if :n = 0\n"
        "SELECT id AS ev, code AS evcode FROM events"
        f" WHERE title = '{title_prefix}' || (:client_id::int % :events::int) \\gset\n"
        "\\endif\n"
    )
    script = pick_event + "\\set n :n + 1\n" + "\n".join(lines) + "\n"
    return JoinScript(
        text=script,
        defines=defines,
        statements=sum(1 for q, _ in recorder.calls if q not in ("BEGIN", "COMMIT")),
        recorded=[_one_line(q) for q, _ in recorder.calls],
        transactional=transactional,
    )


PLAIN_INSERT_EVENTS = 100
PLAIN_INSERT_TITLE = "plain insert"


def plain_event_id(number: str) -> str:
    """The id of plain-insert event `number` (an SQL expression): known, so never looked up.

    The event titled PLAIN_INSERT_TITLE + " " + number has it (the bench makes them so).
    """
    return f"md5('{PLAIN_INSERT_TITLE} ' || {number})::uuid"


def plain_insert_script() -> JoinScript:
    """The database's limit for the row a join must write: that row alone, nothing else.

    One INSERT of a participant row (the columns a join writes, with their indexes and
    constraints) into one of PLAIN_INSERT_EVENTS events drawn at random each transaction,
    ON CONFLICT (event_id, device_id) DO NOTHING: no event lock, no seq, no log row, no NOTIFY.
    """
    insert = (
        "INSERT INTO event_participants (event_id, device_id, display_name, name_key,"
        " name_skeleton, status, session_token_hash, reported_presence, recovery_digest)"
        f" VALUES ({plain_event_id(':k')}, {_DEVICE}, {_NAME}, {_NAME}, {_NAME}, 'active',"
        f" {_DIGEST}, 'online', sha256({_DIGEST})) ON CONFLICT (event_id, device_id) DO NOTHING;"
    )
    text = f"\\set n :n + 1\n\\set k random(0, :events - 1)\n{insert}\n"
    return JoinScript(text=text, defines={}, statements=1, recorded=[insert], transactional=False)


_ARRAY_TYPES: dict[type, str] = {UUID: "uuid", str: "text", bytes: "bytea", int: "bigint"}


def _one_line(query: str) -> str:
    """pgbench reads one SQL command per line: fold the statement onto one line."""
    return " ".join(query.split())


def _substitute(query: str, exprs: list[str]) -> str:
    return re.sub(r"\$(\d+)", lambda m: exprs[int(m.group(1)) - 1], query)


def _as_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class PgbenchResult:
    clients: int
    seconds: float
    tps: float
    transactions: int
    failed: int
    latencies_ms: list[float]
    per_second: list[tuple[float, float]]  # (seconds since start, tps)
    statement_ms: list[tuple[float, str]]
    output: str


def run_pgbench(
    *,
    pgbench: str,
    env: dict[str, str],
    script: JoinScript,
    clients: int,
    seconds: float,
    events: int,
    work_dir: Path,
) -> PgbenchResult:
    """pgbench with the join script: prepared statements, as asyncpg uses, one run nonce."""
    work_dir.mkdir(parents=True, exist_ok=True)
    script_path = work_dir / "join.sql"
    script_path.write_text(script.text)
    for old in work_dir.glob("pgbench_log*"):
        old.unlink()
    defines = {**script.defines, "n": "0", "run": secrets.token_hex(2), "events": str(events)}
    args = [pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2))]
    args += ["-T", str(round(seconds)), "-P", "1", "-r", "-l"]
    args += ["--log-prefix", str(work_dir / "pgbench_log"), "-f", str(script_path)]
    for name, value in defines.items():
        args += ["-D", f"{name}={value}"]
    started = time.time()
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{output[-3000:]}")
    tps = float(_search(r"tps = ([\d.]+)", output))
    transactions = int(_search(r"number of transactions actually processed: (\d+)", output))
    failed_text = re.search(r"number of failed transactions: (\d+)", output)
    per_second = [
        (float(t), float(rate))
        for t, rate in re.findall(r"progress: ([\d.]+) s, ([\d.]+) tps", output)
    ]
    statement_ms: list[tuple[float, str]] = []
    for line in output.splitlines():
        match = re.match(r"\s+([\d.]+)(?:\s+\d+)*\s+([^\d\s].*)$", line)
        if match:
            statement_ms.append((float(match.group(1)), match.group(2)[:90]))
    latencies: list[float] = []
    for log in work_dir.glob("pgbench_log*"):
        for row in log.read_text().splitlines():
            parts = row.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000)
    return PgbenchResult(
        clients=clients,
        seconds=time.time() - started,
        tps=tps,
        transactions=transactions,
        failed=int(failed_text.group(1)) if failed_text else 0,
        latencies_ms=latencies,
        per_second=per_second,
        statement_ms=statement_ms,
        output=output,
    )


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"pgbench output has no {pattern!r}:\n{text[-2000:]}")
    return match.group(1)
