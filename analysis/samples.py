"""Figure: generated samples side by side, one column per method: at equal virtual time (when every
method had trained by then) and at the end.

Why: a quality number can hide a collapsed generator; people trust a picture.  Comparing methods
after equal *virtual time* is the fair comparison (a method that is slow on the WAN has simply had
fewer updates): the common time is the latest that every method's run reached, and each method
shows its last evaluation at or before it.  That row is drawn only if every method has a *trained*
evaluation (iteration > 0) by then -- otherwise it would show untrained generators (a method that
sends nothing, like ``local``, finishes in seconds of virtual time, long before a parameter server's
first evaluation) -- and the figure says so.  The last row shows each run's final evaluation.
Pictures are the run's own ``samples/iter_XXXXXX.png`` (first seed of each method), composed with
``imread``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import NotApplicable, figure
from analysis.style import new_figure


def sample_choices(results: Results) -> tuple[float, pd.DataFrame]:
    """The common virtual time and, per series, the evaluation rows shown: ``at`` = equal time / final."""
    first = results.complete.sort_values(["series", "seed", "run"]).groupby("series", sort=True).head(1)
    evals = results.metrics[results.metrics["run"].isin(first["run"])]
    common_s = float(evals.groupby("run")["virtual_time_s"].max().min())
    chosen = []
    for _run, rows in evals.groupby("run"):
        before = rows[rows["virtual_time_s"] <= common_s * (1 + 1e-9)]
        at_common = before.tail(1) if len(before) else rows.head(1)
        chosen += [at_common.assign(at="equal time"), rows.tail(1).assign(at="final")]
    frame = pd.concat(chosen, ignore_index=True).merge(first[["run", "run_dir"]], on="run")
    return common_s, frame.sort_values(["series", "at"], ascending=[True, True]).reset_index(drop=True)


def picture_path(run_dir: str | Path, iteration: int) -> Path:
    """A run's samples picture for an evaluation."""
    return Path(run_dir) / "samples" / f"iter_{int(iteration):06d}.png"


@figure("samples", "generated samples per method at equal virtual time (top) and at the end (bottom)")
def build(results: Results) -> Figure:
    """Two rows (equal time, final) x one column per series."""
    common_s, chosen = sample_choices(results)
    if not any(picture_path(r.run_dir, r.iteration).is_file() for r in chosen.itertuples()):
        raise NotApplicable("no samples/iter_*.png pictures in the runs")
    series = sorted(chosen["series"].unique())
    equal = chosen[chosen["at"] == "equal time"]
    trained_by_then = bool((equal["iteration"].astype(int) > 0).all())
    rows = ("equal time", "final") if trained_by_then else ("final",)
    fig = new_figure(3.6 * len(series), 4.3 * len(rows) - 0.4)
    axes = np.asarray(fig.subplots(len(rows), len(series), squeeze=False))
    for row_i, at in enumerate(rows):
        for col_i, name in enumerate(series):
            ax = axes[row_i, col_i]
            pick = chosen[(chosen["series"] == name) & (chosen["at"] == at)].iloc[0]
            path = picture_path(pick["run_dir"], pick["iteration"])
            if path.is_file():
                ax.imshow(mpimg.imread(path))
            else:
                ax.text(0.5, 0.5, f"no picture\n{path.name}", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"{name}\niteration {int(pick['iteration'])}, t = {float(pick['virtual_time_s']):.3g} s",
                         fontsize=9)
            ax.set_axis_off()
    if trained_by_then:
        fig.suptitle(f"Generated samples (first seed of each method) -- top: last evaluation by virtual time "
                     f"{common_s:.3g} s (the latest all methods reached); bottom: final evaluation")
    else:
        untrained = int((equal["iteration"].astype(int) == 0).sum())
        fig.suptitle(textwrap.fill(
            f"Generated samples at each method's final evaluation (first seed).  No equal-time row: by "
            f"{common_s:.3g} s virtual (the latest all methods reached) {untrained} of {len(series)} methods "
            "had not been evaluated since training started.", width=int(32 * len(series))))
    return fig
