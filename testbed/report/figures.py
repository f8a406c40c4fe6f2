"""The report's pictures as PNG bytes: every registered analysis figure, and each topology's map.

Why: the report must show exactly what ``python -m testbed plot`` draws, so it asks the same
registry (:mod:`analysis.registry`) for the same figures and only changes where they go (bytes in
memory, embedded in the page, instead of files).  Topology maps come from
:func:`testbed.topology.drawing.topology_figure`, as ``python -m testbed topo show`` draws them, once
per distinct topology among the runs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import NotApplicable, all_figures
from analysis.topology_traffic import run_topology
from testbed.report.collect import RunFacts
from testbed.topology.drawing import topology_figure

DPI = 110
ORDER = ("quality_vs_time", "quality_vs_wan_bytes", "sweep", "wan_bytes", "time_breakdown", "samples",
         "topology_traffic")
"""Figures in reading order (quality first, pictures of traffic last); any other figure follows, by name."""


@dataclass(frozen=True)
class Picture:
    """One embedded picture: a name, a one-line caption, PNG bytes."""

    name: str
    caption: str
    png: bytes


@dataclass
class Pictures:
    """The figures drawn, the figures that did not apply (name -> why), and the topology maps."""

    figures: list[Picture] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    maps: list[Picture] = field(default_factory=list)


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as a PNG (white background, as the plot command saves it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def draw_pictures(results: Results, runs: list[RunFacts]) -> Pictures:
    """Every registered figure that applies to ``results``, then one map per distinct topology."""
    out = Pictures()
    figures = all_figures()
    for name in sorted(figures, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        spec = figures[name]
        try:
            fig = spec.build(results)
        except NotApplicable as reason:
            out.skipped[name] = str(reason)
            continue
        out.figures.append(Picture(name, spec.description, png_bytes(fig)))
    out.maps = topology_maps(runs)
    return out


def topology_maps(runs: list[RunFacts]) -> list[Picture]:
    """The map of each distinct topology the runs' configs name (inline or as a file)."""
    seen: dict[str, list[str]] = {}
    pictures: dict[str, Picture] = {}
    for run in runs:
        config = run.config or {}
        topology = run_topology(config.get("topology"), run.run_dir)
        if topology is None:
            continue
        key = topology.summary()
        seen.setdefault(key, []).append(run.name)
        if key not in pictures:
            pictures[key] = Picture(topology.name, "", png_bytes(topology_figure(topology)))
    return [Picture(p.name, _used_by(seen[key]), p.png) for key, p in pictures.items()]


def _used_by(names: list[str]) -> str:
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"used by {len(names)} run(s): {shown}"
