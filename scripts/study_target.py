"""Time, rounds and WAN bytes to a quality target, per series (mean ± std over seeds): figure and table.

Usage: python scripts/study_target.py RESULTS_DIR OUT_DIR NAME --metric M --target T [--x COLUMN]
                                      [--staleness] [--reached held|first]

Used by the gaia-vs-ps, fedavg-vs-fedsgd, consistency and beyond-the-seed studies (docs/studies/).
Per run, the first evaluation meeting the target that the next one still meets (``--reached held``,
the default, issue 25: analysis/censored.py), or the first meeting it (``--reached first``, how the
older pages were made: analysis/to_target.py); per series (method x sweep values), the mean and
sample std over the seeds that reached it, and how many did.  Figure: the metric against ``--x``
(virtual time by default; ``iteration`` is labelled in the methods' unit: rounds, clocks) and against
WAN bytes, every seed as a thin line and the seed mean ± std band (analysis.style.seed_band) where the seeds
share x values (else the mean over the range all cover, without a band), target dashed.  ``--label`` names the
series by run columns (``cell``: the suite cell, the run's name without its ``_seed=N``).
``--series`` keeps only the series named.  ``--staleness`` adds each parameter-server run's push
staleness (analysis/staleness.py).
Writes OUT_DIR/NAME.png, NAME-table.md and NAME.csv.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.censored import reached_and_held
from analysis.runfiles import read_traffic_log
from analysis.staleness import push_staleness
from analysis.study_files import write_study_table
from analysis.style import iteration_label, new_figure, plot_seeds, quality_label, save, series_styles
from analysis.to_target import first_reaching


def staleness_of(run_dir: Path, consistency: str) -> tuple[float, float]:
    s = push_staleness(read_traffic_log(run_dir), consistency)["staleness"]
    return float(s.mean()), float(s.max())


def cell_name(run: str) -> str:
    """The suite cell a run belongs to: its name without the ``_seed=N`` that ``repeat`` appends."""
    return re.sub(r"_seed=\d+$", "", run)


def relabel(results, columns: list[str]) -> None:
    """Name each series by ``columns`` of the runs (short labels where an inline topology is an axis)."""
    runs = results.runs
    if "cell" in columns:
        runs["cell"] = runs["run"].map(cell_name)
    def text(value: object) -> str | None:
        if isinstance(value, float):
            return None if value != value else (f"{value:g}")  # NaN: the column does not apply
        return str(value)

    runs["series"] = [" · ".join(t for t in map(text, values) if t is not None)
                      for values in runs[columns].itertuples(index=False)]
    results.metrics["series"] = results.metrics["run"].map(runs.set_index("run")["series"])


def per_run(results, metric: str, target: float, staleness: bool, rule: str = "held") -> pd.DataFrame:
    higher = bool(results.complete["higher_is_better"].iloc[0])
    hits = (reached_and_held(results.metrics, {metric: (target, higher)}) if rule == "held"
            else first_reaching(results.metrics, metric, target, higher))
    runs = results.complete.set_index("run")
    hits["series"] = hits["run"].map(runs["series"])
    hits["seed"] = hits["run"].map(runs["seed"])
    hits["final"] = hits["run"].map(runs[f"final_{metric}"])
    for column in ("iterations", "virtual_time_s", "wan_bytes", "egress_usd", "wall_time_s"):
        hits[f"run_{column}"] = hits["run"].map(runs[column])
    hits["wan_MB"], hits["run_wan_MB"] = hits["wan_bytes"] / 1e6, hits["run_wan_bytes"] / 1e6  # as pages quote them
    if staleness:
        pairs = [staleness_of(Path(runs.loc[r, "run_dir"]), str(runs.loc[r, "algorithm.consistency"]))
                 for r in hits["run"]]
        hits["staleness_mean"] = [p[0] for p in pairs]
        hits["staleness_max"] = [p[1] for p in pairs]
    return hits


def _ms(values: pd.Series, fmt: str) -> str:
    values = values.dropna()
    if values.empty:
        return "--"
    return format(values.mean(), fmt) + (f" ± {format(values.std(), fmt)}" if len(values) > 1 else "")


def markdown(hits: pd.DataFrame, metric: str, target: float, unit: str = "iterations", rule: str = "held") -> str:
    extra = "staleness_mean" in hits
    reaching = "reaching and holding" if rule == "held" else "reaching"
    head = (f"| series | seeds {reaching} {metric} {target:g} | {unit} to target | virtual s to target "
            "| WAN MB to target | final " + metric + " | run: virtual s | run: WAN MB | run: wall s"
            + (" | staleness mean (max) |" if extra else " |"))
    out = head + "\n|" + "---|" * (head.count("|") - 1) + "\n"
    for series, g in hits.groupby("series", sort=True):
        reached = g[g["reached"]]
        out += (f"| {series} | {len(reached)} of {len(g)} | {_ms(reached['iteration'], '.0f')} | "
                f"{_ms(reached['virtual_time_s'], '.1f')} | {_ms(reached['wan_bytes'] / 1e6, '.1f')} | "
                f"{_ms(g['final'], '.2f')} | {_ms(g['run_virtual_time_s'], '.1f')} | "
                f"{_ms(g['run_wan_bytes'] / 1e6, '.1f')} | {_ms(g['run_wall_time_s'], '.0f')} |")
        if extra:
            out += f" {_ms(g['staleness_mean'], '.2f')} ({g['staleness_max'].max():.0f}) |"
        out += "\n"
    return out


def figure(results, metric: str, target: float, x: str, out_dir: Path, name: str) -> None:
    higher = bool(results.complete["higher_is_better"].iloc[0])
    styles = series_styles(results.complete)
    fig = new_figure(13, 4.8)
    panels = fig.subplots(1, 2)
    x_label = {"virtual_time_s": "virtual time (s)", "iteration": iteration_label(results.complete["method"])}.get(x, x)
    for ax, column, label, log in ((panels[0], x, x_label, x == "virtual_time_s"),
                                   (panels[1], "wan_bytes", "WAN bytes (MB)", True)):
        for series, rows in results.metrics.groupby("series", sort=True):
            curves = [(g[column].to_numpy() / (1e6 if column == "wan_bytes" else 1), g[metric].to_numpy())
                      for _, g in rows.sort_values("iteration").groupby("run")]
            if log:  # the iteration-0 point sits at 0 on a log axis: drop it
                curves = [(cx[cx > 0], cy[cx > 0]) for cx, cy in curves]
            plot_seeds(ax, curves, styles[series], metric, series)  # no panel stops at the shortest seed
        ax.axhline(target, color="k", ls="--", lw=1)
        ax.set(xlabel=label, ylabel=quality_label(metric, higher), xscale="log" if log else "linear")
        ax.grid(alpha=0.3, which="both")
    panels[0].set_title(f"{metric} vs {x_label}; dashed: target {target:g}")
    panels[1].set_title("the same against WAN bytes")
    panels[1].legend(fontsize=7, loc="best")
    save(fig, out_dir, name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--metric", default="high_quality_fraction")
    p.add_argument("--target", type=float, required=True)
    p.add_argument("--x", default="virtual_time_s")
    p.add_argument("--staleness", action="store_true")
    p.add_argument("--reached", choices=("held", "first"), default="held",
                   help="held (default, issue 25): the first evaluation meeting the target that the next one "
                        "(or the run's end) still meets; first: the first evaluation meeting it")
    p.add_argument("--label", help="comma-separated run columns naming a series, or cell (default: the analysis label)")
    p.add_argument("--series", help="comma-separated series to keep (default: all)")
    args = p.parse_args(argv)
    results = load_results(args.results)
    if args.label:
        relabel(results, args.label.split(","))
    if args.series:
        keep = args.series.split(",")
        results = dataclasses.replace(results, runs=results.runs[results.runs["series"].isin(keep)],
                                      metrics=results.metrics[results.metrics["series"].isin(keep)])
    hits = per_run(results, args.metric, args.target, args.staleness, args.reached)
    out_dir = Path(args.out)
    figure(results, args.metric, args.target, args.x, out_dir, args.name)
    unit = iteration_label(results.complete["method"])
    write_study_table(hits, markdown(hits, args.metric, args.target, unit, args.reached), out_dir, args.name)


if __name__ == "__main__":
    main()
