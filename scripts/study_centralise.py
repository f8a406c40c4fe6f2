"""Figure and table of the centralise-or-not study (docs/studies/centralise-or-not.md).

Usage: python scripts/study_centralise.py RESULTS/centralise-or-not OUT_DIR

Reads the suite with ``analysis.load_results``; the one number a summary does not hold -- when the
last ``raw_data`` message arrived (the time to ship the data) -- comes from each centralized run's
``traffic.parquet``.  Break-even: shipping costs ``ship_s`` once, then ``t_c`` per iteration; training
in place costs ``t_m`` per iteration, so shipping wins after ``ship_s / (t_m - t_c)`` iterations (in
virtual time) and after ``data_bytes / wan_bytes_per_iteration`` iterations (in WAN bytes and dollars).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.runfiles import read_traffic_log
from analysis.study_files import write_study_table
from analysis.style import method_colors, new_figure, save

BASE_MBPS = 500.0  # wan-3dc us-east <-> eu-west at bandwidth_scale 1


def ship_seconds(run_dir: Path) -> float:
    """When the last ``raw_data`` message arrived: the virtual time to ship the data."""
    traffic = read_traffic_log(run_dir)
    return float(traffic.loc[traffic["kind"] == "raw_data", "t_arrive_s"].max())


def table(root: Path) -> pd.DataFrame:
    runs = load_results(root).complete.copy()
    runs["method"] = runs["algorithm.name"]
    runs["mbps"] = runs["bandwidth_scale"] * BASE_MBPS
    runs["wan_per_it"] = runs["wan_bytes"] / runs["iterations"]
    runs["t_per_it"] = runs["virtual_time_s"] / runs["iterations"]
    central = runs[runs["method"] == "centralized"].copy()
    central["ship_s"] = [ship_seconds(Path(d)) for d in central["run_dir"]]
    central["t_c"] = (central["virtual_time_s"] - central["ship_s"]) / central["iterations"]
    big = central[central["dataset.n"] == central["dataset.n"].max()].set_index("bandwidth_scale")
    inplace = runs[(runs["method"] != "centralized")
                   & ((runs["dataset.n"] == runs["dataset.n"].max()) | (runs["method"] == "fedavg"))]
    rows = []
    for _, r in inplace.sort_values(["method", "bandwidth_scale"]).iterrows():
        c = big.loc[r["bandwidth_scale"]]
        gain = r["t_per_it"] - c["t_c"]
        rows.append({
            "method": r["method"], "wan_mbps": r["mbps"], "data_MB": c["wan_bytes"] / 1e6,
            "ship_s": c["ship_s"], "ship_usd": c["egress_usd"], "central_s_per_it": c["t_c"],
            "inplace_WAN_MB_per_it": r["wan_per_it"] / 1e6, "inplace_s_per_it": r["t_per_it"],
            "inplace_usd_per_it": r["egress_usd"] / r["iterations"],
            "breakeven_it_time": c["ship_s"] / gain if gain > 0 else math.inf,
            "breakeven_it_bytes": c["wan_bytes"] / r["wan_per_it"] if r["wan_per_it"] > 0 else math.inf,
        })
    return pd.DataFrame(rows)


def figure(df: pd.DataFrame, out_dir: Path) -> None:
    fig = new_figure(12, 4.6)
    left, right = fig.subplots(1, 2)
    colors = method_colors([*df["method"], "centralized"])
    ship = df.drop_duplicates("wan_mbps")
    left.plot(ship["wan_mbps"], ship["ship_s"], "k-o", lw=2,
              label=f"centralized: ship {ship['data_MB'].iloc[0]:.0f} MB once")
    for method, rows in df.groupby("method"):
        left.plot(rows["wan_mbps"], rows["inplace_s_per_it"] * 100, "-o", color=colors[method],
                  label=f"{method}: 100 iterations in place")
    left.set(xscale="log", yscale="log", xlabel="WAN bandwidth, us-east <-> eu-west (Mbps; other links scaled alike)",
             ylabel="virtual time (s)", title="Shipping the data vs 100 iterations in place")
    left.legend(fontsize=8)
    for method, rows in df.groupby("method"):
        right.plot(rows["wan_mbps"], rows["breakeven_it_time"], "-o", color=colors[method], label=f"{method}: time")
        right.plot(rows["wan_mbps"], rows["breakeven_it_bytes"], ":", color=colors[method],
                   label=f"{method}: WAN bytes / $")
    right.set(xscale="log", yscale="log", xlabel="WAN bandwidth, us-east <-> eu-west (Mbps)",
              ylabel="iterations after which shipping is cheaper",
              title="Break-even: centralise if you train longer than this")
    right.legend(fontsize=7, ncol=2)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    save(fig, out_dir, "centralise-or-not")


def markdown(df: pd.DataFrame) -> str:
    head = ("| method | WAN Mbps | data MB | ship s | ship $ | in place: WAN MB/it | in place: s/it "
            "| central: s/it | break-even it. (time) | break-even it. (bytes, $) |\n|" + "---|" * 10 + "\n")
    body = "".join(
        f"| {r.method} | {r.wan_mbps:g} | {r.data_MB:.1f} | {r.ship_s:.2f} | {r.ship_usd:.4f} | "
        f"{r.inplace_WAN_MB_per_it:.3f} | {r.inplace_s_per_it:.3f} | {r.central_s_per_it:.4f} | "
        f"{r.breakeven_it_time:,.0f} | {r.breakeven_it_bytes:,.0f} |\n" for r in df.itertuples())
    return head + body


def main(root: str, out: str) -> None:
    out_dir = Path(out)
    df = table(Path(root))
    figure(df, out_dir)
    write_study_table(df, markdown(df), out_dir, "centralise-or-not")


if __name__ == "__main__":
    main(*sys.argv[1:3])
