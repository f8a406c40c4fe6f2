"""scripts/study_topk_dgc.py on tiny synthetic result folders (no training).

Why: the shard SGD's lr used by every SGD cell of docs/studies/beyond-the-seed.md part 2c comes from this
script -- the criterion fixed before the runs (most tuning seeds reaching and holding, then the earliest
median iteration, then the last-four score, then the smaller lr), round 2 ranked against round 1's choice on
its own seeds.  A slip would change which lr the page evaluates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import load_script


def _suite(root: Path, name: str, runs: list[tuple[float, int, int | None, float]], lr_d: float | None = None) -> None:
    """Runs (lr, seed, iteration at which the quality reaches 0.5, final)."""
    (root / name).mkdir(parents=True)
    index = []
    for lr, seed, hit, final in runs:
        cell = f"sgdm-lr{lr}_seed={seed}"
        (root / name / cell).mkdir()
        config = {"algorithm": {"name": "ps", "shard_optimizer": "sgd", "shard_momentum": 0.9},
                  "training": {"batch_size": 64, "lr_g": lr, "lr_d": lr if lr_d is None else lr_d}, "seed": seed}
        (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
        its = list(range(0, 1501, 100))
        hqf = [(final if i == 1500 else 0.5) if hit is not None and i >= hit else 0.1 for i in its]
        pd.DataFrame({"iteration": its, "virtual_time_s": [0.2 * i for i in its], "wall_time_s": its,
                      "wan_bytes": [157_000 * i for i in its], "high_quality_fraction": hqf,
                      "modes_covered": [8] * len(its)}).to_csv(root / name / cell / "metrics.csv", index=False)
        index.append({"cell": cell, "run_dir": cell, "status": "complete", "iterations": 1500,
                      "virtual_time_s": 331.5, "wall_time_s": 20.0, "wan_bytes": 236_040_128})
    pd.DataFrame(index).to_csv(root / name / "index.csv", index=False)


def _failed(root: Path, name: str, lr: float, seed: int, at: int) -> None:
    """Add a diverged run to a suite folder's index."""
    cell = f"sgdm-lr{lr}_seed={seed}"
    (root / name / cell).mkdir()
    config = {"algorithm": {"name": "ps", "shard_optimizer": "sgd", "shard_momentum": 0.9},
              "training": {"batch_size": 64, "lr_g": lr, "lr_d": lr}, "seed": seed}
    (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
    index = pd.read_csv(root / name / "index.csv")
    row = {"cell": cell, "run_dir": cell, "status": "failed", "iterations": at, "virtual_time_s": 1.0,
           "wall_time_s": 1.0, "wan_bytes": 1, "error": f"diverged at iteration {at}"}
    pd.concat([index, pd.DataFrame([row])]).to_csv(root / name / "index.csv", index=False)


def _results(root: Path) -> None:
    _suite(root, "beyond-the-seed-topk-dgc-tune", [
        (0.01, 1000, None, 0.1), (0.01, 1001, 1400, 0.5),   # one seed of two
        (0.03, 1000, 800, 0.5), (0.03, 1001, 1000, 0.5),    # both, median 900
        (0.1, 1000, 600, 0.5), (0.1, 1001, 1200, 0.5)])     # both, median 900, same score: the smaller lr wins
    _failed(root, "beyond-the-seed-topk-dgc-tune", 1.0, 1000, 53)     # diverged: listed, never chosen
    _suite(root, "beyond-the-seed-topk-dgc-tune2", [(0.003, 1001, 900, 0.5)])  # earlier than 1000 on seed 1001


def test_the_criterion_picks_the_smaller_of_equal_lrs(tmp_path: Path) -> None:
    m = load_script("study_topk_dgc")
    _results(tmp_path)
    t = m.tuning(m.read_suite(tmp_path / "beyond-the-seed-topk-dgc-tune"))
    assert set(t.loc[t["chosen"], "lr"]) == {0.03} and t["chosen"].sum() == 2
    assert set(t["series"]) == {"sgd m=0.9"}


def test_round_two_replaces_the_choice_on_its_seeds_and_main_writes_the_page(tmp_path: Path) -> None:
    m = load_script("study_topk_dgc")
    _results(tmp_path / "results")
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(tmp_path / "results"), str(out))
    t = pd.read_csv(out / "beyond-the-seed-topk-dgc-tuning.csv")
    assert t.loc[t["chosen"], "lr"].tolist() == [0.003] and t.loc[t["chosen"], "stage"].tolist() == ["round 2"]
    page = (out / "beyond-the-seed.md").read_text()
    assert "| 1 | sgd | 0.9 | 0.03 | 1000 | yes | 800 |" in page and "| 2 | sgd | 0.9 | 0.003 |" in page
    assert "| 1 | sgd | 0.9 | 1 | 1000 | diverged at iteration 53 |" in page and 1.0 not in set(t["lr"])


def test_unequal_lrs_are_refused(tmp_path: Path) -> None:
    m = load_script("study_topk_dgc")
    _suite(tmp_path, "beyond-the-seed-topk-dgc-tune", [(0.01, 1000, None, 0.1)], lr_d=0.02)
    with pytest.raises(SystemExit, match="lr_d"):
        m.read_suite(tmp_path / "beyond-the-seed-topk-dgc-tune")
