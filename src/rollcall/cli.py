"""The `rollcall` command: serve, migrate, create events."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp

from rollcall.db import schema
from rollcall.db.embedded import stop_embedded
from rollcall.db.url import resolve_database_url
from rollcall.errors import DatabaseSetupError
from rollcall.exposure import (
    Listening,
    banner,
    lan_addresses,
    open_creation_refusal,
    plain_http_warning,
)
from rollcall.settings import Settings

log = logging.getLogger("rollcall")

METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's; rollcall.metrics names it too, but importing that would be too early."""


class StartRefused(Exception):
    """`rollcall serve` will not start as asked; the message says why and what to do."""


WORKER_APP = "rollcall.cli:worker_app"
"""What each worker process of a multi-process `serve` imports and calls to build its app."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "forwarded_allow_ips", None) is not None:
        overrides["trusted_proxies"] = args.forwarded_allow_ips
    return Settings(**overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    with _metrics_directory():
        return _serve(args)


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """Where every process of this `serve` writes its metrics, so that /metrics sums them all.

    prometheus-client's multiprocess mode reads PROMETHEUS_MULTIPROC_DIR when it is first
    imported, so this runs before rollcall.app (and rollcall.metrics) is, and before any
    worker is spawned. A directory named by the operator is used as it is (several commands
    may share it; emptying it between runs is theirs to do); otherwise a fresh, empty one
    lives as long as this command.
    """
    if os.environ.get(METRICS_DIRECTORY_VARIABLE):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="rollcall-metrics-") as directory:
        os.environ[METRICS_DIRECTORY_VARIABLE] = directory
        try:
            yield
        finally:
            del os.environ[METRICS_DIRECTORY_VARIABLE]


def worker_count(args: argparse.Namespace, settings: Settings) -> int:
    """--workers, else ROLLCALL_WORKERS, else one process per core."""
    if args.workers is not None:
        return int(args.workers)
    if settings.workers is not None:
        return settings.workers
    return os.cpu_count() or 1


def worker_app() -> ASGIApp:
    """A worker's app, built from the environment the parent `serve` left for it.

    The parent started the database (DATABASE_URL) and set every setting given on its
    command line as a variable, so each worker reads the same settings.
    """
    from rollcall.app import create_app
    from rollcall.realtime.ws import DirectWebSocket

    return DirectWebSocket(create_app(Settings()))


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise StartRefused("--ssl-certfile and --ssl-keyfile go together")
    where = Listening(
        host=args.host,
        port=args.port,
        https=args.ssl_certfile is not None,
        public_url=settings.public_url,
    )
    refusal = open_creation_refusal(
        where, admin_token_set=settings.admin_token is not None, open_creation=args.open_creation
    )
    if refusal is not None:
        raise StartRefused(refusal)
    url = resolve_database_url(settings)
    if not args.no_migrate:
        schema.upgrade(url)
    else:
        schema.require_head(url, otherwise=" (or serve without --no-migrate)")
    print("\n".join(banner(where, lan_addresses() if where.all_interfaces else [])))
    if (warning := plain_http_warning(where)) is not None:
        print(warning, file=sys.stderr)
    sys.stdout.flush()
    trusted = settings.trusted_proxies
    workers = worker_count(args, settings)
    app: ASGIApp | str
    if workers == 1:
        from rollcall.app import create_app
        from rollcall.realtime.ws import DirectWebSocket

        app = DirectWebSocket(create_app(settings, database_url=url))
    else:
        # Workers are spawned and build their app from the environment: hand them what this
        # process decided (the database it started, the proxies the command line trusts).
        os.environ["DATABASE_URL"] = url
        os.environ["ROLLCALL_TRUSTED_PROXIES"] = trusted
        app = WORKER_APP
    try:
        _run_uvicorn(app, args, settings=settings, workers=workers)
    finally:
        # uvicorn's supervisor returns once every worker has stopped (SIGTERM, SIGINT): the
        # embedded database this process started stops with them.
        stop_embedded()
    return 0


def _run_uvicorn(
    app: ASGIApp | str, args: argparse.Namespace, *, settings: Settings, workers: int
) -> None:
    from rollcall import supervisor, wsprotocol
    from rollcall.httpprotocol import PROTOCOL

    trusted = settings.trusted_proxies
    supervisor.run(
        app,
        factory=isinstance(app, str),
        workers=workers if workers > 1 else None,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # A line per request is CPU and a write on every join; the proxy in front (Caddy in
        # the stack of docs/operations.md) logs every request anyway. --access-log asks for it.
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
        # Slow clients cost only their own socket: a deadline and a size bound on each header
        # block (the protocol, reading ROLLCALL_HEADER_TIMEOUT_S and ROLLCALL_MAX_HEADER_BYTES),
        # the body's deadline in the app (limits.BodyGuard), and idle connections closed.
        http=PROTOCOL,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        ws=wsprotocol.PROTOCOL,  # uvicorn's websockets-sansio; broadcasts as prepared frames
        ws_max_size=64 * 1024,
        # Compressing a message happens on the event loop, all at once: a host's welcome of
        # 10,000 people (several MiB) held every other socket of the process for some 60 ms.
        # rollcall's other messages are small. docs/decisions.md, "No WebSocket compression".
        ws_per_message_deflate=False,
        # X-Forwarded-For and X-Forwarded-Proto count only from ROLLCALL_TRUSTED_PROXIES: the
        # client address they give is what the rate limits count by.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )


def _cmd_db(args: argparse.Namespace) -> int:
    if args.db_command == "sql":
        print(schema.offline_sql(downgrade=args.downgrade), end="")
        return 0
    url = resolve_database_url(_settings(args))
    if args.db_command == "upgrade":
        schema.upgrade(url, args.revision)
        print(f"database at {schema.current(url)}")
    elif args.db_command == "downgrade":
        schema.downgrade(url, args.revision)
        print(f"database at {schema.current(url)}")
    elif args.db_command == "current":
        print(schema.current(url))
    return 0


def _cmd_purge(args: argparse.Namespace) -> int:
    from rollcall.events.cli import purge_command

    return purge_command(_settings(args), dry_run=args.dry_run)


def _cmd_event(args: argparse.Namespace) -> int:
    from rollcall.events.cli import create_event_command

    return create_event_command(_settings(args), title=args.title, capacity=args.capacity)


def _cmd_report(args: argparse.Namespace) -> int:
    from rollcall.attendance.cli import report_command

    return report_command(
        _settings(args), code=args.code, fmt=args.format, include_pending=args.include_pending
    )


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall", description="Participant identity and live presence for live events."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", type=Path, help="where the embedded database lives (ROLLCALL_DATA_DIR)"
    )

    serve = commands.add_parser("serve", parents=[data_dir], help="migrate, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="processes serving the port (default: ROLLCALL_WORKERS, else one per core)",
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema first")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log a line for every request (off by default: the proxy in front logs them)",
    )
    serve.add_argument(
        "--open-creation",
        action="store_true",
        help="on a network address without ROLLCALL_ADMIN_TOKEN: let anyone create events",
    )
    serve.add_argument("--ssl-certfile", type=Path, help="serve https with this certificate (PEM)")
    serve.add_argument("--ssl-keyfile", type=Path, help="the certificate's private key (PEM)")
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-* headers are trusted (default: ROLLCALL_TRUSTED_PROXIES)",
    )
    serve.set_defaults(handler=_cmd_serve)

    db = commands.add_parser("db", help="schema migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", parents=[data_dir], help="upgrade the schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", parents=[data_dir], help="downgrade to REV")
    downgrade.add_argument("revision", help="a revision id, -1, or base")
    db_commands.add_parser("current", parents=[data_dir], help="print the schema's revision")
    sql = db_commands.add_parser("sql", help="print the SQL of every revision, for review")
    sql.add_argument("--downgrade", action="store_true", help="the downgrade, head to base")
    purge = db_commands.add_parser(
        "purge",
        parents=[data_dir],
        help="close idle events, delete long-closed ones (ROLLCALL_EVENT_IDLE_HOURS, _RETENTION_DAYS)",
    )
    purge.add_argument("--dry-run", action="store_true", help="only say what it would do")
    purge.set_defaults(handler=_cmd_purge)
    db.set_defaults(handler=_cmd_db)

    event = commands.add_parser("event", help="events")
    event_commands = event.add_subparsers(dest="event_command", required=True)
    create = event_commands.add_parser("create", parents=[data_dir], help="create an event")
    create.add_argument("title")
    create.add_argument("--capacity", type=int, default=None)
    create.set_defaults(handler=_cmd_event)
    report = event_commands.add_parser(
        "report",
        parents=[data_dir],
        help="print the roll call: who was there, and for how long (as the API's attendance)",
    )
    report.add_argument("code", help="the event's code")
    report.add_argument("--format", choices=["json", "csv"], default="json")
    report.add_argument(
        "--include-pending",
        action="store_true",
        help="also who waits for the host, and whom the host turned away",
    )
    report.set_defaults(handler=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ValidationError as exc:
        print(f"rollcall: invalid settings:\n{_settings_errors(exc)}", file=sys.stderr)
        return 2
    except (DatabaseSetupError, StartRefused) as exc:
        print(f"rollcall: {exc}", file=sys.stderr)
        return 2
    return result


def _settings_errors(exc: ValidationError) -> str:
    return "\n".join(
        f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
    )


if __name__ == "__main__":
    sys.exit(main())
