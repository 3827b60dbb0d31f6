"""`python -m bench joins|joinbatch|arrival|heartbeats|hostwelcome|attendance|rejoins|broadcast|profile|serve|all|migrate`:
run, print, plot, record."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from bench.cluster import REPO, raise_open_file_limit

SCENARIOS = [
    "joins",
    "joinbatch",
    "arrival",
    "heartbeats",
    "hostwelcome",
    "attendance",
    "rejoins",
    "broadcast",
    "profile",
    "serve",
]
ALL_MINUTES = 15
ALL_SOAK_PHONES = 20_000  # what fits in ALL_MINUTES with the rest (50,000 alone take ~10 minutes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="rollcall's benchmarks (docs/benchmarks.md)."
    )
    parser.add_argument("scenario", choices=[*SCENARIOS, "all", "migrate"])
    parser.add_argument("--quick", action="store_true", help="short runs, for development")
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="migrate: participants in the legacy table"
    )
    parser.add_argument(
        "--writer",
        choices=["bench", "legacy", "previous"],
        default="bench",
        help="migrate: who writes meanwhile: the bench's own writer from revision 0001 (it"
        " writes what each revision's schema has), the same writing as a release before 0003"
        " (no name key, no seat: legacy), or the previous release's rollcall serve (its code"
        " from git) from its schema head",
    )
    parser.add_argument(
        "--processes", type=int, default=None, help="rollcall processes (default: per scenario)"
    )
    parser.add_argument(
        "--phones",
        type=int,
        default=None,
        help="heartbeats: phones in the soak (default 50,000 alone, 20,000 within all);"
        " broadcast: its phones (default 10,000)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "artifacts" / "bench", help="results and plots"
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the plots to docs/benchmarks/ and the figures into docs/benchmarks.md",
    )
    return parser


async def _main(args: argparse.Namespace) -> int:
    if args.scenario == "migrate":
        if args.writer == "previous":
            from bench import migrate_previous

            return await migrate_previous.run(args.rows)
        from bench import migrate

        return await migrate.run(args.rows, old_writer=args.writer == "legacy")
    from bench import (
        arrival,
        attendance,
        broadcast,
        heartbeats,
        hostwelcome,
        joinbatch,
        joins,
        profile,
        rejoins,
        report,
        serve,
    )
    from bench.harness import Harness

    out = REPO / "docs" / "benchmarks" if args.record else args.out
    phones = args.phones or (ALL_SOAK_PHONES if args.scenario == "all" else None)
    h = Harness(out=out, quick=args.quick, processes=args.processes, phones=phones)
    chosen = SCENARIOS if args.scenario == "all" else [args.scenario]
    runners = {
        "joins": joins.run,
        "joinbatch": joinbatch.run,
        "arrival": arrival.run,
        "heartbeats": heartbeats.run,
        "hostwelcome": hostwelcome.run,
        "attendance": attendance.run,
        "rejoins": rejoins.run,
        "broadcast": lambda h: broadcast.run(h, phones=args.phones),
        "profile": profile.run,
        "serve": serve.run,
    }
    started = time.monotonic()
    h.open()
    try:
        for name in chosen:
            began = time.monotonic()
            await runners[name](h)
            print(f"   ({name}: {time.monotonic() - began:.0f} s)", flush=True)
    finally:
        h.close()
    h.details["command"] = "python -m bench " + " ".join(sys.argv[1:])
    h.details["seconds"] = round(time.monotonic() - started)
    if args.scenario == "all":
        minutes = h.details["seconds"] / 60
        h.figure(
            "all",
            "every scenario, end to end",
            minutes,
            "min",
            f"<= {ALL_MINUTES}",
            minutes <= ALL_MINUTES,
            "--quick" if args.quick else "",
        )
    h.save()
    report.print_table(h)
    if args.record:
        report.record(h, REPO / "docs" / "benchmarks.md")
        print(f"recorded in {REPO / 'docs' / 'benchmarks.md'} and {out}/")
    else:
        print(f"results and plots in {out}/")
    return 0


def main() -> int:
    args = _parser().parse_args()
    raise_open_file_limit()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    src = os.environ.get("ROLLCALL_BENCH_SRC")
    if src:
        sys.path.insert(0, str(Path(src).resolve()))
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_main(args))
    return uvloop.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
