"""What every figure shares: one colour per method, readable byte units, seed bands, saving.

Why: a reader compares figures side by side, so ``ps`` must be the same colour in all of them,
bytes must read as "1.3 GB" rather than "1.3e9", and "mean ± std over seeds" must be computed the
same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from testbed.quality import METRIC_RANGE

LINESTYLES = ("-", "--", ":", "-.")
BYTE_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB"), (1.0, "B"))
ITERATION_UNITS = {"fedavg": "rounds", "fedsgd": "rounds", "gaia": "clocks"}
"""What one ``iteration`` of a method is, for an axis label (every other method: a G update)."""


def iteration_label(methods: Iterable[str]) -> str:
    """The x-axis label for ``iteration`` in the unit the methods (names or labels such as
    ``fedavg (local_epochs=5)``) count: "rounds" when every method counts rounds, "iterations (fedavg:
    rounds, ...)" when they differ."""
    names = {str(m).split(" (")[0] for m in methods}  # a series label "fedavg (local_epochs=5)" names fedavg
    units = {m: ITERATION_UNITS.get(m, "iterations") for m in sorted(names)}
    kinds = set(units.values())
    if len(kinds) == 1:
        return next(iter(kinds))
    other = ", ".join(f"{m}: {u}" for m, u in units.items() if u != "iterations")
    return f"iterations ({other})" if other else "iterations"


def method_colors(methods: Iterable[str]) -> dict[str, tuple[float, ...]]:
    """A stable colour per method (sorted order through tab10)."""
    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(sorted(set(methods)))}


def series_styles(runs: pd.DataFrame) -> dict[str, dict[str, object]]:
    """matplotlib kwargs per series: one colour per series, a line style per method.

    Where each method has one series the colour is the method's (as in every other figure); where a
    method has several (four parameter-server variants), each series gets its own colour from tab10
    (tab20 past ten series) -- a line style alone is not enough to tell four curves apart -- and the
    line style names the method."""
    pairs = list(runs[["series", "method"]].drop_duplicates().sort_values("series").itertuples(index=False))
    methods = sorted({method for _, method in pairs})
    dash = {m: LINESTYLES[i % len(LINESTYLES)] for i, m in enumerate(methods)}
    if len(pairs) == len(methods):
        colors = method_colors(methods)
        return {series: {"color": colors[method], "linestyle": "-"} for series, method in pairs}
    cmap = colormaps["tab10" if len(pairs) <= 10 else "tab20"]
    return {series: {"color": cmap(i % cmap.N), "linestyle": dash[method]} for i, (series, method) in enumerate(pairs)}


def byte_unit(max_nbytes: float) -> tuple[float, str]:
    """(divisor, unit) that shows ``max_nbytes`` as a number between 1 and 1000."""
    for divisor, unit in BYTE_UNITS:
        if max_nbytes >= divisor:
            return divisor, unit
    return 1.0, "B"


def format_nbytes(nbytes: float) -> str:
    """``1234567`` -> ``1.23 MB`` (decimal units)."""
    divisor, unit = byte_unit(abs(nbytes))
    return f"{nbytes / divisor:.3g} {unit}"


def seed_band(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over seeds of curves y(x) sampled at possibly different x.

    Identical x grids are averaged point by point; otherwise every curve is linearly interpolated onto
    the union of the x values inside the range all curves cover.  One curve gives std = 0.
    """
    xs = [np.asarray(x, dtype=float) for x, _ in curves]
    ys = [np.asarray(y, dtype=float) for _, y in curves]
    if all(len(x) == len(xs[0]) and np.allclose(x, xs[0]) for x in xs):
        grid, stack = xs[0], np.vstack(ys)
    else:
        lo, hi = max(x.min() for x in xs), min(x.max() for x in xs)
        grid = np.unique(np.concatenate([x[(x >= lo) & (x <= hi)] for x in xs]))
        stack = np.vstack([np.interp(grid, x, y) for x, y in zip(xs, ys, strict=True)])
    return grid, stack.mean(axis=0), stack.std(axis=0)


def plot_seeds(ax: Any, curves: Sequence[tuple[np.ndarray, np.ndarray]], style: dict[str, object], metric: str,
               series: str, marker: str = "") -> None:
    """Every seed as a thin line over its whole range, and the seed mean (± std band where the x grids agree).

    Why: a mean over seeds on different x grids (virtual time, Gaia's bytes) only exists where every seed
    has data, so a panel drawn from the mean alone stops at the shortest seed; the thin lines show the rest.
    """
    for cx, cy in curves:
        ax.plot(cx, cy, color=style["color"], lw=0.6, alpha=0.35)
    grid, mean, std = seed_band(curves)
    shared = all(len(cx) == len(curves[0][0]) and np.allclose(cx, curves[0][0]) for cx, _ in curves)
    band = "mean ± std" if shared else "mean over the range all cover"
    ax.plot(grid, mean, marker=marker or None, ms=3, label=f"{series}, {len(curves)} seeds: {band} (thin: each seed)",
            **style)
    if shared:  # seeds on different x grids would need interpolation for a band: each seed is drawn instead
        ax.fill_between(grid, *band_limits(mean, std, metric), color=style["color"], alpha=0.15, lw=0)


def band_limits(mean: np.ndarray, std: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean ± std band, clipped to the values ``metric`` can take (``METRIC_RANGE``; unknown: unclipped)."""
    lo, hi = METRIC_RANGE.get(metric, (-np.inf, np.inf))
    return np.clip(mean - std, lo, hi), np.clip(mean + std, lo, hi)


def quality_label(metric: str, higher_is_better: bool) -> str:
    """Axis label for a quality metric, saying which way is better."""
    return f"{metric.replace('_', ' ')} ({'higher' if higher_is_better else 'lower'} is better)"


def save(fig: Figure, out_dir: Path, name: str, pdf: bool = False) -> list[Path]:
    """Write ``name.png`` (and ``name.pdf``) under ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png"]
    fig.savefig(paths[0], dpi=120)
    if pdf:
        paths.append(out_dir / f"{name}.pdf")
        fig.savefig(paths[1])
    return paths


def wrap_label(text: str, width: int = 48) -> str:
    """A series label as tick text: long ones (a suite of hand-made cells) wrapped onto lines of ``width``."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) if len(text) > width else text


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure not tied to pyplot's global state (safe in loops and threads)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def dataset_panels(results: Any) -> tuple[Figure, list[tuple[Any, str, str, bool, pd.DataFrame]]]:
    """A figure with one panel per data set, and per panel ``(ax, dataset, metric, higher, rows)``:
    the data set's headline metric, whether higher is better, and its per-eval metric rows."""
    datasets = sorted(results.complete["dataset"].unique())
    fig = new_figure(7.5 * len(datasets), 4.8)
    panels = []
    for ax, dataset in zip(np.atleast_1d(fig.subplots(1, len(datasets))), datasets, strict=True):
        metric, higher = results.headline(dataset)
        panels.append((ax, dataset, metric, higher, results.metrics[results.metrics["dataset"] == dataset]))
    return fig, panels
