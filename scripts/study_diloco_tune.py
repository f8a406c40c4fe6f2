"""DiLoCo's outer lr and momentum tuned on tuning seeds (docs/studies/beyond-the-seed.md, part 1b), and two
factors of its cause: the tuning table, the choice, the every-client 2 x 2 and the H (local steps) table.

Usage: python scripts/study_diloco_tune.py RESULTS_ROOT OUT_DIR

Why a script of its own: the fresh-seed comparison is study_paired.py's (two cells, ten seeds), but the
tuning needs the criterion the tuned studies fix before their runs -- analysis/study_stats.py's
``two_round_choice`` (round 2: one more outer lr) over the outer ``server_lr`` x ``server_momentum`` grid -- and the
cause factors (every client every round; H, the local steps a round) are small tables on the tuning seeds that
no generic script lays out.  Reads under RESULTS_ROOT ``beyond-the-seed-diloco-tune`` (round 1, required),
``-tune2`` (round 2, optional), ``beyond-the-seed-diloco-allclients`` and ``beyond-the-seed-diloco-h`` (the
factors, optional).  Writes under OUT_DIR ``beyond-the-seed-diloco-tuning.csv`` (every tuning run, its
setting's criterion values, the choice), ``beyond-the-seed-diloco-factor.csv`` and ``-h.csv`` (each factor's
runs, with the tuning suite's runs of the same settings at 3 of 12 clients and H = 50), their ``-table.md``
files, and the page's generated tables between their ``begin numbers`` marks in ``beyond-the-seed.md``.
The joint tuning at plain FedAvg's tuned E = 20 (``beyond-the-seed-diloco-e20-tune`` / ``-tune2``, optional; the
first tuning is then optional too): DiLoCo's client lr and outer step ranked together by the same criterion at
issue 25's coverage target, plain averaging beside it; it writes ``beyond-the-seed-diloco-e20-tuning.csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.study_stats import RING8_COVERAGE, complete_runs, never, two_round_choice
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec, default_lr
from testbed.methods.fedavg.state import local_steps

NAME = "beyond-the-seed-diloco"
TUNE, TUNE2, FACTOR, FACTOR_H = f"{NAME}-tune", f"{NAME}-tune2", f"{NAME}-allclients", f"{NAME}-h"
E20_TUNE, E20_TUNE2 = f"{NAME}-e20-tune", f"{NAME}-e20-tune2"
TARGET = {"high_quality_fraction": (0.3, True)}
"""The page's target, fixed before the tuning runs (written in the tuning suite's header)."""
COVERAGE = RING8_COVERAGE
"""Issue 25's ring8 target, the E = 20 joint tuning's (fixed in its suite's header before its runs)."""
CLIENTS = 12
"""wan-3dc's clients (4 per region): ``client_fraction`` x 12 are chosen each round."""
KEY = ["series", "lr", "server_momentum"]
"""One setting: ``lr`` is the *outer* lr (server_lr; 1 for plain averaging), so the criterion's last tie-break,
the smaller lr, is the simpler outer step; equal lrs keep the smaller momentum (stable sort of sorted groups)."""


def read_suite(root: Path, target: Mapping[str, tuple[float, bool]] | None = None) -> pd.DataFrame:
    """One row per complete run: series (diloco or fedavg), outer lr and momentum, client fraction, H (a client's
    local steps a round, on its n / 12 iid points), E, reach of ``target`` (default the page's)."""
    if not (root / "index.csv").is_file():
        raise SystemExit(f"{root}: no index.csv; run its suite first")
    rows = []
    for row, config, _ in complete_runs(root, target or TARGET):
        alg = config["algorithm"]
        nesterov = alg.get("server_optimizer") == "nesterov"
        rows.append({**row, "client_lr": row["lr"], "series": "diloco" if nesterov else "fedavg",
                     "lr": float(alg.get("server_lr") or default_lr("nesterov")) if nesterov else 1.0,
                     "server_momentum": float(alg.get("server_momentum") or ServerOptimizerSpec().momentum)
                     if nesterov else 0.0,
                     "client_fraction": float(alg.get("client_fraction", 1.0)), "E": float(alg["local_epochs"]),
                     "local_steps": local_steps(int(config["dataset"]["n"]) // CLIENTS, float(alg["local_epochs"]),
                                                int(alg.get("batch_size") or row["batch"]))})
    return pd.DataFrame(rows).sort_values(["series", "lr", "server_momentum", "seed"], kind="stable")


def tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each tuning run with its setting's criterion values; ``chosen`` marks diloco's setting (fedavg, the
    reference, is a group of its own: one setting, not a candidate).  Round 2's outer lrs are ranked against
    round 1's choice on round 2's seeds only."""
    round1 = round1.assign(stage="round 1")
    round2 = round1.iloc[:0] if round2 is None else round2.assign(stage="round 2")
    out, _ = two_round_choice(round1, round2, KEY)
    out["chosen"] &= out["series"] == "diloco"  # fedavg's one setting is the reference, not a choice
    return out.reset_index(drop=True)


JOINT_KEY = ["series", "lr", "server_lr", "server_momentum"]
"""The joint tuning's setting: ``lr`` is the *client* lr (round 2 varies it), then the outer lr and momentum -- so
the criterion's last tie-breaks are the smaller client lr, then the smaller outer lr, then the smaller momentum."""


def joint_tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`tuning` over client lr x outer step together (rows of :func:`read_suite`, renamed so that ``lr`` is
    the client lr and ``server_lr`` the outer one); plain averaging is the reference, never chosen."""
    def joint(f: pd.DataFrame, stage: str) -> pd.DataFrame:
        f = f.rename(columns={"lr": "server_lr"}).rename(columns={"client_lr": "lr"}).assign(stage=stage)
        return f.sort_values([*JOINT_KEY, "seed"], kind="stable")
    one = joint(round1, "round 1")
    two = one.iloc[:0] if round2 is None else joint(round2, "round 2")
    out, _ = two_round_choice(one, two, JOINT_KEY)
    out["chosen"] &= out["series"] == "diloco"
    return out.reset_index(drop=True)


def joint_markdown(t: pd.DataFrame) -> str:
    out = ("| tuning round | series | client lr | outer lr | outer momentum | E | seed | reached and held | round "
           "| virtual s | score (last four) | final high-quality fraction | final modes | setting: seeds reaching "
           "| setting: median round | setting: mean score | chosen |\n|" + "---|" * 17 + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.lr:g} | {r.server_lr:g} | {r.server_momentum:g} | {r.E:g} | "
                f"{r.seed} | {'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | "
                f"{never(r.virtual_time_s, '.2f')} | {_run_and_setting_cells(r)}")
    return out


def tuning_markdown(t: pd.DataFrame) -> str:
    out = ("| tuning round | series | outer lr | outer momentum | seed | reached and held | round | score (last four) "
           "| final high-quality fraction | final modes | setting: seeds reaching | setting: median round "
           "| setting: mean score | chosen |\n|" + "---|" * 14 + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.lr:g} | {r.server_momentum:g} | {r.seed} | "
                f"{'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | {_run_and_setting_cells(r)}")
    return out


def _run_and_setting_cells(r: Any) -> str:
    """The columns both tuning tables end with: the run's score and finals, its setting's criterion values, the mark."""
    mark = "**chosen**" if r.chosen else "reference" if r.series == "fedavg" else ""
    return (f"{r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} | "
            f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | {never(r.setting_median_iteration, '.0f')} | "
            f"{r.setting_score:.3f} | {mark} |\n")


def _beside(tuned: pd.DataFrame, runs: pd.DataFrame, by: str) -> pd.DataFrame:
    """A factor's ``runs`` beside the tuning runs of the same settings (3 of 12 clients, H = 50), sorted by the
    factor's column ``by``, then seed and series."""
    settings = set(zip(runs["series"], runs["lr"], runs["server_momentum"], strict=True))
    same = tuned[[s in settings for s in zip(tuned["series"], tuned["lr"], tuned["server_momentum"], strict=True)]]
    cols = ["series", "lr", "server_momentum", "client_fraction", "local_steps", "seed", "reached", "iteration",
            "score_last4", "final_hqf", "final_modes", "run_virtual_s", "run_wan_MB"]
    f = pd.concat([same[cols], runs[cols]], ignore_index=True)
    f["clients"] = CLIENTS
    f["clients_a_round"] = (f["client_fraction"] * CLIENTS).round().astype(int)
    f["seeds"] = f.groupby(["series", by])["seed"].transform("nunique")
    return f.sort_values([by, "seed", "series"], kind="stable").reset_index(drop=True)


def factor(tuned: pd.DataFrame, allclients: pd.DataFrame) -> pd.DataFrame:
    """The factor's runs (every client every round) beside the tuning runs of the same settings (3 of 12)."""
    return _beside(tuned, allclients, "client_fraction")


def h_factor(tuned: pd.DataFrame, h_runs: pd.DataFrame) -> pd.DataFrame:
    """The H factor's runs (other local steps a round) beside the tuning runs of the same settings (H = 50)."""
    return _beside(tuned, h_runs, "local_steps")


def _setting(r: Any) -> str:
    """A factor table's setting column: plain averaging, or DiLoCo with its outer lr and momentum."""
    return "fedavg" if r.series == "fedavg" else f"diloco ({r.lr:g}, {r.server_momentum:g})"


RUN_COLUMNS = ("| seed | series (outer lr, momentum) | reached and held | round | score (last four) "
               "| final high-quality fraction | final modes |")
"""The columns every factor table shares, after its factor's own."""


def _run_cells(r: Any) -> str:
    return (f" {r.seed} | {_setting(r)} | {'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | "
            f"{r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} |")


def factor_markdown(f: pd.DataFrame) -> str:
    out = "| clients a round " + RUN_COLUMNS + " run: virtual s | run: WAN MB |\n|" + "---|" * 10 + "\n"
    for r in f.itertuples():
        out += (f"| {r.clients_a_round} of {r.clients} |" + _run_cells(r)
                + f" {r.run_virtual_s:.1f} | {r.run_wan_MB:.1f} |\n")
    return out


def h_markdown(f: pd.DataFrame) -> str:
    out = "| H (local steps a round) " + RUN_COLUMNS + " run: virtual s |\n|" + "---|" * 9 + "\n"
    for r in f.itertuples():
        out += f"| {r.local_steps} |" + _run_cells(r) + f" {r.run_virtual_s:.1f} |\n"
    return out


def main(root_arg: str, out_arg: str) -> None:
    root, out = Path(root_arg), Path(out_arg)
    page = out / "beyond-the-seed.md"
    if (root / E20_TUNE / "index.csv").is_file():
        j = joint_tuning(read_suite(root / E20_TUNE, COVERAGE), read_suite(root / E20_TUNE2, COVERAGE)
                         if (root / E20_TUNE2 / "index.csv").is_file() else None)
        write_study_table(j.drop(columns=["run_dir"]), joint_markdown(j), out, f"{NAME}-e20-tuning", page=page,
                          float_format=None)
        if not (root / TUNE / "index.csv").is_file():
            return
    t = tuning(read_suite(root / TUNE), read_suite(root / TUNE2) if (root / TUNE2 / "index.csv").is_file() else None)
    write_study_table(t.drop(columns=["run_dir"]), tuning_markdown(t), out, f"{NAME}-tuning", page=page,
                      float_format=None)
    if (root / FACTOR / "index.csv").is_file():
        f = factor(t, read_suite(root / FACTOR))
        write_study_table(f, factor_markdown(f), out, f"{NAME}-factor", page=page, float_format=None)
    if (root / FACTOR_H / "index.csv").is_file():
        h = h_factor(t, read_suite(root / FACTOR_H))
        write_study_table(h, h_markdown(h), out, f"{NAME}-h", page=page, float_format=None)


if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir"))
