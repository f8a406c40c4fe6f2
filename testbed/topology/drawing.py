"""Draw a topology as a map: datacenters where they are, WAN links labelled with what they carry.

Why: a topology YAML is 55 lines of numbers; a picture shows at once which regions are far apart,
which links are thin, and -- when the analysis passes ``link_values`` (bytes carried per link) --
where an algorithm's traffic actually went (docs/design.md §6, "bytes per link drawn on the topology
map").  ``python -m testbed topo show`` and the analysis both call :func:`draw_topology`.

Placement: datacenters with a ``location`` go at (longitude, latitude) on a plain equirectangular
grid (no tiles, nothing downloaded); a link that is shorter the other way round the globe is drawn
off one edge and back in from the other.  Without locations a seeded networkx spring layout is used,
so the same topology always gives the same picture.  Every link is one entry of one
``LineCollection`` (gid ``wan-links``) and every link label a ``Text`` with gid ``link-label``, so
tests can count what was drawn.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from testbed.core.units import format_bandwidth, format_seconds
from testbed.topology.model import Datacenter, LanParams, Topology, WanLink

FULL_LABEL_MAX_LINKS = 20
"""Above this many links, labels are abbreviated to ``Mbps/ms`` in a small font."""

WRAP_LON_DEG = 200.0
"""A link spanning more longitude than this is drawn the other way round (off one edge, in at the
other). Above 180 rather than at it, so near-antipodal pairs (Virginia-Singapore, 180.8) stay on the
map instead of leaving a 3-DC map with a line through both edges."""


def topology_figure(topology: Topology, link_values: dict[tuple[str, str], float] | None = None,
                    value_label: str | None = None) -> Figure:
    """Build (but do not save) the map of ``topology``; see :func:`draw_topology`."""
    values = _pair_values(topology, link_values)
    geo = all(dc.location is not None for dc in topology.datacenters)
    pos = _geo_positions(topology) if geo else _spring_positions(topology)
    paths = [_link_path(pos[link.a], pos[link.b], geo) for link in topology.links]
    extent = _geo_extent(pos, paths) if geo else None
    if extent is not None:  # height follows the map's aspect, plus room for title and caption
        aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
        figsize = (14.0, min(max(13.0 * aspect + 1.3, 5.0), 10.0))
    else:
        figsize = (9.0, 6.5) if topology.links else (6.0, 4.0)
    fig = Figure(figsize=figsize, dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_links(fig, ax, topology, paths, values, value_label)
    markers = _draw_nodes(ax, topology, pos)
    if extent is not None:
        _geo_axes(ax, extent)
    else:
        ax.set_axis_off()
        ax.margins(0.25)
    ax.set_title(topology.name, fontsize=15, fontweight="bold")
    fig.supxlabel(_caption(topology, geo), fontsize=8, color="0.35")
    fig.canvas.draw()  # fixes the layout, so label boxes can be measured in pixels
    renderer = fig.canvas.get_renderer()
    taken = [_marker_box(ax, xy, size_pt2) for xy, size_pt2 in markers]
    _label_nodes(ax, topology, pos, renderer, taken)
    _label_links(ax, topology, paths, renderer, taken)
    return fig


def draw_topology(topology: Topology, out_path: str | Path,
                  link_values: dict[tuple[str, str], float] | None = None, value_label: str | None = None) -> None:
    """Write the topology's map to a PNG at ``out_path``.

    ``link_values`` maps an undirected datacenter pair (either order) to a number -- e.g. bytes
    carried -- shown as line width and colour with a colourbar titled ``value_label``; pairs left
    out count as 0 and are drawn dashed.  Without it, line width shows bandwidth.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    topology_figure(topology, link_values, value_label).savefig(out_path)


# -- placement -------------------------------------------------------------------------------------
def _geo_positions(topology: Topology) -> dict[str, np.ndarray]:
    return {dc.name: np.array([dc.location[1], dc.location[0]]) for dc in topology.datacenters}


def _spring_positions(topology: Topology) -> dict[str, np.ndarray]:
    graph = nx.Graph()
    graph.add_nodes_from(dc.name for dc in topology.datacenters)
    graph.add_edges_from((link.a, link.b) for link in topology.links)
    if len(graph) == 1:
        return {dc.name: np.zeros(2) for dc in topology.datacenters}
    return {name: np.asarray(xy) for name, xy in nx.spring_layout(graph, seed=0).items()}


def _link_path(a: np.ndarray, b: np.ndarray, geo: bool) -> np.ndarray:
    """Vertices of a link; across the antimeridian, two pieces split by a NaN row."""
    if not geo or abs(b[0] - a[0]) <= WRAP_LON_DEG:
        return np.array([a, b], dtype=float)
    east = 180.0 if a[0] > b[0] else -180.0  # edge a leaves by
    b_unwrapped = b[0] + 2 * east
    lat_edge = a[1] + (b[1] - a[1]) * (east - a[0]) / (b_unwrapped - a[0])
    return np.array([a, [east, lat_edge], [np.nan, np.nan], [-east, lat_edge], b], dtype=float)


# -- drawing ---------------------------------------------------------------------------------------
def _pair_values(topology: Topology, link_values: dict[tuple[str, str], float] | None) -> np.ndarray | None:
    if link_values is None:
        return None
    index = {frozenset((link.a, link.b)): i for i, link in enumerate(topology.links)}
    values = np.zeros(len(topology.links))
    for (a, b), value in link_values.items():
        i = index.get(frozenset((a, b)))
        if i is None:
            raise ValueError(f"link_values names {a} <-> {b}, which is not a WAN link of {topology.name!r}")
        values[i] += float(value)
    return values


def _draw_links(fig: Figure, ax: object, topology: Topology, paths: list[np.ndarray],
                values: np.ndarray | None, value_label: str | None) -> None:
    if not paths:
        return
    if values is not None:
        norm = Normalize(vmin=0.0, vmax=max(float(values.max()), 1e-12))
        widths = 1.0 + 7.0 * norm(values)
        cmap = ListedColormap(colormaps["plasma_r"](np.linspace(0.25, 1.0, 256)))  # no near-white end
        styles = ["dashed" if v == 0 else "solid" for v in values]  # dashed: carried nothing
        lines = LineCollection(paths, cmap=cmap, norm=norm, linewidths=widths, linestyles=styles, alpha=0.85,
                               zorder=2)
        lines.set_array(values)
        ax.add_collection(lines)
        if values.max() > 0:  # nothing carried anywhere: a bar would show a meaningless 0-1e-12 scale
            fig.colorbar(lines, ax=ax, shrink=0.7, pad=0.01, label=value_label or "value per link")
    else:
        bandwidth = np.array([max(link.bandwidth_ab_bps, link.bandwidth_ba_bps) for link in topology.links])
        widths = 0.8 + 3.2 * bandwidth / bandwidth.max()
        lines = LineCollection(paths, colors="tab:blue", linewidths=widths, alpha=0.45, zorder=2)
        ax.add_collection(lines)
    lines.set_gid("wan-links")


def _draw_nodes(ax: object, topology: Topology, pos: dict[str, np.ndarray]) -> list[tuple[np.ndarray, float]]:
    """One marker per DC, area growing with its worker count; returns (position, area in pt^2)."""
    markers = []
    for dc in topology.datacenters:
        size_pt2 = 120 * math.sqrt(len(dc.workers)) + 60
        ax.scatter(*pos[dc.name], s=size_pt2, color="tab:orange", edgecolor="black", linewidth=0.8, zorder=4)
        markers.append((pos[dc.name], size_pt2))
    return markers


def _marker_box(ax: object, xy: np.ndarray, size_pt2: float) -> Bbox:
    x, y = ax.transData.transform(xy)
    radius_px = math.sqrt(size_pt2) / 2 * ax.figure.dpi / 72
    return Bbox.from_extents(x - radius_px, y - radius_px, x + radius_px, y + radius_px)


def _label_nodes(ax: object, topology: Topology, pos: dict[str, np.ndarray], renderer: RendererAgg,
                 taken: list[Bbox]) -> None:
    """Each DC's label above its marker, or below/beside it if that overlaps a label already placed."""
    common_lan = Counter(dc.lan for dc in topology.datacenters).most_common(1)[0][0]
    few = len(topology.datacenters) <= 3
    for dc in topology.datacenters:
        gap = 9 + 2.2 * len(dc.workers) ** 0.25
        label = ax.annotate(_node_label(dc, show_lan=few or dc.lan != common_lan), tuple(pos[dc.name]), xytext=(0, 0),
                            textcoords="offset points", fontsize=9 if few else 8, zorder=6,
                            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6", "alpha": 0.92, "lw": 0.5})
        candidates = [((0, gap), "center", "bottom"), ((0, -gap), "center", "top"),
                      ((gap, 0), "left", "center"), ((-gap, 0), "right", "center")]

        def place(choice: tuple[tuple[float, float], str, str], label: Text = label) -> Bbox:
            label.set_position(choice[0])
            label.set_ha(choice[1])
            label.set_va(choice[2])
            return label.get_window_extent(renderer).expanded(1.05, 1.1)

        taken.append(_best_spot(candidates, place, taken))


def _best_spot(candidates: list, place: object, taken: list[Bbox]) -> Bbox:
    """Try ``place(c)`` for each candidate; keep the first free one, else the least overlapping."""
    best: tuple[float, object] | None = None
    for choice in candidates:
        box = place(choice)
        overlap = sum(_overlap_px(box, other) for other in taken)
        if overlap == 0:
            return box
        if best is None or overlap < best[0]:
            best = (overlap, choice)
    return place(best[1])


def _overlap_px(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0


def _node_label(dc: Datacenter, show_lan: bool) -> str:
    n = len(dc.workers)
    speeds = dc.speeds
    text = f"{dc.name}\n{_plural(n, 'worker')}"
    if speeds != [1.0]:
        text += f" (speed {', '.join(f'{s:g}' for s in speeds)})"
    if show_lan:
        text += f"\nNIC {_lan_text(dc.lan)}"
    return text


def _lan_text(lan: LanParams) -> str:
    if lan.up_bps == lan.down_bps:
        bw = format_bandwidth(lan.up_bps)
    else:
        bw = f"{format_bandwidth(lan.up_bps)} up / {format_bandwidth(lan.down_bps)} down"
    return f"{bw}, {format_seconds(lan.latency_s)} LAN"


def _label_links(ax: object, topology: Topology, paths: list[np.ndarray], renderer: RendererAgg,
                 taken: list[Bbox]) -> None:
    """Label each link near its middle, sliding along it to dodge labels already placed."""
    full = len(topology.links) <= FULL_LABEL_MAX_LINKS
    order = sorted(range(len(paths)), key=lambda i: _piece_length(paths[i]))  # short links have least room
    for i in order:
        link, (p, q) = topology.links[i], _longest_piece(paths[i])
        (x0, y0), (x1, y1) = ax.transData.transform([p, q])
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle  # never upside down
        text = ax.text(*((p + q) / 2), _link_label(link, full), fontsize=8.5 if full else 5.5, ha="center",
                       va="center", zorder=5, gid="link-label", color="0.1", clip_on=True,
                       rotation=angle, rotation_mode="anchor", transform_rotates_text=False,
                       bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})

        def place(t: float, text: Text = text, p: np.ndarray = p, q: np.ndarray = q) -> Bbox:
            text.set_position(tuple(p + t * (q - p)))
            return text.get_window_extent(renderer)

        taken.append(_best_spot([0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85], place, taken))


def _longest_piece(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pieces = [p[~np.isnan(p[:, 0])] for p in np.split(path, np.where(np.isnan(path[:, 0]))[0])]
    longest = max((p for p in pieces if len(p) >= 2), key=lambda p: np.linalg.norm(p[-1] - p[0]))
    return longest[0], longest[-1]


def _piece_length(path: np.ndarray) -> float:
    p, q = _longest_piece(path)
    return float(np.linalg.norm(q - p))


def _link_label(link: WanLink, full: bool) -> str:
    """``200 Mbps / 38 ms``; asymmetric links name each direction. Abbreviated: ``200/38``."""
    if not full:
        bw = f"{link.bandwidth_ab_bps / 1e6:g}"
        if link.bandwidth_ba_bps != link.bandwidth_ab_bps:
            bw += f"|{link.bandwidth_ba_bps / 1e6:g}"
        return f"{bw}/{link.latency_s * 1e3:.0f}"
    if link.bandwidth_ab_bps == link.bandwidth_ba_bps:
        return f"{format_bandwidth(link.bandwidth_ab_bps)} / {format_seconds(link.latency_s)}"
    return (f"{link.a}→{link.b} {format_bandwidth(link.bandwidth_ab_bps)}\n"
            f"{link.b}→{link.a} {format_bandwidth(link.bandwidth_ba_bps)}\n{format_seconds(link.latency_s)}")


def _geo_extent(pos: dict[str, np.ndarray], paths: list[np.ndarray]) -> tuple[float, float, float, float]:
    """(lon_lo, lon_hi, lat_lo, lat_hi): the DCs plus a margin; the whole width if a link wraps."""
    xy = np.array(list(pos.values()))
    wraps = any(np.isnan(p).any() for p in paths)
    lon_lo, lon_hi = (-180.0, 180.0) if wraps else (max(xy[:, 0].min() - 25, -180), min(xy[:, 0].max() + 25, 180))
    return lon_lo, lon_hi, max(xy[:, 1].min() - 15, -90), min(xy[:, 1].max() + 20, 90)


def _geo_axes(ax: object, extent: tuple[float, float, float, float]) -> None:
    lon_lo, lon_hi, lat_lo, lat_hi = extent
    ax.set_xticks([x for x in range(-180, 181, 30) if lon_lo <= x <= lon_hi])
    ax.set_yticks([y for y in range(-90, 91, 30) if lat_lo <= y <= lat_hi])
    ax.set_xlim(lon_lo, lon_hi)
    ax.set_ylim(lat_lo, lat_hi)
    ax.set_aspect("equal")
    ax.grid(color="0.85", linewidth=0.6, zorder=0)
    ax.axhline(0, color="0.75", linewidth=0.8, zorder=0)
    ax.tick_params(labelsize=7, colors="0.5")
    ax.set_facecolor("#f4f8fb")


def _caption(topology: Topology, geo: bool) -> str:
    parts = [f"{_plural(len(topology.datacenters), 'datacenter')}, {_plural(len(topology.nodes), 'worker')}, "
             f"{_plural(len(topology.links), 'WAN link')}"]
    if topology.links:
        if len(topology.links) <= FULL_LABEL_MAX_LINKS:
            parts.append("link labels: bandwidth / one-way latency")
        else:
            parts.append("link labels: Mbps / one-way ms (a|b = each direction)")
    parts.append("placed by [lat, lon] (equirectangular)" if geo else "spring layout (no locations)")
    return " · ".join(parts)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
