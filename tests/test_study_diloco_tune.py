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
           fraction: float = 0.25, epochs: float = 5) -> None:
    """Runs (outer lr or None for plain fedavg, momentum, seed, round at which the quality reaches 0.5, final)."""
    (root / name).mkdir(parents=True)
    index = []
    for lr, momentum, seed, hit, final in runs:
        cell = ("fedavg" if lr is None else f"diloco_lr{lr}_m{momentum}") + f"_E{epochs:g}_seed={seed}"
        (root / name / cell).mkdir()
        alg = {"name": "fedavg", "client_fraction": fraction, "local_epochs": epochs, "batch_size": 50}
        if lr is not None:
            alg |= {"server_optimizer": "nesterov", "server_lr": lr, "server_momentum": momentum}
        config = {"algorithm": alg, "training": {"batch_size": 50, "lr_g": 0.002, "lr_d": 0.002}, "seed": seed,
                  "dataset": {"name": "ring8", "n": 6000}}
        (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
        its = list(range(0, 61, 4))
        hqf = [(final if i == 60 else 0.5) if hit is not None and i >= hit else 0.1 for i in its]
        pd.DataFrame({"iteration": its, "virtual_time_s": [0.3 * i for i in its], "wall_time_s": its,
                      "wan_bytes": [160_000 * i for i in its], "high_quality_fraction": hqf,
                      "modes_covered": [8] * len(its)}).to_csv(root / name / cell / "metrics.csv", index=False)
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
