"""FedAvg with a round deadline on the regime map (docs/studies/regime-map.md): the measured check that
replaces the argument the page used to make instead of running it.

Why a file of its own: a deadline makes FedAvg timing-dependent, so the map cannot replay it; but on the
map's symmetric topology (regime-3dc: identical WAN links, no dynamics, no jitter) both remote regions'
replies arrive at the same instant and the server region's earlier, so a deadline can only do one of two
things -- admit every reply (then the run is FedAvg without a deadline, which the map already has) or
admit only the server region's (then the average is that region's own model).  This reads the suite
``regime-map-deadline`` (both cases at the base point, per seed) and checks each claim on the runs
themselves: metrics rows and the traffic log equal to the no-deadline run's, and which clients the server
averaged (its own record, ``summary.json``'s ``method_results``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import yaml

from analysis.censored import reached_and_held
from analysis.study_stats import RING8_COVERAGE
from testbed.core.units import parse_seconds

TARGET = RING8_COVERAGE
SUITE = "regime-map-deadline"


def _metrics(run: Path) -> pd.DataFrame:
    """A run's metrics rows without the wall clock (the only column allowed to differ between equal runs)."""
    return pd.read_csv(run / "metrics.csv").drop(columns=["wall_time_s"], errors="ignore")


def _traffic(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "traffic.csv").drop(columns=["run_id"], errors="ignore")


def deadline_runs(root: Path) -> pd.DataFrame:
    """One row per complete run of ``root / SUITE``: its deadline, which clients the server averaged, its
    quality and reach of the target, and whether it equals the same seed's run without a deadline."""
    suite = root / SUITE
    if not (suite / "index.csv").is_file():
        return pd.DataFrame()
    index = pd.read_csv(suite / "index.csv")
    index = index[index["status"] == "complete"]
    rows = []
    for _, r in index.iterrows():
        run = suite / r["run_dir"]
        config = yaml.safe_load((run / "config.yaml").read_text())
        results = json.loads((run / "summary.json").read_text()).get("method_results", {})
        metrics = _metrics(run)
        hit = reached_and_held(metrics.assign(run="r"), TARGET).iloc[0]
        averaged = sorted({client for _, client in results.get("averaged", [])})
        rows.append({"cell": str(r["cell"]), "seed": int(config["seed"]),
                     "deadline": str(config["algorithm"].get("round_deadline") or "none"),
                     "deadline_ms": 1e3 * parse_seconds(config["algorithm"]["round_deadline"])
                     if config["algorithm"].get("round_deadline") else math.nan,
                     "rounds": int(r["iterations"]), "replies_averaged": int(results.get("replies_averaged", 0)),
                     "replies_dropped": int(results.get("replies_dropped", 0)),
                     "clients_averaged": " ".join(averaged),
                     "final_hqf": float(metrics["high_quality_fraction"].iloc[-1]),
                     "final_modes": float(metrics["modes_covered"].iloc[-1]),
                     "max_modes": float(metrics["modes_covered"].max()), "reached": bool(hit["reached"]),
                     "run_virtual_s": float(r["virtual_time_s"]), "run_wan_MB": float(r["wan_bytes"]) / 1e6,
                     "run_dir": str(r["run_dir"])})
    df = pd.DataFrame(rows)
    same = []
    for _, r in df.iterrows():
        ref = df[(df["seed"] == r["seed"]) & (df["deadline"] == "none")]
        if r["deadline"] == "none" or ref.empty:
            same.append(None)
            continue
        a, b = suite / r["run_dir"], suite / ref["run_dir"].iloc[0]
        same.append(bool(_metrics(a).equals(_metrics(b)) and _traffic(a).equals(_traffic(b))))
    return df.assign(equals_no_deadline=same).drop(columns=["run_dir"])


def deadline_section(runs: pd.DataFrame) -> str:
    """The page's table of the deadline runs (generated; the prose beside it is checked against the csv)."""
    if runs.empty:
        return "`regime-map-deadline.yaml` was not run.\n"
    lines = ["| seed | round deadline | rounds | replies averaged / dropped | clients averaged | "
             "equals the run without a deadline (metrics and traffic) | final high-quality fraction / modes | "
             "most modes at any evaluation | reached and held | virtual s | WAN MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in runs.sort_values(["seed", "deadline"]).iterrows():
        same = "--" if r["equals_no_deadline"] is None else ("yes" if r["equals_no_deadline"] else "no")
        lines.append(f"| {r['seed']} | {r['deadline']} | {r['rounds']} | {r['replies_averaged']} / "
                     f"{r['replies_dropped']} | {r['clients_averaged']} | {same} | {r['final_hqf']:.4g} / "
                     f"{r['final_modes']:g} | {r['max_modes']:g} | {'yes' if r['reached'] else 'no'} | "
                     f"{r['run_virtual_s']:.4g} | {r['run_wan_MB']:.4g} |")
    return "\n".join(lines) + "\n"
