"""Figure, tables and headline of the centralise-or-not study (docs/studies/centralise-or-not.md).

Usage: python scripts/study_centralise.py RESULTS/centralise-or-not OUT_DIR

Reads the suite with ``analysis.load_results``; the one number a summary does not hold -- when the
last ``raw_data`` message arrived (the time to ship the data) -- comes from each centralized run's
``traffic.parquet``.  Break-even: shipping costs ``ship_s`` once, then ``t_c`` per iteration; training
in place costs ``t_m`` per iteration, so shipping wins after ``ship_s / (t_m - t_c)`` iterations (in
virtual time) and after ``data_bytes / wan_bytes_per_iteration`` iterations (in WAN bytes and dollars)
for the methods whose bytes per iteration do not depend on the values (ps, mdgan, fedavg).  Gaia's do:
its byte break-even is the clock at which its *measured* cumulative WAN bytes reach the shipped bytes
(interpolated between evaluations), or, past the run's last clock, that plus the rest at the rate of
its last 500 clocks (marked ``extrapolated``).  Writes ``centralise-or-not.csv`` (the table),
``centralise-or-not-gaia.csv`` (Gaia's cumulative bytes per 50 clocks), ``centralise-or-not-summary.csv``
(every number the page's prose quotes) and the page's table and headline between its numbers marks.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.page_numbers import replace_generated
from analysis.runfiles import read_traffic_log
from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.style import method_colors, new_figure, save

BASE_MBPS = 500.0  # wan-3dc us-east <-> eu-west at bandwidth_scale 1
LATE_CLOCKS = 500  # Gaia's late rate: bytes per clock over the run's last 500 clocks
EARLY_CLOCKS = 100  # what the old page extrapolated from
EXTRAPOLATED = " (extrapolated)"


def ship_seconds(run_dir: Path) -> float:
    """When the last ``raw_data`` message arrived: the virtual time to ship the data."""
    traffic = read_traffic_log(run_dir)
    return float(traffic.loc[traffic["kind"] == "raw_data", "t_arrive_s"].max())


def gaia_curves(results) -> pd.DataFrame:
    """Gaia's cumulative WAN bytes per evaluation, one row per (bandwidth, clock)."""
    runs = results.complete.set_index("run")
    m = results.metrics[results.metrics["run"].map(runs["algorithm.name"]) == "gaia"].copy()
    m["wan_mbps"] = m["run"].map(runs["bandwidth_scale"]).astype(float) * BASE_MBPS
    m["wan_MB"] = m["wan_bytes"] / 1e6
    return m[["wan_mbps", "iteration", "virtual_time_s", "wan_MB"]].sort_values(["wan_mbps", "iteration"])


def gaia_byte_breakeven(curve: pd.DataFrame, data_mb: float) -> tuple[float, bool, float, float]:
    """(clock at which the cumulative WAN MB reach ``data_mb``, extrapolated?, early MB/clock, late MB/clock)."""
    it, mb = curve["iteration"].to_numpy(float), curve["wan_MB"].to_numpy(float)
    early = float(np.interp(EARLY_CLOCKS, it, mb)) / EARLY_CLOCKS
    late = (mb[-1] - float(np.interp(it[-1] - LATE_CLOCKS, it, mb))) / LATE_CLOCKS
    if mb[-1] >= data_mb:
        return float(np.interp(data_mb, mb, it)), False, early, late
    return float(it[-1] + (data_mb - mb[-1]) / late), True, early, late


def table(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    results = load_results(root)
    runs = results.complete.copy()
    runs["method"] = runs["algorithm.name"]
    runs["mbps"] = runs["bandwidth_scale"].astype(float) * BASE_MBPS
    runs["wan_per_it"] = runs["wan_bytes"] / runs["iterations"]
    runs["t_per_it"] = runs["virtual_time_s"] / runs["iterations"]
    central = runs[runs["method"] == "centralized"].copy()
    central["ship_s"] = [ship_seconds(Path(d)) for d in central["run_dir"]]
    central["t_c"] = (central["virtual_time_s"] - central["ship_s"]) / central["iterations"]
    big = central[central["dataset.n"] == central["dataset.n"].max()].set_index("mbps")
    small = central[central["dataset.n"] == central["dataset.n"].min()]
    curves = gaia_curves(results)
    rows = []
    for _, r in runs[runs["method"] != "centralized"].sort_values(["method", "mbps"]).iterrows():
        c = big.loc[r["mbps"]]
        data_mb = c["wan_bytes"] / 1e6
        gain = r["t_per_it"] - c["t_c"]
        row = {"method": r["method"], "wan_mbps": r["mbps"], "data_MB": data_mb, "ship_s": c["ship_s"],
               "ship_usd": c["egress_usd"], "central_s_per_it": c["t_c"], "iterations_run": int(r["iterations"]),
               "inplace_WAN_MB_per_it": r["wan_per_it"] / 1e6, "inplace_s_per_it": r["t_per_it"],
               "breakeven_it_time": c["ship_s"] / gain if gain > 0 else math.inf,
               "breakeven_it_bytes": data_mb / (r["wan_per_it"] / 1e6), "bytes_extrapolated": False,
               "early_MB_per_it": math.nan, "late_MB_per_it": math.nan}
        if r["method"] == "gaia":
            at, extrapolated, early, late = gaia_byte_breakeven(curves[curves["wan_mbps"] == r["mbps"]], data_mb)
            row.update(breakeven_it_bytes=at, bytes_extrapolated=extrapolated, early_MB_per_it=early,
                       late_MB_per_it=late, breakeven_it_bytes_from_first_100=data_mb / early)
        rows.append(row)
    df = pd.DataFrame(rows)
    small_row = pd.DataFrame([{"data_MB": small["wan_bytes"].max() / 1e6, "ship_s_min": small["ship_s"].min(),
                               "ship_s_max": small["ship_s"].max()}])
    return df, curves, small_row


def figure(df: pd.DataFrame, curves: pd.DataFrame, out_dir: Path) -> None:
    fig = new_figure(15, 4.6)
    left, mid, right = fig.subplots(1, 3)
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
        mid.plot(rows["wan_mbps"], rows["breakeven_it_time"], "-o", color=colors[method], label=f"{method}: time")
        mid.plot(rows["wan_mbps"], rows["breakeven_it_bytes"], ":s", ms=3, color=colors[method],
                 label=f"{method}: WAN bytes / $")
    mid.set(xscale="log", yscale="log", xlabel="WAN bandwidth, us-east <-> eu-west (Mbps)",
            ylabel="iterations (gaia: clocks; fedavg: rounds)",
            title="Break-even: centralise if you train longer than this")
    mid.legend(fontsize=7, ncol=2)
    shades = dict(zip(sorted(curves["wan_mbps"].unique()), ("#08306b", "#2171b5", "#6baed6", "#9ecae1"), strict=False))
    for mbps, c in curves.groupby("wan_mbps"):
        right.plot(c["iteration"], c["wan_MB"], color=shades[mbps], label=f"gaia at {mbps:g} Mbps (measured)")
        g = df[(df["method"] == "gaia") & (df["wan_mbps"] == mbps)].iloc[0]
        if g["bytes_extrapolated"]:
            right.plot([c["iteration"].iloc[-1], g["breakeven_it_bytes"]], [c["wan_MB"].iloc[-1], g["data_MB"]],
                       ":", color=shades[mbps])
    data_mb = df["data_MB"].iloc[0]
    right.axhline(data_mb, color="k", lw=1.5, label=f"centralized: {data_mb:.1f} MB shipped once")
    first = curves.groupby("wan_mbps").apply(lambda c: float(np.interp(EARLY_CLOCKS, c["iteration"], c["wan_MB"])),
                                             include_groups=False).mean()
    xs = np.array([0, data_mb / (first / EARLY_CLOCKS)])
    right.plot(xs, xs * first / EARLY_CLOCKS, "--", color="grey", lw=1,
               label=f"the first {EARLY_CLOCKS} clocks' rate, extrapolated")
    right.set(xlabel="Gaia clock", ylabel="cumulative WAN MB", ylim=(0, data_mb * 1.15),
              title="Gaia's bytes fall as it settles (dotted: late rate)")
    right.legend(fontsize=7)
    for ax in (left, mid, right):
        ax.grid(alpha=0.3, which="both")
    save(fig, out_dir, "centralise-or-not")


def markdown(df: pd.DataFrame) -> str:
    head = ("| method | WAN Mbps | data MB | ship s | ship $ | in place: WAN MB/it | in place: s/it "
            "| central: s/it | break-even it. (time) | break-even it. (bytes, $) |\n|" + "---|" * 10 + "\n")
    body = "".join(
        f"| {r.method} | {r.wan_mbps:g} | {r.data_MB:.1f} | {r.ship_s:.2f} | {r.ship_usd:.4f} | "
        f"{r.inplace_WAN_MB_per_it:.3f} | {r.inplace_s_per_it:.3f} | {r.central_s_per_it:.4f} | "
        f"{r.breakeven_it_time:,.0f} | {r.breakeven_it_bytes:,.0f}{EXTRAPOLATED if r.bytes_extrapolated else ''} |\n"
        for r in df.itertuples())
    return head + body


def summary(df: pd.DataFrame, small: pd.DataFrame) -> pd.DataFrame:
    """Every number the headline quotes, one (quantity, value) row each."""
    g = df[df["method"] == "gaia"].assign(fall=lambda x: x["early_MB_per_it"] / x["late_MB_per_it"])
    sync = df[df["method"] != "gaia"]
    values: dict[str, float] = {
        "data_MB": df["data_MB"].iloc[0], "ship_usd": df["ship_usd"].iloc[0],
        "ship_s_10mbps": df["ship_s"].max(), "ship_s_10gbps": df["ship_s"].min(),
        "small_points": 12000, "small_data_MB": small["data_MB"].iloc[0],
        "small_ship_s_min": small["ship_s_min"].iloc[0], "small_ship_s_max": small["ship_s_max"].iloc[0],
        "gaia_clocks_run": g["iterations_run"].max(), "late_clocks": LATE_CLOCKS, "early_clocks": EARLY_CLOCKS,
        "gaia_time_breakeven_10mbps": g["breakeven_it_time"].max(),
        "gaia_time_breakeven_10gbps": g["breakeven_it_time"].min(),
    }
    for method in ("ps", "fedavg", "mdgan"):
        values[f"{method}_breakeven_bytes"] = df.loc[df["method"] == method, "breakeven_it_bytes"].iloc[0]
    spans = {"gaia_breakeven_bytes": g["breakeven_it_bytes"],
             "gaia_breakeven_first100": g["breakeven_it_bytes_from_first_100"],
             "gaia_early_MB_per_clock": g["early_MB_per_it"], "gaia_late_MB_per_clock": g["late_MB_per_it"],
             "gaia_fall": g["fall"],
             "inplace_s_per_it_10gbps": sync.loc[sync["wan_mbps"] == sync["wan_mbps"].max(), "inplace_s_per_it"],
             "time_breakeven_10mbps": sync.loc[sync["wan_mbps"] == sync["wan_mbps"].min(), "breakeven_it_time"]}
    for key, column in spans.items():
        values[f"{key}_min"], values[f"{key}_max"] = column.min(), column.max()
    return pd.DataFrame({"quantity": list(values), "value": list(values.values())})


def gaia_where(s: pd.Series) -> str:
    """Where Gaia's byte break-even comes from: the measured curve, or past its end."""
    if s["gaia_breakeven_bytes_max"] <= s["gaia_clocks_run"]:
        return " (read off the measured curve)"
    return (f" -- past the {s['gaia_clocks_run']:,.0f} clocks measured, so extrapolated at the rate of the last "
            f"{s['late_clocks']:,.0f}; that rate was still falling, so these are lower bounds")


def headline(s: pd.Series) -> str:
    """The page's headline, every number from ``centralise-or-not-summary.csv``."""
    def n(key: str, fmt: str = ",.0f") -> str:
        return format(s[key], fmt)
    return (
        f"- *Bytes and dollars*: shipping the {n('data_MB', '.1f')} MB of features once (${n('ship_usd', '.4f')}) "
        f"equals {n('ps_breakeven_bytes')} parameter-server iterations, {n('fedavg_breakeven_bytes')} FedAvg "
        f"rounds, {n('mdgan_breakeven_bytes')} MD-GAN iterations or {n('gaia_breakeven_bytes_min')}-"
        f"{n('gaia_breakeven_bytes_max')} Gaia clocks{gaia_where(s)}.\n"
        f"- *Gaia, measured over {n('gaia_clocks_run')} clocks*: its WAN bytes fall from "
        f"{n('gaia_early_MB_per_clock_min', '.3f')}-{n('gaia_early_MB_per_clock_max', '.3f')} MB per clock over the "
        f"first {n('early_clocks')} clocks to {n('gaia_late_MB_per_clock_min', '.3f')}-"
        f"{n('gaia_late_MB_per_clock_max', '.3f')} MB over the last {n('late_clocks')} "
        f"({n('gaia_fall_min', '.1f')}-{n('gaia_fall_max', '.1f')}x less), so extrapolating the first "
        f"{n('early_clocks')} clocks (the old page's method) would put the break-even at "
        f"{n('gaia_breakeven_first100_min')}-{n('gaia_breakeven_first100_max')} clocks instead.\n"
        f"- *Time*: shipping takes {n('ship_s_10mbps', '.1f')} s at 10 Mbps and {n('ship_s_10gbps', '.2f')} s at "
        f"10 Gbps, while an in-place iteration of ps, MD-GAN or FedAvg stays at "
        f"{n('inplace_s_per_it_10gbps_min', '.3f')}-{n('inplace_s_per_it_10gbps_max', '.3f')} s even at 10 Gbps: "
        f"the time break-even falls from {n('time_breakeven_10mbps_min')}-{n('time_breakeven_10mbps_max')} "
        f"iterations at 10 Mbps to about one at 10 Gbps; Gaia, whose clocks need only LAN round trips, "
        f"holds out longest ({n('gaia_time_breakeven_10mbps')} clocks at 10 Mbps, "
        f"{n('gaia_time_breakeven_10gbps')} at 10 Gbps).\n"
        f"- With 12,000 points the features are {n('small_data_MB', '.2f')} MB and arrive in "
        f"{n('small_ship_s_min', '.2f')}-{n('small_ship_s_max', '.2f')} s: shipping wins before the first "
        f"iteration at every bandwidth.\n")


def main(root: str, out: str) -> None:
    out_dir = Path(out)
    df, curves, small = table(Path(root))
    figure(df, curves, out_dir)
    write_study_table(df, markdown(df), out_dir, "centralise-or-not")
    curves.to_csv(out_dir / "centralise-or-not-gaia.csv", index=False, float_format="%.6g")
    s = summary(df, small)
    s.to_csv(out_dir / "centralise-or-not-summary.csv", index=False, float_format="%.6g")
    page = out_dir / "centralise-or-not.md"
    if page.exists():
        text = markdown(df) + "\n" + headline(s.set_index("quantity")["value"])
        replace_generated(page, "centralise-or-not-summary.csv centralise-or-not.csv", text)


if __name__ == "__main__":
    main(*positional(__doc__, "results", "out_dir"))
