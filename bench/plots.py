"""The report's plots (PNG, matplotlib's Agg backend): latency distributions, rates over time."""

from __future__ import annotations

from pathlib import Path

from bench.cluster import Sampler


def _agg() -> None:
    """Draw to files only. Each plot imports pyplot itself, after this: the worker processes
    import the scenario modules, and need not load matplotlib."""
    import matplotlib

    matplotlib.use("Agg")


def _percentile_curve(values: list[float]) -> tuple[list[float], list[float]]:
    """x: 1/(1-q) on a log axis (so 99 % and 99.9 % are readable), y: latency at q."""
    ordered = sorted(values)
    n = len(ordered)
    xs: list[float] = []
    ys: list[float] = []
    for i, value in enumerate(ordered):
        q = i / n
        xs.append(1 / (1 - q))
        ys.append(value)
    return xs, ys


def latency_figure(
    out: Path,
    name: str,
    title: str,
    series: list[tuple[str, list[float]]],
    *,
    target_ms: float | None = None,
) -> Path:
    """Histogram of the first series, and the percentile curves of all of them."""
    _agg()
    from matplotlib import pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    label, values = series[0]
    if values:
        left.hist(values, bins=80, color="#3a6ea5")
    left.set_xlabel("latency (ms)")
    left.set_ylabel("requests")
    left.set_title(f"{label}: distribution")
    for label, values in series:
        if values:
            xs, ys = _percentile_curve(values)
            right.plot(xs, ys, label=label)
    if target_ms is not None:
        right.axhline(target_ms, color="#b03030", linestyle="--", linewidth=1, label="target p99")
    right.set_xscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000]
    right.set_xticks(ticks, ["0", "50", "90", "99", "99.9", "99.99"])
    right.set_xlabel("percentile")
    right.set_ylabel("latency (ms)")
    right.set_title("percentiles")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _per_second(
    start: float, done_at: list[float], bucket: float = 0.5
) -> tuple[list[float], list[float]]:
    if not done_at:
        return [], []
    end = max(done_at)
    slots = int((end - start) / bucket) + 1
    counts = [0] * max(slots, 1)
    for at in done_at:
        index = int((at - start) / bucket)
        if 0 <= index < slots:
            counts[index] += 1
    return [i * bucket for i in range(slots)], [c / bucket for c in counts]


def throughput(
    out: Path,
    name: str,
    title: str,
    series: list[tuple[str, float, list[float]]],
    *,
    pgbench: list[tuple[float, float]] | None = None,
    cpu: Sampler | None = None,
    window: tuple[float, float] | None = None,
    unit: str = "per second",
) -> Path:
    """Completions per second over time (and pgbench's), with CPU per process group below."""
    _agg()
    from matplotlib import pyplot as plt

    rows = 2 if cpu is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.3 * rows), sharex=True, squeeze=False)
    top = axes[0][0]
    origin = series[0][1] if series else 0.0
    for label, start, done_at in series:
        xs, ys = _per_second(start, done_at)
        top.plot([x + start - origin for x in xs], ys, label=label)
    if pgbench:
        top.plot(
            [t for t, _ in pgbench],
            [r for _, r in pgbench],
            label="pgbench, the same join SQL (run just before, its own clock)",
            color="#999999",
        )
    if window is not None:
        top.axvspan(
            window[0] - origin,
            window[1] - origin,
            color="#3a6ea5",
            alpha=0.06,
            label="measured window",
        )
    top.set_ylabel(unit)
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    if cpu is not None:
        bottom = axes[1][0]
        for meter in cpu.meters:
            times, cores = cpu.series(meter)
            bottom.plot([t - origin for t in times], cores, label=meter)
        bottom.set_ylabel("CPU (cores)")
        bottom.set_ylim(bottom=0)
        bottom.legend(fontsize=8)
        bottom.grid(alpha=0.3)
    axes[-1][0].set_xlabel("seconds from the start of the load")
    fig.suptitle(f"{title}: throughput over time")
    fig.tight_layout()
    path = out / f"{name}-throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def resources(out: Path, name: str, sampler: Sampler, window: tuple[float, float]) -> Path:
    """CPU (cores) and resident memory of each process group over time."""
    _agg()
    from matplotlib import pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    origin = window[0]
    for meter in sampler.meters:
        times, cores = sampler.series(meter)
        top.plot([t - origin for t in times], cores, label=meter)
        if meter in ("rollcall", "clients"):  # PostgreSQL's RSS counts shared memory per backend
            bottom.plot(
                [s.at - origin for s in sampler.samples],
                [s.rss[meter] / 2**20 for s in sampler.samples],
                label=meter,
            )
    for axis in (top, bottom):
        axis.axvspan(0, window[1] - origin, color="#3a6ea5", alpha=0.06, label="measured window")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    top.set_ylabel("CPU (cores)")
    top.set_ylim(bottom=0)
    bottom.set_ylabel("RSS (MB)")
    bottom.set_xlabel("seconds from the start of the measured window")
    fig.suptitle(f"{name}: CPU and memory over time")
    fig.tight_layout()
    path = out / f"{name}-resources.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
