"""How large the raw data may be before moving it stops winning: the regime map's "move the data" answer as
a break-even data size per grid point, in time and in WAN bytes (regime-map-datasize.csv, its figure, the check).

Why: ring8's raw points are 96 KB, so "centralise" wins the map almost by construction; a reviewer's first
question is "and with my data?".  The answer follows from the map's own numbers and the flow model, with no
training: centralized ships every remote region's raw features once, before its first step, each region over
its own WAN link, so with the fluid model (no TCP caps; the map's topology) its time to target grows by exactly
``f (N - N0) / B`` when the data grows from ring8's ``N0`` bytes to ``N`` -- ``f`` the largest remote region's
share of the data (3/8 for ring8's 3 / 3 / 2 modes, whichever region holds two), ``B`` the link's bytes per
second -- while an in-place method's iterations cost the same (they touch batches, not the whole data).  So
moving the data stops being sooner than the fastest in-place method at

    N* = N0 + (T_in_place - T_centralized) B / f,

and stops being cheaper in WAN bytes at N_bytes* = (the in-place method's WAN bytes to target) / r, ``r`` the
share of the data that leaves its region (5/8).  Both assume that the number of iterations to the target does
not change with the amount of data drawn from the same distribution -- measured once, at one point, by
``regime-map-datasize.yaml`` (centralized trained on ring8 scaled to N* there: its shipment's arrival against
the formula, its iterations to target against the ring8 runs').
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from regime_map_runs import hit, read_suite  # scripts/, beside this file

from analysis.style import new_figure, save

POINT = ["bandwidth_Mbps", "rtt_ms", "step_ms"]
CHECK_SUITE = "regime-map-datasize"
CHECK_POINT = (10, 10, 1)
"""Where the suite checks the break-even (bandwidth Mbps, RTT ms, ms a step): its cells' one grid value."""
RING8_POINTS = 12_000
"""The map's ring8 (``dataset.n``); 8 modes of 1,500 points, dealt 3 / 3 / 2 to the three regions."""
FEATURE_NBYTES = 2 * 4
"""A ring8 point's raw features as shipped (two float32; the labels are not shipped)."""
LARGEST_REMOTE_SHARE = 3 / 8
"""The largest remote region's share of the data: its shipment is the last to arrive."""
SHIPPED_SHARE = 5 / 8
"""The share of the data outside the server's region (what crosses the WAN)."""


def break_even(win: pd.DataFrame, per: pd.DataFrame, costs: pd.DataFrame,
               data_points: int = RING8_POINTS) -> pd.DataFrame:
    """Per grid point: the fastest in-place method and its median time to target (``win``, the in-place map),
    centralized's (``per``: every method's median per point), and the raw data size (bytes) up to which
    centralized stays sooner (``nbytes_time``; at most ring8's own size where in place is already sooner) --
    and, the same at every point, the size up to which it stays cheaper in WAN bytes (``nbytes_wan``)."""
    n0 = data_points * FEATURE_NBYTES
    central = per[per["method"] == "centralized"].set_index(POINT)["median_s"]
    wan = costs.set_index("method")["wan_MB_median"]
    tie = win[win["map"] == "all"].set_index(POINT)["winner"] == "tie"
    rows = []
    for point, r in win[win["map"] == "in-place"].set_index(POINT).iterrows():
        link_bytes_per_s, margin_s = point[0] * 1e6 / 8, r["fastest_median_s"] - central[point]
        rows.append({**dict(zip(POINT, point, strict=True)), "in_place": r["fastest"],
                     "in_place_median_s": r["fastest_median_s"], "centralized_median_s": central[point],
                     "nbytes_time": n0 + margin_s * link_bytes_per_s / LARGEST_REMOTE_SHARE,
                     "nbytes_wan": wan[r["fastest"]] * 1e6 / SHIPPED_SHARE, "tie": bool(tie[point])})
    return pd.DataFrame(rows)


def _size(nbytes: float, n0: float) -> str:
    if not math.isfinite(nbytes):
        return "--"
    if nbytes <= n0:
        return "never"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 1e3:.3g} KB"


def datasize_section(be: pd.DataFrame, data_points: int = RING8_POINTS) -> str:
    """Markdown: per compute level a bandwidth x RTT grid of the break-even data size (*tie* where the map does not
    separate centralized from the fastest in-place method at ring8's size), and the bytes break-even."""
    n0 = data_points * FEATURE_NBYTES
    bws, rtts = sorted(be["bandwidth_Mbps"].unique()), sorted(be["rtt_ms"].unique())
    out = []
    for step in sorted(be["step_ms"].unique()):
        g = be[be["step_ms"] == step].set_index(["rtt_ms", "bandwidth_Mbps"])
        out += [f"**{step:g} ms per step**: raw data size up to which moving it reaches the target sooner than "
                "the fastest in-place method (never: in place is sooner already at ring8's 96 KB; *tie*: at ring8's "
                "size the map does not separate the two, so the break-even is within the seeds' noise)", "",
                "| RTT \\ bandwidth | " + " | ".join(f"{b:g} Mbps" for b in bws) + " |", "|---" * (len(bws) + 1) + "|"]
        out += [f"| {rtt:g} ms | " + " | ".join(_size(g.loc[(rtt, bw), "nbytes_time"], n0)
                                                + (" *tie*" if g.loc[(rtt, bw), "tie"] else "") for bw in bws) + " |"
                for rtt in rtts]
        out.append("")
    wan = be.drop_duplicates("in_place").set_index("in_place")["nbytes_wan"]
    out.append("In WAN bytes (the same at every point): moving the data is cheaper than "
               + ", ".join(f"{m} up to {_size(v, n0)} of raw data" for m, v in wan.items()) + ".")
    return "\n".join(out) + "\n"


def figure(be: pd.DataFrame, out: Path, data_points: int = RING8_POINTS) -> None:
    """regime-map-datasize.png: per compute level, bandwidth x RTT coloured by the break-even size (log scale),
    each cell labelled; grey where in place is sooner already at ring8's size."""
    n0 = data_points * FEATURE_NBYTES
    steps, bws, rtts = (sorted(be[c].unique()) for c in ("step_ms", "bandwidth_Mbps", "rtt_ms"))
    positive = be.loc[be["nbytes_time"] > n0, "nbytes_time"]
    norm = LogNorm(vmin=float(positive.min()), vmax=float(positive.max()))
    fig = new_figure(13, 4.6)
    axes = fig.subplots(1, len(steps), squeeze=False)[0]
    image = None
    for ax, step in zip(axes, steps, strict=True):
        g = be[be["step_ms"] == step].set_index(["rtt_ms", "bandwidth_Mbps"])
        grid = np.array([[g.loc[(r, b), "nbytes_time"] for b in bws] for r in rtts])
        image = ax.imshow(np.where(grid > n0, grid, np.nan), origin="lower", cmap="viridis", norm=norm)
        for y, rtt in enumerate(rtts):
            for x, bw in enumerate(bws):
                v, tie = g.loc[(rtt, bw), "nbytes_time"], g.loc[(rtt, bw), "tie"]
                if v <= n0:
                    ax.add_patch(Rectangle(
                        (x - 0.5, y - 0.5), 1, 1, facecolor="#dddddd", edgecolor="white"))
                ax.text(x, y, _size(v, n0) + ("\n(tie)" if tie else ""), ha="center", va="center", fontsize=8,
                        color="black" if v <= n0 or norm(v) > 0.6 else "white")
        ax.set_xticks(range(len(bws)), [f"{b:g}" for b in bws])
        ax.set_yticks(range(len(rtts)), [f"{r:g}" for r in rtts])
        ax.set_xlabel("WAN bandwidth per link (Mbps)")
        ax.set_ylabel("round-trip time (ms)")
        ax.set_title(f"{step:g} ms per step", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="raw data size up to which moving it is sooner (bytes)")
    fig.suptitle("Move the data or train in place? Moving ring8-like data reaches the target sooner than the fastest "
                 "in-place method (SQM) up to this size\n(never: in place is sooner already at ring8's 96 KB; "
                 "derived from the map's medians and the fluid model, checked by training at 10 Mbps, 10 ms, 1 ms)",
                 fontsize=9)
    save(fig, out, "regime-map-datasize")


def write(win: pd.DataFrame, per: pd.DataFrame, costs: pd.DataFrame, out: Path) -> pd.DataFrame:
    """regime-map-datasize.csv; returns the frame for the page's section."""
    be = break_even(win, per, costs)
    shown = be.assign(ring8_KB=RING8_POINTS * FEATURE_NBYTES / 1e3)  # the sizes also in the units the page shows
    for column in ("nbytes_time", "nbytes_wan"):
        for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
            shown[f"{column}_{unit}"] = be[column] / scale
    shown.to_csv(out / "regime-map-datasize.csv", index=False, float_format="%.6g")
    figure(be, out)
    return be


def check(root: Path, be: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per seed of the check suite (centralized on ring8 scaled to the break-even size at CHECK_POINT): the last raw
    shipment's arrival against the fluid model's, and the iteration and time at which it reaches and holds the
    target against the same seed's ring8 run (``runs``: the map's per-run rows) and the in-place median it should
    meet.  Empty if the suite has not run."""
    if not (root / CHECK_SUITE / "index.csv").is_file():
        return pd.DataFrame()
    point = be.set_index(POINT).loc[CHECK_POINT]
    ring8 = runs[runs["method"] == "centralized"].set_index("seed")
    bandwidth_bytes_per_s, one_way_s = CHECK_POINT[0] * 1e6 / 8, CHECK_POINT[1] / 2e3
    rows = []
    for _, r in read_suite(root / CHECK_SUITE).iterrows():
        traffic = pd.read_parquet(root / CHECK_SUITE / r["run_dir"] / "traffic.parquet")
        raw = traffic[traffic["kind"] == "raw_data"]
        got = hit(r["metrics"])
        rows.append({"seed": r["seed"], "data_MB": float(raw["nbytes"].sum()) / SHIPPED_SHARE / 1e6,
                     "last_region_MB": float(raw["nbytes"].max()) / 1e6,
                     "shipped_s": float(raw["t_arrive_s"].max()),
                     "shipped_model_s": one_way_s + float(raw["nbytes"].max()) / bandwidth_bytes_per_s,
                     "reached": bool(got["reached"]), "iteration": got["iteration"],
                     "ring8_iteration": ring8["iteration"].get(r["seed"], math.nan),
                     "time_s": got["virtual_time_s"], "in_place": point["in_place"],
                     "in_place_median_s": point["in_place_median_s"], "break_even_MB": point["nbytes_time"] / 1e6})
    return pd.DataFrame(rows).sort_values("seed")


def check_section(chk: pd.DataFrame) -> str:
    """Markdown: the check's table, one row per seed."""
    lines = ["| seed | raw data (MB) | last region's shipment (MB) | arrives (virtual s) | fluid model (s) | "
             "iteration to target | same seed on ring8 | time to target (s) | in-place median (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in chk.itertuples():
        lines.append(f"| {r.seed} | {r.data_MB:.1f} | {r.last_region_MB:.2f} | {r.shipped_s:.2f} | "
                     f"{r.shipped_model_s:.2f} | {r.iteration:.0f} | {r.ring8_iteration:.0f} | {r.time_s:.2f} | "
                     f"{r.in_place} {r.in_place_median_s:.2f} |")
    return "\n".join(lines) + "\n"
