"""scripts/study_diloco_tune.py on tiny synthetic result folders (no training).

Why: DiLoCo's outer setting for the fresh seeds of docs/studies/beyond-the-seed.md part 1b comes from this
script -- the criterion fixed before the runs (most tuning seeds reaching and holding, then the earliest
median round, then the last-four score, then the simpler setting: smaller outer lr, then smaller momentum),
plain averaging shown as the reference but never chosen, and the every-client factor laid beside the same
settings at 3 of 12 clients.  A slip in any of them would change which DiLoCo the page evaluates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from conftest import load_script


def _suite(root: Path, name: str, runs: list[tuple[float | None, float, int, int | None, float]],
           fraction: float = 0.25, epochs: float = 5, client_lr: float = 0.002, level: float = 0.5,
           modes: int = 8) -> None:
    """Runs (outer lr or None for plain fedavg, momentum, seed, round at which the quality reaches ``level`` with
    ``modes`` modes, final)."""
    (root / name).mkdir(parents=True, exist_ok=True)
    existing = root / name / "index.csv"
    index = pd.read_csv(existing).to_dict("records") if existing.is_file() else []
    for lr, momentum, seed, hit, final in runs:
        cell = (("fedavg" if lr is None else f"diloco_lr{lr}_m{momentum}") + f"_E{epochs:g}"
                + ("" if client_lr == 0.002 else f"_c{client_lr:g}") + f"_seed={seed}")
        (root / name / cell).mkdir()
        alg = {"name": "fedavg", "client_fraction": fraction, "local_epochs": epochs, "batch_size": 50}
        if lr is not None:
            alg |= {"server_optimizer": "nesterov", "server_lr": lr, "server_momentum": momentum}
        config = {"algorithm": alg, "training": {"batch_size": 50, "lr_g": client_lr, "lr_d": client_lr},
                  "seed": seed, "dataset": {"name": "ring8", "n": 6000}}
        (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
        its = list(range(0, 61, 4))
        hqf = [(final if i == 60 else level) if hit is not None and i >= hit else 0.1 for i in its]
        pd.DataFrame({"iteration": its, "virtual_time_s": [0.3 * i for i in its], "wall_time_s": its,
                      "wan_bytes": [160_000 * i for i in its], "high_quality_fraction": hqf,
                      "modes_covered": [modes] * len(its)}).to_csv(root / name / cell / "metrics.csv", index=False)
        index.append({"cell": cell, "run_dir": cell, "status": "complete", "iterations": 60,
                      "virtual_time_s": 18.0, "wall_time_s": 60.0, "wan_bytes": 9_600_000})
    pd.DataFrame(index).to_csv(root / name / "index.csv", index=False)


def _results(root: Path) -> None:
    _suite(root, "beyond-the-seed-diloco-tune", [
        (None, 0.0, 1000, 8, 0.5), (None, 0.0, 1001, 8, 0.5),           # plain averaging: earliest, not a candidate
        (0.3, 0.5, 1000, 28, 0.5), (0.3, 0.5, 1001, 36, 0.5),           # median 32
        (0.3, 0.9, 1000, 24, 0.5), (0.3, 0.9, 1001, 40, 0.5),           # median 32, same score: smaller momentum wins
        (0.7, 0.5, 1000, 28, 0.5), (0.7, 0.5, 1001, 36, 0.5),           # median 32, same score: the smaller lr wins
        (1.0, 0.9, 1000, 4, 0.5), (1.0, 0.9, 1001, None, 0.1)])         # earliest, but one seed never: last
    _suite(root, "beyond-the-seed-diloco-allclients", [
        (None, 0.0, 1000, 12, 0.6), (0.3, 0.5, 1000, 20, 0.7)], fraction=1.0)
    _suite(root, "beyond-the-seed-diloco-tune2", [(0.5, 0.5, 1001, 32, 0.5)])  # earlier than 36 on seed 1001
    _suite(root, "beyond-the-seed-diloco-h", [(None, 0.0, 1000, 16, 0.6), (0.3, 0.5, 1000, 12, 0.7)], epochs=2)
    _suite(root / "h10", "beyond-the-seed-diloco-h", [(0.3, 0.5, 1001, 44, 0.4)], epochs=10)


def test_the_criterion_picks_the_simpler_of_equal_settings_and_never_plain_averaging(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _results(tmp_path)
    t = m.tuning(m.read_suite(tmp_path / "beyond-the-seed-diloco-tune"))
    chosen = t[t["chosen"]]
    assert set(zip(chosen["lr"], chosen["server_momentum"], strict=True)) == {(0.3, 0.5)} and len(chosen) == 2
    assert not t.loc[t["series"] == "fedavg", "chosen"].any()
    last = t[(t["lr"] == 1.0) & (t["series"] == "diloco")].iloc[0]
    assert last["setting_reached"] == 1 and last["setting_seeds"] == 2


def test_round_two_is_ranked_against_the_choice_on_its_own_seeds(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _results(tmp_path)
    t = m.tuning(m.read_suite(tmp_path / "beyond-the-seed-diloco-tune"),
                 m.read_suite(tmp_path / "beyond-the-seed-diloco-tune2"))
    # round 1 chose (0.3, 0.5); on seed 1001 alone it reaches at 36, round 2's lr 0.5 at 32: replaced
    assert set(zip(t.loc[t["chosen"], "lr"], t.loc[t["chosen"], "stage"], strict=True)) == {(0.5, "round 2")}
    assert t.loc[t["stage"] == "round 2", "setting_seeds"].tolist() == [1]


def test_main_writes_the_tuning_and_factor_tables_into_the_page(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _results(tmp_path / "results")
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(tmp_path / "results"), str(out))
    factor = pd.read_csv(out / "beyond-the-seed-diloco-factor.csv")
    assert sorted(factor["client_fraction"]) == [0.25, 0.25, 0.25, 0.25, 1.0, 1.0]  # the two settings at 3 of 12 too
    page = (out / "beyond-the-seed.md").read_text()
    assert "| round 1 | diloco | 0.3 | 0.5 | 1000 | yes | 28 |" in page and "| round 2 | diloco | 0.5 |" in page
    assert "**chosen**" in page
    assert "| 12 of 12 | 1000 | diloco (0.3, 0.5) | yes | 20 |" in page


def test_the_h_table_puts_each_settings_local_steps_beside_its_tuning_runs_at_h_50(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _results(tmp_path / "results")
    h_runs = pd.concat([m.read_suite(tmp_path / "results" / "beyond-the-seed-diloco-h"),
                        m.read_suite(tmp_path / "results" / "h10" / "beyond-the-seed-diloco-h")])
    assert sorted(h_runs["local_steps"]) == [20, 20, 100]  # E x ceil(500 / 50)
    h = m.h_factor(m.tuning(m.read_suite(tmp_path / "results" / "beyond-the-seed-diloco-tune")), h_runs)
    assert h["local_steps"].tolist() == [20, 20, 50, 50, 50, 50, 100]  # both settings' two tuning runs at H = 50
    assert set(zip(h["series"], h["lr"], strict=True)) == {("fedavg", 1.0), ("diloco", 0.3)}
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(tmp_path / "results"), str(out))
    page = (out / "beyond-the-seed.md").read_text()
    assert "| 20 | 1000 | diloco (0.3, 0.5) | yes | 12 |" in page and "| 50 | 1001 | fedavg | yes | 8 |" in page


def _e20(root: Path) -> None:
    """The E = 20 joint tuning: client lr x outer step at the coverage target (0.7 and >= 7 modes, held)."""
    name = "beyond-the-seed-diloco-e20-tune"
    _suite(root, name, [(None, 0.0, 1000, 4, 0.9), (None, 0.0, 1001, 4, 0.9)], epochs=20, client_lr=0.005,
           level=0.8)                                                     # plain averaging: earliest, never chosen
    _suite(root, name, [(1.0, 0.5, 1000, 8, 0.6), (1.0, 0.5, 1001, 8, 0.6)], epochs=20, level=0.6)  # 0.6: never
    _suite(root, name, [(0.7, 0.9, 1000, 4, 0.9), (0.7, 0.9, 1001, 4, 0.9)], epochs=20, level=0.8,
           modes=6)                                                       # 0.8 but 6 modes: never
    _suite(root, name, [(1.0, 0.5, 1000, 12, 0.9), (1.0, 0.5, 1001, 20, 0.9)], epochs=20, client_lr=0.005,
           level=0.8)                                                     # median 16
    _suite(root, name, [(0.7, 0.9, 1000, 16, 0.9), (0.7, 0.9, 1001, 16, 0.9)], epochs=20, client_lr=0.005,
           level=0.8)                                                     # median 16, same score: smaller outer lr


def test_the_joint_tuning_needs_the_coverage_target_and_ties_to_the_smaller_outer_lr(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _e20(tmp_path)
    t = m.joint_tuning(m.read_suite(tmp_path / "beyond-the-seed-diloco-e20-tune", m.COVERAGE))
    chosen = t[t["chosen"]]
    assert set(zip(chosen["lr"], chosen["server_lr"], chosen["server_momentum"], strict=True)) == {(0.005, 0.7, 0.9)}
    assert not t.loc[t["series"] == "fedavg", "chosen"].any()
    at = t.set_index(["series", "lr", "server_lr"])["setting_reached"]
    assert at["diloco", 0.002, 1.0].tolist() == [0, 0] and at["diloco", 0.002, 0.7].tolist() == [0, 0]
    assert at["fedavg", 0.005, 1.0].tolist() == [2, 2]


def test_main_writes_the_joint_table_with_only_the_e20_suites(tmp_path: Path) -> None:
    m = load_script("study_diloco_tune")
    _e20(tmp_path / "results")
    _suite(tmp_path / "results", "beyond-the-seed-diloco-e20-tune2", [(0.7, 0.9, 1000, 8, 0.9)], epochs=20,
           client_lr=0.01, level=0.8)                                     # round 2: earlier than 16 on seed 1000
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(tmp_path / "results"), str(out))
    page = (out / "beyond-the-seed.md").read_text()
    assert "| round 2 | diloco | 0.01 | 0.7 | 0.9 | 20 | 1000 | yes | 8 |" in page
    assert "| round 1 | fedavg | 0.005 | 1 | 0 | 20 | 1000 | yes | 4 |" in page and "reference" in page
    chosen = pd.read_csv(out / "beyond-the-seed-diloco-e20-tuning.csv").query("chosen")
    assert chosen["lr"].tolist() == [0.01] and not (out / "beyond-the-seed-diloco-tuning.csv").exists()
