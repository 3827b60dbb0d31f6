"""The layout's rules, checked on the source: imports point one way, protocol words have names.

docs/architecture.md describes the layers; these tests fail when a change breaks them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from rollcall import protocol

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
        elif isinstance(node, ast.Compare) and any(
            _names_a_type(side) for side in [node.left, *node.comparators]
        ):
            for side in [node.left, *node.comparators]:
                values = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                for value in values:
                    if isinstance(value, ast.Constant) and value.value in MESSAGE_TYPES:
                        yield node.lineno, value.value
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


def _names_a_type(node: ast.AST) -> bool:
    """`kind`, `x.type`, `x["type"]`: what a message type is compared with."""
    if isinstance(node, ast.Name):
        return node.id in ("kind", "type")
    if isinstance(node, ast.Attribute):
        return node.attr == "type"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "type"
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
