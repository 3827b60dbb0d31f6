"""The report: the table printed at the end, and the figures recorded in docs/benchmarks.md.

`--record` rewrites only the part of docs/benchmarks.md between the two markers below; the
rest of the page (method, analysis, proposals) is written by people.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bench.harness import Harness

START = "<!-- bench:figures:start (written by `python -m bench … --record`) -->"
END = "<!-- bench:figures:end -->"


def print_table(h: Harness) -> None:
    print()
    print(f"{'':5}{'figure':44} {'measured':>16}  target")
    for f in h.figures:
        mark = {True: "ok", False: "MISS", None: ""}[f.met]
        print(f"{mark:5}{f.name:44} {f.shown():>16}  {f.target}")
    missed = [f for f in h.figures if f.met is False]
    print(
        f"\n{len([f for f in h.figures if f.met])} targets met, {len(missed)} missed;"
        f" {h.details.get('seconds', 0)} s in all"
    )


def _figures_table(h: Harness) -> list[str]:
    lines = ["| | figure | measured | target | notes |", "|---|---|---:|---|---|"]
    for f in h.figures:
        mark = {True: "met", False: "**missed**", None: ""}[f.met]
        note = f.note.replace("|", "/")
        lines.append(f"| {mark} | {f.name.strip()} | {f.shown()} | {f.target} | {note} |")
    return lines


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for report in profile.values():
        lines.append(
            f"**{report['label']}**: rollcall's PostgreSQL sessions, on average "
            f"({report['wait_samples']} samples of pg_stat_activity):"
        )
        lines.append("")
        for what, mean in report["waits"][:8]:
            lines.append(f"- {mean:.1f} `{what}`")
        if report.get("samples"):
            lines.append("")
            lines.append(
                f"py-spy, {report['samples']:,} on-CPU samples over the rollcall "
                "processes; where they were (self time):"
            )
            lines.append("")
            lines.append("| share | running in |")
            lines.append("|---:|---|")
            for name, share in report["by_package"][:8]:
                lines.append(f"| {share:.1f} % | {name} |")
            lines.append("")
            lines.append(
                "rollcall's own functions, inclusive (the function and all it calls; BodyGuard"
                " is the outermost middleware, so everything under it counts):"
            )
            lines.append("")
            lines.append("| share | function |")
            lines.append("|---:|---|")
            for name, share in report["rollcall_functions"][:10]:
                lines.append(f"| {share:.1f} % | `{name}` |")
        lines.append("")
    return lines


def section(h: Harness) -> str:
    d = h.details
    machine = d.get("machine", {})
    db = d.get("database", {})
    lines = [
        START,
        "",
        f"Recorded {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{d.get('command')}`"
        f" ({d.get('seconds', 0)} s end to end).",
        "",
        f"- machine: {machine.get('cores')} cores ({machine.get('cpu')}),"
        f" {machine.get('memory_gib')} GiB, {machine.get('os')}, Linux {machine.get('kernel')},"
        f" Python {machine.get('python')}",
        f"- database: {db.get('where')}; PostgreSQL {db.get('server_version')},"
        f" shared_buffers {db.get('shared_buffers')}, fsync {db.get('fsync')},"
        f" synchronous_commit {db.get('synchronous_commit')}",
        f"- rollcall: {d.get('rollcall')}",
        "",
        *_figures_table(h),
        "",
    ]
    joins = d.get("joins", {})
    for tag in ("1ev", "50ev"):
        pg = joins.get(tag, {}).get("pgbench")
        if pg:
            lines.append(
                f"pgbench's statement latencies, {'one event' if tag == '1ev' else '50 events'}"
                f" ({pg['clients']} clients, ms):"
            )
            lines.append("")
            lines.append("| ms | statement |")
            lines.append("|---:|---|")
            for ms, text in pg["statement_ms"]:
                if text.startswith("\\") or text.startswith("SELECT id AS ev"):
                    continue  # pgbench's own bookkeeping: which event this client joins
                lines.append(f"| {ms:.3f} | `{text.replace('|', '/')}` |")
            lines.append("")
    if "profile" in d:
        lines.append("Profiles of the same run:")
        lines.append("")
        lines += _profile_lines(d["profile"])
    plots = sorted(p.name for p in h.out.glob("*.png"))
    if plots:
        lines.append("Plots of the same run:")
        lines.append("")
        for name in plots:
            lines.append(f"![{name[:-4]}](benchmarks/{name})")
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def record(h: Harness, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    new = section(h)
    if START in text and END in text:
        before = text[: text.index(START)]
        after = text[text.index(END) + len(END) :]
        text = before + new + after
    else:
        text = text.rstrip() + "\n\n## Latest figures\n\n" + new + "\n"
    path.write_text(text)
