"""FedAvg replies dropped under a round deadline / over-selection, per series (mean ± std over seeds).

Usage: python scripts/study_dropped.py RESULTS_DIR OUT_DIR NAME [--label COLUMNS]

Used by the beyond-the-seed study (docs/studies/beyond-the-seed.md).  Per FedAvg run, the replies the
server averaged and those it dropped, rebuilt from the traffic log (analysis/dropped_replies.py):
m = max(floor(C K), 1) clients kept a round (K = the run's workers, from nodes.csv), the deadline from
``algorithm.round_deadline``.  Writes OUT_DIR/NAME-table.md and NAME.csv.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.dropped_replies import fedavg_replies
from analysis.runfiles import read_table, read_traffic_log
from analysis.study_files import write_study_table
from testbed.core.units import parse_seconds


def _ms(values: pd.Series, fmt: str) -> str:
    return format(values.mean(), fmt) + (f" ± {format(values.std(), fmt)}" if len(values) > 1 else "")


def per_run(results) -> pd.DataFrame:
    """One row per complete FedAvg run: replies, dropped replies, and their WAN bytes."""
    rows = []
    for row in results.complete.to_dict("records"):
        run_dir = Path(row["run_dir"])
        workers = [n for n in read_table(run_dir / "nodes.csv")["node"] if "/w" in n]
        keep = max(math.floor(float(row["algorithm.client_fraction"]) * len(workers)), 1)
        deadline = row.get("algorithm.round_deadline")
        deadline_s = parse_seconds(deadline) if isinstance(deadline, str) else math.inf
        server = f"{row['algorithm.server_at']}/server"
        replies = fedavg_replies(read_traffic_log(run_dir), server, keep, deadline_s)
        dropped = replies[~replies["kept"]]
        rows.append({"run": row["run"], "series": row["series"], "seed": row["seed"], "keep": keep,
                     "deadline_s": deadline_s, "replies": len(replies), "dropped": len(dropped),
                     "dropped_wan_bytes": float(dropped["wan_nbytes"].sum()),
                     "run_wan_bytes": float(row["wan_bytes"])})
    return pd.DataFrame(rows)


def markdown(hits: pd.DataFrame) -> str:
    out = ("| series | replies a run | dropped a run | dropped WAN MB | share of the run's WAN bytes |\n"
           "|---|---|---|---|---|\n")
    for series, g in hits.groupby("series", sort=True):
        out += (f"| {series} | {_ms(g['replies'], '.0f')} | {_ms(g['dropped'], '.1f')} | "
                f"{_ms(g['dropped_wan_bytes'] / 1e6, '.2f')} | "
                f"{_ms(100 * g['dropped_wan_bytes'] / g['run_wan_bytes'], '.1f')} % |\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs=3, metavar=("RESULTS_DIR", "OUT_DIR", "NAME"))
    p.add_argument("--label", help="comma-separated run columns naming a series, or cell (as study_target.py)")
    args = p.parse_args(argv)
    results_dir, out_dir, name = args.paths
    results = load_results(results_dir)
    if args.label:
        from study_target import relabel  # the sibling script: one way to name series

        relabel(results, args.label.split(","))
    hits = per_run(results)
    write_study_table(hits, markdown(hits), Path(out_dir), name)


if __name__ == "__main__":
    main()
