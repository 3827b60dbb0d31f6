"""The layout's rules, checked on the source: imports point one way, protocol words have names.

docs/architecture.md describes the layers; these tests fail when a change breaks them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from rollcall import protocol
from rollcall.db import sqlfiles
from rollcall.events.schemas import Admission, EventStatus, NameFilter, Names, Reclaim, TeamMode
from rollcall.participants.outcomes import AdmitOutcome, JoinOutcome
from rollcall.participants.schemas import ParticipantStatus
from rollcall.presence.service import Presence

PACKAGE = Path(protocol.__file__).parent
MIGRATIONS = PACKAGE / "db" / "migrations"

# Modules that every feature may use and that use no feature.
NEUTRAL = {
    "rollcall.protocol",
    "rollcall.event_log",
    "rollcall.errors",
    "rollcall.settings",
    "rollcall.metrics",
}
# Services: the rules and their SQL. They never reach up into the HTTP or socket layers.
SERVICE_PACKAGES = (
    "rollcall.attendance",
    "rollcall.events",
    "rollcall.participants",
    "rollcall.presence",
    "rollcall.webhooks",
    "rollcall.live",
)
API_MODULES = ("routes", "deps", "cli")
UPPER = ("rollcall.realtime", "rollcall.runtime", "rollcall.app", "rollcall.cli", "rollcall.web")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if MIGRATIONS in path.parents:
            continue  # Alembic loads revisions by path; they are frozen history, not modules.
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The rollcall modules this module imports, anywhere in it (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in MODULES else base)
    return {target for target in targets if target in MODULES and target != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, packages: tuple[str, ...]) -> bool:
    """Whether the module is one of these or inside one (rollcall.webhooks is not rollcall.web)."""
    return any(module == package or module.startswith(package + ".") for package in packages)


def _is_service(module: str) -> bool:
    return _within(module, SERVICE_PACKAGES) and module.rpartition(".")[2] not in API_MODULES


def test_the_import_graph_has_no_cycle() -> None:
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*visiting[visiting.index(module) :], module])
            return
        visiting.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_services_never_import_realtime_the_runtime_or_routes() -> None:
    wrong = [
        f"{module} imports {target}"
        for module in GRAPH
        if _is_service(module)
        for target in GRAPH[module]
        if _within(target, UPPER) or target.rpartition(".")[2] in API_MODULES
    ]
    assert not wrong, "\n".join(wrong)


def test_neutral_modules_use_no_feature() -> None:
    allowed = ("rollcall.db", *NEUTRAL)
    wrong = [
        f"{module} imports {target}"
        for module in NEUTRAL
        for target in GRAPH[module]
        if not target.startswith(allowed)
    ]
    assert not wrong, "\n".join(wrong)


def _reads_a_table(text: str) -> bool:
    words = text.upper().split()
    statement = bool(words) and words[0] in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
    return statement and any(word in words for word in ("FROM", "INTO", "UPDATE", "DELETE"))


def test_realtime_holds_no_sql() -> None:
    """Realtime reads and writes no table: the services answer what a socket needs."""
    wrong = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in (PACKAGE / "realtime").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _reads_a_table(node.value)
    ]
    assert not wrong, wrong


# -- protocol words ------------------------------------------------------------------------

CLOSE_CODES = {int(code) for code in protocol.Close}
MESSAGE_TYPES = {
    str(kind)
    for enum in (protocol.HostMessage, protocol.ServerMessage, protocol.ClientMessage)
    for kind in enum
}
CLOSING_CALLS = {"close", "Refused", "Closing", "WebSocketDisconnect", "_close"}


BENCH = PACKAGE.parent.parent / "bench"


def _python_sources() -> Iterator[tuple[Path, ast.AST]]:
    """The package (but protocol.py) and the benchmarks, which speak the protocol too."""
    for path in [*MODULES.values(), *BENCH.glob("*.py")]:
        if path.name != "protocol.py":
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _bare_words(tree: ast.AST) -> Iterator[tuple[int, object]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else None
            callee = callee or (node.func.id if isinstance(node.func, ast.Name) else None)
            if callee in CLOSING_CALLS:
                for argument in node.args:
                    if isinstance(argument, ast.Constant) and argument.value in CLOSE_CODES:
                        yield node.lineno, argument.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "type"
                    and isinstance(value, ast.Constant)
                    and value.value in MESSAGE_TYPES
                ):
                    yield node.lineno, value.value
        elif isinstance(node, ast.Compare):
            for word in _compared_words(node, ("kind", "type"), MESSAGE_TYPES):
                yield node.lineno, word
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(("participant.", "event."))
            and node.value in MESSAGE_TYPES
        ) or (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and 4400 <= node.value <= 4499
        ):
            yield node.lineno, node.value


def _compared_words(node: ast.Compare, names: tuple[str, ...], words: set[str]) -> list[str]:
    """The words of `words` compared, bare, with something called one of `names`: `kind ==
    "away"`, `x.type in ("a", "b")`, `x["outcome"] == "full"`."""
    sides = [node.left, *node.comparators]
    if not any(_called(side, names) for side in sides):
        return []
    return [
        value.value
        for side in sides
        for value in (side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side])
        if isinstance(value, ast.Constant) and value.value in words
    ]


def _called(node: ast.AST, names: tuple[str, ...]) -> bool:
    """`name`, `x.name`, `x["name"]` for one of the names."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute):
        return node.attr in names
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in names
    return False


def test_no_bare_close_code_or_message_type_in_python() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent.parent)}:{line}: {word!r}"
        for path, tree in _python_sources()
        for line, word in _bare_words(tree)
    ]
    assert not found, "use the names in rollcall/protocol.py:\n" + "\n".join(found)


def test_the_word_check_catches_bare_words() -> None:
    """The check above would fail on the forms it is meant to catch."""
    samples = [
        'connection.close(4403, "kicked")',
        'raise Refused(1011, "database unavailable")',
        'message = {"type": "participant.kicked"}',
        'if kind == "heartbeat": pass',
        'if kind in ("away", "back"): pass',
        "FINAL = [4401, 4410]",
    ]
    for sample in samples:
        assert list(_bare_words(ast.parse(sample))), sample


# -- pooled connections --------------------------------------------------------------------

# What asyncpg's pool itself offers to take a connection: acquire, or a query that borrows one.
POOL_TAKING = {
    "acquire",
    "fetch",
    "fetchrow",
    "fetchval",
    "execute",
    "executemany",
    "copy_to_table",
}


def _pool_takes(tree: ast.AST) -> Iterator[int]:
    """Calls of the pool's own borrowing methods on anything named like a pool."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in POOL_TAKING
        ):
            receiver = node.func.value
            name = receiver.attr if isinstance(receiver, ast.Attribute) else None
            name = name or (receiver.id if isinstance(receiver, ast.Name) else "")
            if name.lower().endswith("pool"):
                yield node.lineno


def test_only_db_takes_a_connection_from_the_pool() -> None:
    """Outside db/, a pooled connection is taken with db.pool.borrow, which discards one whose
    borrower was cancelled in a statement instead of handing it to the next (decisions.md)."""
    found = [
        f"{path.relative_to(PACKAGE.parent.parent)}:{line}"
        for name, path in MODULES.items()
        if not _within(name, ("rollcall.db",))
        for line in _pool_takes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "borrow a connection with rollcall.db.pool.borrow:\n" + "\n".join(found)


def test_the_pool_check_catches_a_direct_acquire() -> None:
    samples = [
        "async with self._pool.acquire() as conn: pass",
        "conn = await runtime.pool.acquire(timeout=1)",
        "await pool.fetchval('SELECT 1')",
    ]
    for sample in samples:
        assert list(_pool_takes(ast.parse(sample))), sample
    assert not list(_pool_takes(ast.parse("await self._lookups.acquire()")))


def test_bodies_are_read_before_any_route_or_dependency_runs() -> None:
    """limits.BodyGuard reads each body whole before the app routes the request, so no
    dependency (a pooled connection, `Conn`) is resolved while a body trickles in. It is the
    innermost middleware: nothing between it and the routes may take a connection.
    docs/decisions.md, "Slow clients"; tests/test_limits.py drives every
    route with a body that never completes."""
    from rollcall.app import create_app
    from rollcall.limits import BodyGuard
    from rollcall.settings import Settings

    app = create_app(Settings(public_url="http://rollcall.test"))
    assert app.user_middleware[-1].cls is BodyGuard


# -- the database functions' words ---------------------------------------------------------

SQL_FUNCTIONS = {path.stem: path.read_text() for path in sqlfiles.FUNCTIONS_DIR.glob("*.sql")}
JOIN_FUNCTIONS = (
    "rollcall_join",
    "rollcall_join_many",
    "rollcall_join_one",
    "rollcall_join_set",
    "rollcall_newcomer_refusal",
)
CHANNELS = {
    protocol.EVENTS_CHANNEL,
    protocol.CONTROL_CHANNEL,
    protocol.RECEIPTS_CHANNEL,
    protocol.WEBHOOKS_CHANNEL,
}
# Words the join and admission functions compare or store that are not outcomes: the columns'
# values (as the API's schemas name them), and the JSON keys of the messages they build.
COLUMN_VALUES = {
    str(word)
    for kind in (
        ParticipantStatus,
        Presence,
        EventStatus,
        Admission,
        Reclaim,
        Names,
        NameFilter,
        TeamMode,
    )
    for word in get_args(kind)
}
MESSAGE_KEYS = {
    "type",
    "seq",
    "event_id",
    "participant",
    "participant_id",
    "id",
    "reclaimed",
    "request_id",
}
QUOTED = re.compile(r"'([a-z_.]*)'")


def _quoted(*names: str) -> set[str]:
    """The quoted words of these functions (their comments left out)."""
    code = "\n".join(re.sub(r"--[^\n]*", "", SQL_FUNCTIONS[name]) for name in names)
    return set(QUOTED.findall(code))


def test_the_join_functions_answer_exactly_the_join_outcomes() -> None:
    words = _quoted(*JOIN_FUNCTIONS)
    outcomes = {str(outcome) for outcome in JoinOutcome}
    assert outcomes <= words, f"outcomes no function answers: {outcomes - words}"
    known = outcomes | COLUMN_VALUES | MESSAGE_KEYS | CHANNELS | MESSAGE_TYPES | {"participant."}
    assert words <= known, f"words of the join functions with no name: {words - known}"


def test_the_admission_function_answers_exactly_the_admit_outcomes() -> None:
    words = _quoted("rollcall_admit")
    outcomes = {str(outcome) for outcome in AdmitOutcome}
    assert outcomes <= words, f"outcomes rollcall_admit never answers: {outcomes - words}"
    known = outcomes | COLUMN_VALUES | MESSAGE_KEYS | CHANNELS | MESSAGE_TYPES
    assert words <= known, f"words of rollcall_admit with no name: {words - known}"


def test_the_sql_speaks_the_protocols_words() -> None:
    """Message types and NOTIFY channels in the database functions are protocol.py's."""
    wrong = []
    for name, text in SQL_FUNCTIONS.items():
        for word in _quoted(name):
            if word.startswith(("participant.", "event.")) and word != "participant.":
                wrong += [] if word in MESSAGE_TYPES else [f"{name}: message type {word!r}"]
        for channel in re.findall(r"pg_notify\(\s*'([^']*)'", text):
            wrong += [] if channel in CHANNELS else [f"{name}: channel {channel!r}"]
    # rollcall_join_set names the message after the outcome: 'participant.' || outcome.
    wrong += [
        f"rollcall_join_set: participant.{outcome}"
        for outcome in (JoinOutcome.JOINED, JoinOutcome.PENDING, JoinOutcome.REJOINED)
        if f"participant.{outcome}" not in MESSAGE_TYPES
    ]
    assert not wrong, "use the words in rollcall/protocol.py:\n" + "\n".join(wrong)


OUTCOME_WORDS = {str(word) for enum in (JoinOutcome, AdmitOutcome) for word in enum}


def _bare_outcomes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """`outcome == "full"`, `row["outcome"] in ("joined", ...)`: an outcome compared by its word."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for word in _compared_words(node, ("outcome",), OUTCOME_WORDS):
                yield node.lineno, word


def test_no_join_outcome_compared_by_its_bare_word_in_python() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent.parent)}:{line}: {word!r}"
        for path in MODULES.values()
        for line, word in _bare_outcomes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "use rollcall/participants/outcomes.py:\n" + "\n".join(found)
    assert list(_bare_outcomes(ast.parse('if result.outcome in ("joined", "x"): pass')))


# -- "full" -------------------------------------------------------------------------------

SEATS_AGAINST_CAPACITY = re.compile(
    r"seats_taken\W*\s*(?:>=|<=|<|>|=)\s*[\w.\[\]\"']*capacity"
    r"|capacity\W*\s*(?:>=|<=|<|>|=)\s*[\w.\[\]\"']*seats_taken"
)


def test_full_is_decided_once() -> None:
    """Every seat taken is rollcall_full's to say: the SQL, the services and the pages ask it."""
    sources = [
        *(p for p in sqlfiles.FUNCTIONS_DIR.glob("*.sql") if p.stem != "rollcall_full"),
        *MODULES.values(),
        *(PACKAGE / "web" / "static").rglob("*.js"),
    ]
    found = [
        f"{path.relative_to(PACKAGE)}: {match.group(0)!r}"
        for path in sources
        for match in SEATS_AGAINST_CAPACITY.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "ask rollcall_full (or the Event's counts.full):\n" + "\n".join(found)
    for sample in (
        "if (this.event.counts.seats_taken >= this.event.capacity) {",
        "ELSIF v_event.seats_taken >= v_event.capacity THEN",
        'if locked["seats_taken"] >= locked["capacity"]:',
        "WHERE id = $1 AND seats_taken < capacity RETURNING id",
    ):
        assert SEATS_AGAINST_CAPACITY.search(sample), sample


# -- the host's roster ---------------------------------------------------------------------

STATIC = PACKAGE / "web" / "static"


def test_the_hosts_roster_is_reduced_in_one_place() -> None:
    """What each message of the host's stream does to a roster is shared/roster.js's, applied by
    the SDK's Host, which the host page is built on."""
    reducer = STATIC / "shared" / "roster.js"
    switching = [
        str(path.relative_to(STATIC))
        for path in STATIC.rglob("*.js")
        if path != reducer and "case HostMessage." in path.read_text(encoding="utf-8")
    ]
    assert not switching, f"a second reducer of the host's stream: {switching}"
    assert "applyToRoster(" in (STATIC / "sdk" / "host.js").read_text(encoding="utf-8")
    # The host page follows its event with the SDK's host client, not a socket of its own.
    page = [path.read_text(encoding="utf-8") for path in (STATIC / "host").glob("*.js")]
    assert any("new Host(" in text for text in page)
    assert not any("LiveSocket" in text for text in page)
