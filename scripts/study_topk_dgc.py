"""The shard's SGD-with-momentum lr tuned on tuning seeds for docs/studies/beyond-the-seed.md part 2c (top-k
under the optimiser Deep Gradient Compression was designed for): the tuning table and the choice.

Usage: python scripts/study_topk_dgc.py RESULTS_ROOT OUT_DIR

Why a script of its own: the comparison of the fresh-seed cells is study_target.py's and study_paired.py's, but
the lr they use must come from the criterion the tuned studies fix before their runs -- analysis/study_stats.py's
``two_round_choice`` (round 2: one value beyond a grid edge) over lr_g = lr_d.  Reads under RESULTS_ROOT
``beyond-the-seed-topk-dgc-tune`` (round 1, required) and ``-tune2`` (round 2, optional); writes under OUT_DIR
``beyond-the-seed-topk-dgc-tuning.csv`` (every complete tuning run, its setting's criterion values, the
choice), ``-tuning-failed.csv`` (runs that diverged: listed, never candidates), the ``-tuning-table.md``, and
the table between its ``begin numbers`` marks in ``beyond-the-seed.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.page_numbers import replace_generated
from analysis.script_args import positional
from analysis.study_stats import complete_runs, never, two_round_choice

NAME = "beyond-the-seed-topk-dgc"
TUNE, TUNE2 = f"{NAME}-tune", f"{NAME}-tune2"
TARGET = {"high_quality_fraction": (0.3, True)}
"""The page's target, fixed before the tuning runs (written in the tuning suite's header)."""
KEY = ["series", "lr"]
"""One setting: the shard optimiser (with its momentum) and lr_g = lr_d."""


def read_suite(root: Path) -> pd.DataFrame:
    """One row per complete run: series (``sgd m=<momentum>`` or ``adam``), lr (lr_g; lr_d must equal it), reach."""
    if not (root / "index.csv").is_file():
        raise SystemExit(f"{root}: no index.csv; run its suite first")
    rows = []
    for row, config, _ in complete_runs(root, TARGET):
        alg, training = config["algorithm"], config["training"]
        if training["lr_d"] != training["lr_g"]:
            raise SystemExit(f"{root / row['run_dir']}: lr_d {training['lr_d']} != lr_g {training['lr_g']}; "
                             "the tuning grid sets them equal")
        optimizer = alg.get("shard_optimizer", "adam")
        series = f"sgd m={float(alg.get('shard_momentum') or 0):g}" if optimizer == "sgd" else optimizer
        rows.append({**row, "series": series, "optimizer": optimizer,
                     "shard_momentum": float(alg.get("shard_momentum") or 0)})
    return pd.DataFrame(rows).sort_values(["series", "lr", "seed"], kind="stable")


def failed_runs(root: Path, stage: str) -> pd.DataFrame:
    """The suite's failed runs (a diverged lr): series, lr, seed, the iteration it stopped at and why -- on the
    table, never a candidate (the criterion ranks complete runs; a setting that diverges is not chosen)."""
    index = pd.read_csv(root / "index.csv")
    rows = []
    for _, r in index[index["status"] == "failed"].iterrows():
        config = yaml.safe_load((root / r["run_dir"] / "config.yaml").read_text())
        alg = config["algorithm"]
        series = (f"sgd m={float(alg.get('shard_momentum') or 0):g}" if alg.get("shard_optimizer") == "sgd"
                  else alg.get("shard_optimizer", "adam"))
        rows.append({"stage": stage, "round": int(stage.split()[-1]), "series": series,
                     "optimizer": alg.get("shard_optimizer", "adam"),
                     "shard_momentum": float(alg.get("shard_momentum") or 0), "lr": float(config["training"]["lr_g"]),
                     "seed": int(config["seed"]), "stopped_at": int(r["iterations"]), "error": str(r["error"])})
    return pd.DataFrame(rows, columns=["stage", "round", "series", "optimizer", "shard_momentum", "lr", "seed",
                                       "stopped_at", "error"])


def tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each tuning run with its setting's criterion values and ``chosen``; round 2's lrs are ranked against
    round 1's choice on round 2's seeds only."""
    round1 = round1.assign(stage="round 1")
    round2 = round1.iloc[:0] if round2 is None else round2.assign(stage="round 2")
    out, _ = two_round_choice(round1, round2, KEY)
    out["round"] = out["stage"].str.split().str[-1].astype(int)
    return out.reset_index(drop=True)


def tuning_markdown(t: pd.DataFrame, failed: pd.DataFrame | None = None) -> str:
    out = ("| tuning round | shard optimiser | momentum | lr_g = lr_d | seed | reached and held | iteration "
           "| score (last four) | final high-quality fraction | final modes | setting: seeds reaching "
           "| setting: median iteration | setting: mean score | chosen |\n|" + "---|" * 14 + "\n")
    for r in t.itertuples():
        out += (f"| {r.round} | {r.optimizer} | {r.shard_momentum:g} | {r.lr:g} | {r.seed} | "
                f"{'yes' if r.reached else 'no'} | "
                f"{never(r.iteration, '.0f')} | {r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} | "
                f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | {never(r.setting_median_iteration, '.0f')} | "
                f"{r.setting_score:.3f} | {'**chosen**' if r.chosen else ''} |\n")
    for r in (failed if failed is not None else pd.DataFrame()).itertuples():
        out += (f"| {r.round} | {r.optimizer} | {r.shard_momentum:g} | {r.lr:g} | {r.seed} | "
                f"diverged at iteration {r.stopped_at} | -- | -- | -- | -- | -- | -- | -- | not a candidate |\n")
    return out


def main(root_arg: str, out_arg: str) -> None:
    root, out = Path(root_arg), Path(out_arg)
    second = (root / TUNE2 / "index.csv").is_file()
    t = tuning(read_suite(root / TUNE), read_suite(root / TUNE2) if second else None)
    stages = [(TUNE, "round 1")] + ([(TUNE2, "round 2")] if second else [])
    failed = pd.concat([failed_runs(root / name, stage) for name, stage in stages], ignore_index=True)
    t.drop(columns=["run_dir"]).to_csv(out / f"{NAME}-tuning.csv", index=False)
    failed.to_csv(out / f"{NAME}-tuning-failed.csv", index=False)
    markdown = tuning_markdown(t, failed)
    (out / f"{NAME}-tuning-table.md").write_text(markdown)
    print(markdown)
    page = out / "beyond-the-seed.md"
    if page.exists():
        replace_generated(page, f"{NAME}-tuning.csv {NAME}-tuning-failed.csv", markdown)


if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir"))
