"""Figure: each method's WAN bytes per link, drawn on the topology map (one map per method).

Why: totals hide *where* traffic goes -- a parameter server in us-east loads the links into
us-east, a ring all-reduce loads every link equally.  Each panel is
:func:`testbed.topology.drawing.topology_figure` with ``link_values`` = bytes carried per WAN link in
both directions (``links.csv``; mean over seeds); a dashed link carried nothing.  The topology is
read from the run's ``config.yaml`` (inline, or the file it names).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import NotApplicable, figure
from analysis.style import byte_unit, new_figure
from testbed.core.errors import ConfigError
from testbed.topology.drawing import topology_figure
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology


def link_bytes(results: Results) -> dict[str, dict[tuple[str, str], float]]:
    """series -> {(dc a, dc b): WAN bytes carried both ways, mean over the series' runs}."""
    wan = results.links[results.links["scope"] == "wan"].assign(
        nbytes=lambda f: f["bytes_ab"] + f["bytes_ba"])
    out: dict[str, dict[tuple[str, str], float]] = {}
    for series, group in wan.groupby("series"):
        n_runs = group["run"].nunique()
        totals = group.groupby(["a", "b"])["nbytes"].sum() / n_runs
        out[str(series)] = {(str(a), str(b)): float(v) for (a, b), v in totals.items()}
    return out


def run_topology(ref: Any, run_dir: Path) -> Topology | None:
    """The topology a run's config.yaml names (inline dict or a path); None if it cannot be found."""
    if isinstance(ref, dict):
        try:
            return load_topology(ref)
        except ConfigError:  # e.g. an older run's topology holding a key no longer read (gpus_per_worker)
            return None
    if not isinstance(ref, str) or not ref:
        return None
    candidates = [Path(ref), run_dir / ref, *(parent / ref for parent in run_dir.resolve().parents)]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return load_topology(candidate)
            except ConfigError:
                return None
    return None


@figure("topology_traffic", "WAN bytes per link on the topology map, one map per method")
def build(results: Results) -> Figure:
    """A grid of maps, one per series, link width/colour = WAN bytes carried."""
    values = link_bytes(results)
    panels = []
    for series, runs in results.complete.groupby("series", sort=True):
        first = runs.iloc[0]
        topology = run_topology(first.get("_topology_ref"), Path(first["run_dir"]))
        if topology is not None:
            panels.append((str(series), topology, values.get(str(series), {})))
    if not panels:
        raise NotApplicable("no run's config.yaml names a topology file that can be found from here")
    peak = max((v for _, _, vals in panels for v in vals.values()), default=0.0)
    divisor, unit = byte_unit(peak)
    images = [_render(topology_figure(topology, {pair: v / divisor for pair, v in vals.items()},
                                      value_label=f"WAN {unit} carried (both directions)"))
              for _, topology, vals in panels]
    cols = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / cols)
    aspect = max(img.shape[0] / img.shape[1] for img in images)  # height / width of one map
    width_in = 9.0 * cols
    fig = new_figure(width_in, rows * (width_in / cols * aspect + 0.5) + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (series, _, vals), image in zip(axes, panels, images, strict=False):
        ax.imshow(image)
        total = sum(vals.values())
        ax.set_title(f"{series}: " + (f"{total / divisor:.3g} {unit} on WAN links" if total else "no WAN traffic"),
                     fontsize=12)
        ax.set_axis_off()
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, hspace=0.0, wspace=0.0)
    fig.suptitle("WAN bytes per link (width and colour; dashed = nothing carried; each map has its own scale)")
    return fig


def _render(fig: Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())
