"""The clients' learning rate of part 1's reference (churn-free FedAvg) tuned on tuning seeds
(docs/studies/beyond-the-seed.md, part 1), then the clients' parameter each comparison still left untuned --
DiLoCo's client lr (1b) and plain FedAvg's local epochs E (part 1): the tuning tables and the choices; or, with
STUDY ``compression-lr``, the lr of part 2's equal-bytes pair (Gaia and the top-k PS).

Usage: python scripts/study_client_lr_tune.py RESULTS_ROOT OUT_DIR [STUDY]

Why a script of its own: part 1 ran every cell at the shared client lr 2e-3, which nobody tuned; issue 25
asks for the lr tuned on tuning seeds by the criterion the tuned studies fix before their runs --
analysis/study_stats.py's ``two_round_choice`` (round 2: one more lr beyond the grid's edge) -- and the
fresh-seed comparison is then study_paired.py's.  Reads under RESULTS_ROOT ``beyond-the-seed-client-lr-tune``
(round 1, required), ``-tune2`` (round 2, optional) and ``beyond-the-seed-diloco-client-lr`` (optional: part 1b's
tuned DiLoCo at a client lr of this grid, laid beside plain averaging's runs at the same lr and seeds), and
``beyond-the-seed-client-tune`` / ``-tune2`` (optional: DiLoCo's client lr and FedAvg's E, each ranked within its
method by the same criterion).  Writes under OUT_DIR ``beyond-the-seed-client-lr-tuning.csv`` (every tuning run,
its lr's criterion values, the choice), ``beyond-the-seed-diloco-client-lr.csv`` and
``beyond-the-seed-client-tuning.csv`` (and ``-coverage.csv``: FedAvg's E re-ranked at issue 25's coverage target,
:data:`COVERAGE`), their ``-table.md`` files, and the page's generated tables between their
``begin numbers`` marks in ``beyond-the-seed.md``.  STUDY ``compression-lr`` (part 2; the default is
``client-lr``) reads ``beyond-the-seed-compression-lr-tune`` / ``-tune2`` instead -- the series is the cell's name
without its ``_lr`` suffix, each cell tuned on its own -- and writes ``beyond-the-seed-compression-lr-tuning.csv``,
its table and its page section: one script, so that the parts' choices cannot differ in how they are made.
STUDY ``compression-lr-cov`` re-tunes that pair on a target a one-mode collapse cannot meet (:data:`FLOOR`, fixed
in ``beyond-the-seed-compression-lr-tune3.yaml``'s header before its runs): every run of ``-tune``, ``-tune2``,
``-tune3`` (required) and ``-tune4`` (optional) ranked as one round over the seeds each lr ran on, written as
``beyond-the-seed-compression-lr-cov-tuning.csv``.
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

NAME = "beyond-the-seed-client-lr"
DILOCO = "beyond-the-seed-diloco-client-lr"
CLIENT = "beyond-the-seed-client"
CLIENT_TUNE, CLIENT_TUNE2 = f"{CLIENT}-tune", f"{CLIENT}-tune2"
TARGET = {"high_quality_fraction": (0.3, True)}
"""The page's target, fixed before the tuning runs (written in the tuning suite's header)."""
FLOOR = {**TARGET, "modes_covered": (4, True)}
"""Part 2's re-tuning target: the page's AND half the 8 modes at the same evaluation, reached and held -- written
after the first criterion chose Gaia's lr on a run collapsed onto one mode (fraction 1.0, 1 mode covered)."""
STUDIES = {"client-lr": ("client lr", "round", TARGET), "compression-lr": ("lr", "iteration", TARGET),
           "compression-lr-cov": ("lr", "iteration", FLOOR)}
"""Per STUDY: the words its lr tuning table uses for the lr and for the time to target, and its target."""
COV_ROUNDS = ("tune", "tune2", "tune3", "tune4")
"""The suites (``beyond-the-seed-compression-lr-`` + these) STUDY ``compression-lr-cov`` ranks as one round."""
COVERAGE = RING8_COVERAGE
"""Issue 25's ring8 coverage target (>= 0.7 and >= 7 of 8 modes, held): plain FedAvg's E tuning re-ranked at it by
the same criterion (part 1; no new runs), beside the choice made at :data:`TARGET`."""
KEY = ["series", "lr"]
"""One setting: the clients' lr (lr_g = lr_d); the criterion's last tie-break is the smaller lr."""
CLIENT_KEYS = {"diloco": ["series", "lr", "E"], "fedavg": ["series", "E", "lr"]}
"""What each method's second tuning varies (the key's second column): DiLoCo its client lr at the tuned outer step,
plain FedAvg its local epochs E at its tuned lr -- whose last tie-break is then the smaller E (stable sort of
sorted groups: the lr is one value), the cheaper setting."""


def _series(row: dict[str, Any], config: dict[str, Any], study: str) -> str:
    """Part 1: the method (DiLoCo is FedAvg with the outer Nesterov step); part 2: the cell's name without its
    ``_lr`` suffix (the top-k PS and the plain PS are both ``ps``)."""
    if study.startswith("compression-lr"):
        return str(row["cell"]).split("_lr", 1)[0]
    return "diloco" if config["algorithm"].get("server_optimizer") == "nesterov" else config["algorithm"]["name"]


def read_suite(root: Path, study: str = "client-lr", target: Mapping[str, tuple[float, bool]] | None = None
               ) -> pd.DataFrame:
    """One row per complete run: series (the method), client lr, seed, reach of ``target`` (the study's where None)
    and the criterion's columns."""
    if not (root / "index.csv").is_file():
        raise SystemExit(f"{root}: no index.csv; run its suite first")
    rows = [{**row, "series": _series(row, config, study), "E": int(config["algorithm"].get("local_epochs", 1))}
            for row, config, _ in complete_runs(root, STUDIES[study][2] if target is None else target)]
    return pd.DataFrame(rows).sort_values(["series", "lr", "seed"], kind="stable")


def tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each tuning run with its lr's criterion values and ``chosen``; round 2's lrs are ranked against round
    1's choice on round 2's seeds only."""
    round1 = round1.assign(stage="round 1")
    round2 = round1.iloc[:0] if round2 is None else round2.assign(stage="round 2")
    out, _ = two_round_choice(round1, round2, KEY)
    return out.reset_index(drop=True)


def one_round(rounds: list[pd.DataFrame]) -> pd.DataFrame:
    """:func:`tuning` with every round's runs (labelled by their round) ranked together, as one round over the
    seeds each setting ran on: STUDY ``compression-lr-cov``'s re-tuning over three tuning seeds."""
    runs = pd.concat([r.assign(stage=f"round {i}") for i, r in enumerate(rounds, 1)], ignore_index=True)
    out, _ = two_round_choice(runs, runs.iloc[:0], KEY)
    return out.reset_index(drop=True)


def client_tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`tuning` per method of the second tuning, each over its own parameter (:data:`CLIENT_KEYS`)."""
    parts = []
    for series, key in CLIENT_KEYS.items():
        one = round1[round1["series"] == series].sort_values([key[1], "seed"], kind="stable").assign(stage="round 1")
        two = (round1.iloc[:0] if round2 is None else round2[round2["series"] == series]).assign(stage="round 2")
        if len(one):
            parts.append(two_round_choice(one, two, key)[0].assign(tuned="client lr" if key[1] == "lr" else "E"))
    return pd.concat(parts, ignore_index=True)


def client_tuning_markdown(t: pd.DataFrame, virtual: bool = False) -> str:
    """The second tuning's table; ``virtual`` adds each run's virtual s to its target (the coverage table's)."""
    out = ("| tuning round | series | tuned | client lr | E | seed | reached and held | round "
           f"{'| virtual s ' if virtual else ''}| score (last four) "
           "| final high-quality fraction | final modes | setting: seeds reaching | setting: median round "
           f"| setting: mean score | chosen |\n|" + "---|" * (15 + virtual) + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.tuned} | {r.lr:g} | {r.E} | {r.seed} | "
                f"{'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | "
                f"{never(r.virtual_time_s, '.2f') + ' | ' if virtual else ''}"
                f"{r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} | "
                f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | {never(r.setting_median_iteration, '.0f')} | "
                f"{r.setting_score:.3f} | {'**chosen**' if r.chosen else ''} |\n")
    return out


def tuning_markdown(t: pd.DataFrame, study: str = "client-lr") -> str:
    lr, when, _ = STUDIES[study]
    out = (f"| tuning round | series | {lr} | seed | reached and held | {when} | score (last four) "
           f"| final high-quality fraction | final modes | lr: seeds reaching | lr: median {when} "
           "| lr: mean score | chosen |\n|" + "---|" * 13 + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.lr:g} | {r.seed} | {'yes' if r.reached else 'no'} | "
                f"{never(r.iteration, '.0f')} | {r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} | "
                f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | {never(r.setting_median_iteration, '.0f')} | "
                f"{r.setting_score:.3f} | {'**chosen**' if r.chosen else ''} |\n")
    return out


def beside(t: pd.DataFrame, diloco: pd.DataFrame) -> pd.DataFrame:
    """DiLoCo's runs beside the tuning runs of plain averaging at the same client lr and seeds."""
    same = t[t["lr"].isin(diloco["lr"]) & t["seed"].isin(diloco["seed"])]
    cols = ["series", "lr", "seed", "reached", "iteration", "score_last4", "final_hqf", "final_modes"]
    return pd.concat([same[cols], diloco[cols]], ignore_index=True).sort_values(["seed", "series"], kind="stable")


def beside_markdown(b: pd.DataFrame) -> str:
    out = ("| seed | series | client lr | reached and held | round | score (last four) | final high-quality fraction "
           "| final modes |\n|" + "---|" * 8 + "\n")
    for r in b.itertuples():
        out += (f"| {r.seed} | {r.series} | {r.lr:g} | {'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | "
                f"{r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} |\n")
    return out


def main(root_arg: str, out_arg: str, study: str | None = None) -> None:
    root, out, study = Path(root_arg), Path(out_arg), study or "client-lr"
    if study not in STUDIES:
        raise SystemExit(f"STUDY {study!r}: not one of {', '.join(STUDIES)}")
    name = NAME if study == "client-lr" else f"beyond-the-seed-{study}"
    tune, tune2 = root / f"{name}-tune", root / f"{name}-tune2"
    if study == "compression-lr-cov":
        suites = [root / f"beyond-the-seed-compression-lr-{s}" for s in COV_ROUNDS]
        t = one_round([read_suite(p, study) for i, p in enumerate(suites) if i < 3 or (p / "index.csv").is_file()])
    else:
        t = tuning(read_suite(tune, study), read_suite(tune2, study) if (tune2 / "index.csv").is_file() else None)
    page = out / "beyond-the-seed.md"
    write_study_table(t.drop(columns=["run_dir"]), tuning_markdown(t, study), out, f"{name}-tuning", page=page,
                      float_format=None)
    if study != "client-lr":
        return
    if (root / DILOCO / "index.csv").is_file():
        b = beside(t, read_suite(root / DILOCO))
        write_study_table(b, beside_markdown(b), out, DILOCO, page=page, float_format=None)
    if (root / CLIENT_TUNE / "index.csv").is_file():
        for suffix, target in (("", TARGET), ("-coverage", COVERAGE)):
            c = client_tuning(read_suite(root / CLIENT_TUNE, target=target),
                              read_suite(root / CLIENT_TUNE2, target=target)
                              if (root / CLIENT_TUNE2 / "index.csv").is_file() else None)
            if suffix:  # the coverage re-ranking is plain FedAvg's E only (part 1's); DiLoCo's stays 1b's
                c = c[c["series"] == "fedavg"]
            write_study_table(c.drop(columns=["run_dir"]), client_tuning_markdown(c, virtual=bool(suffix)), out,
                              f"{CLIENT}-tuning{suffix}", page=page, float_format=None)

if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir", "[study]"))
