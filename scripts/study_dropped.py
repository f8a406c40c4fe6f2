"""FedAvg replies dropped under churn, a round deadline or over-selection, per series: table and figure.

Usage: python scripts/study_dropped.py RESULTS_DIR OUT_DIR NAME [--label COLUMNS]

Used by the beyond-the-seed study (docs/studies/beyond-the-seed.md).  Per FedAvg run, every chosen
client's reply -- averaged, dropped because the client went down mid-round, or dropped because it came
after the round had closed -- from the server's own record (``summary.json``'s ``method_results``,
joined with the traffic log for the WAN bytes: analysis/dropped_replies.py ``reply_fates``).  A run
without that record (written before FedAvg kept it) is rebuilt from the traffic log alone
(``fedavg_replies``: exact without churn; m = max(floor(C K), 1), the deadline from
``algorithm.round_deadline``).  Writes OUT_DIR/NAME-table.md, NAME.csv (one row per run, and one per
series: the mean over seeds) and NAME.png: per series, the chosen clients of each round by fate (mean
over seeds) and the cumulative WAN bytes of the dropped ones.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.dropped_replies import FATES, fedavg_replies, reply_fates
from analysis.runfiles import read_table, read_traffic_log
from analysis.study_files import write_study_table
from analysis.style import new_figure, save
from testbed.core.units import parse_seconds

FATE_LABELS = {"averaged": "arrived in time, averaged", "went_down": "dropped: client went down",
               "late": "dropped: after the round closed"}
FATE_COLORS = {"averaged": "tab:green", "went_down": "tab:red", "late": "tab:orange"}


def _ms(values: pd.Series, fmt: str) -> str:
    return format(values.mean(), fmt) + (f" ± {format(values.std(), fmt)}" if len(values) > 1 else "")


def fates_of(row: dict) -> pd.DataFrame:
    """One run's chosen (round, client) pairs with their fate and WAN bytes."""
    run_dir = Path(row["run_dir"])
    server = f"{row['algorithm.server_at']}/server"
    traffic = read_traffic_log(run_dir)
    record = json.loads((run_dir / "summary.json").read_text()).get("method_results", {})
    if "averaged" in record:
        return reply_fates(record, traffic, server)
    workers = [n for n in read_table(run_dir / "nodes.csv")["node"] if "/w" in n]
    keep = max(math.floor(float(row["algorithm.client_fraction"]) * len(workers)), 1)
    deadline = row.get("algorithm.round_deadline")
    deadline_s = parse_seconds(deadline) if isinstance(deadline, str) else math.inf
    replies = fedavg_replies(traffic, server, keep, deadline_s)
    starts = sorted(replies["round_start_s"].unique())
    wan_out = traffic[(traffic["src"] == server) & (traffic["scope"] == "wan")]
    down = wan_out.groupby(["dst", "t_send_s"])["nbytes"].sum()
    return pd.DataFrame({"round": replies["round_start_s"].map({t: i for i, t in enumerate(starts)}),
                         "client": replies["client"], "fate": np.where(replies["kept"], "averaged", "late"),
                         "round_start_s": replies["round_start_s"],
                         "down_wan_nbytes": [float(down.get((c, t), 0.0)) for c, t in
                                             zip(replies["client"], replies["round_start_s"], strict=True)],
                         "up_wan_nbytes": replies["wan_nbytes"]})


def collect(results, keep: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per run, one row per run x chosen reply), of the series in ``keep`` (None: all)."""
    runs, replies = [], []
    for row in results.complete.to_dict("records"):
        if keep is not None and row["series"] not in keep:
            continue
        f = fates_of(row).assign(run=row["run"], series=row["series"], seed=row["seed"])
        f["wan_nbytes"] = f["down_wan_nbytes"] + f["up_wan_nbytes"]
        replies.append(f)
        out = {"run": row["run"], "series": row["series"], "seed": row["seed"], "rounds": int(row["iterations"]),
               "chosen": len(f), "run_wan_bytes": float(row["wan_bytes"])}
        for fate in FATES:
            mine = f[f["fate"] == fate]
            out[fate] = len(mine)
            out[f"{fate}_wan_bytes"] = float(mine["wan_nbytes"].sum())
        out["dropped"] = out["went_down"] + out["late"]
        out["dropped_wan_bytes"] = out["went_down_wan_bytes"] + out["late_wan_bytes"]
        out["dropped_share_pct"] = 100 * out["dropped_wan_bytes"] / out["run_wan_bytes"]
        out["dropped_wan_MB"], out["run_wan_MB"] = out["dropped_wan_bytes"] / 1e6, out["run_wan_bytes"] / 1e6
        averaged = f.loc[f["fate"] == "averaged", "client"]  # who the model learns from: the server's region?
        out["averaged_server_dc_pct"] = 100 * averaged.str.startswith(f"{row['algorithm.server_at']}/").mean()
        runs.append(out)
    return pd.DataFrame(runs), pd.concat(replies, ignore_index=True)


def markdown(hits: pd.DataFrame) -> str:
    out = ("| series | chosen a run | averaged | dropped: went down | dropped: after the round closed "
           "| dropped WAN MB | share of the run's WAN bytes | averaged replies from the server's region |\n"
           "|---|---|---|---|---|---|---|---|\n")
    for series, g in hits.groupby("series", sort=True):
        out += (f"| {series} | {_ms(g['chosen'], '.0f')} | {_ms(g['averaged'], '.1f')} | "
                f"{_ms(g['went_down'], '.1f')} | {_ms(g['late'], '.1f')} | "
                f"{_ms(g['dropped_wan_bytes'] / 1e6, '.2f')} | {_ms(g['dropped_share_pct'], '.1f')} % | "
                f"{_ms(g['averaged_server_dc_pct'], '.0f')} % |\n")
    return out


def figure(replies: pd.DataFrame, out_dir: Path, name: str) -> None:
    """Per series (a column): chosen clients a round by fate, mean over seeds (top); cumulative WAN MB of
    the dropped replies by fate, mean over seeds, beside that of all replies (bottom)."""
    series = sorted(replies["series"].unique())
    fig = new_figure(4.2 * len(series), 6.4)
    panels = fig.subplots(2, len(series), squeeze=False, sharex="col", sharey="row")
    for j, name_ in enumerate(series):
        mine = replies[replies["series"] == name_]
        seeds = mine["seed"].nunique()
        rounds = np.arange(int(mine["round"].max()) + 1)
        counts = (mine.groupby(["round", "fate"]).size().unstack(fill_value=0)
                  .reindex(index=rounds, columns=list(FATES), fill_value=0) / seeds)
        nbytes = (mine.groupby(["round", "fate"])["wan_nbytes"].sum().unstack(fill_value=0)
                  .reindex(index=rounds, columns=list(FATES), fill_value=0).cumsum() / seeds / 1e6)
        top, bottom = panels[0][j], panels[1][j]
        top.stackplot(rounds, *(counts[f] for f in FATES), labels=[FATE_LABELS[f] for f in FATES],
                      colors=[FATE_COLORS[f] for f in FATES], step="mid", alpha=0.85)
        for fate in FATES[1:]:
            bottom.plot(rounds, nbytes[fate], color=FATE_COLORS[fate], label=FATE_LABELS[fate])
        total = nbytes.sum(axis=1).iloc[-1]
        top.set_title(f"{name_} ({seeds} seeds)", fontsize=9)
        bottom.set_title(f"all replies: {total:.1f} MB a run", fontsize=8)
        bottom.set_xlabel("round")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    panels[0][0].set_ylabel("chosen clients a round\n(mean over seeds)")
    panels[1][0].set_ylabel("cumulative WAN MB of dropped replies\n(down + up, mean over seeds)")
    panels[0][0].legend(fontsize=7, loc="lower left")
    panels[1][0].legend(fontsize=7, loc="upper left")
    save(fig, out_dir, name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("RESULTS_DIR", "OUT_DIR", "NAME"):
        p.add_argument(name.lower(), metavar=name)
    p.add_argument("--label", help="comma-separated run columns naming a series, or cell (as study_target.py)")
    p.add_argument("--series", help="comma-separated series to keep (default: all)")
    args = p.parse_args(argv)
    results_dir, out_dir, name = args.results_dir, args.out_dir, args.name
    results = load_results(results_dir)
    if args.label:
        from study_target import relabel  # the sibling script: one way to name series

        relabel(results, args.label.split(","))
    hits, replies = collect(results, args.series.split(",") if args.series else None)
    figure(replies, Path(out_dir), name)
    means = hits.drop(columns=["run", "seed"]).groupby("series", as_index=False).mean()
    means["run"] = means["series"] + " (mean over seeds)"  # the rows the page's prose quotes
    write_study_table(pd.concat([hits, means], ignore_index=True), markdown(hits), Path(out_dir), name)


if __name__ == "__main__":
    main()
