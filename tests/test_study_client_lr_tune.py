"""scripts/study_client_lr_tune.py on tiny synthetic result folders (no training).

Why: the client lr at which docs/studies/beyond-the-seed.md part 1 is (or is not) re-run comes from this
script -- the criterion fixed before the runs (most tuning seeds reaching and holding, then the earliest median
round, then the last-four score, then the smaller lr) and round 2's edge value ranked against round 1's choice
on its own seeds.  A slip would re-run (or not) forty runs at the wrong lr.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from conftest import load_script


def _suite(root: Path, name: str, runs: list[tuple[float, int, int | None]], outer: bool = False,
           epochs: int | None = None, method: str | None = None, modes: int = 8, quality: float = 0.5) -> None:
    """Runs (client lr, seed, round at which the quality reaches ``quality`` and holds, or None: never), at ``epochs``
    local epochs (the config's default where None); ``method`` (part 2's cells) names the cells and, up to its
    first ``-``, the algorithm; ``modes``: the modes covered at every evaluation (1: a one-mode collapse)."""
    (root / name).mkdir(parents=True, exist_ok=True)
    index = []
    for lr, seed, hit in runs:
        cell = f"{method or ('diloco' if outer else 'fedavg')}_lr{lr}_E{epochs}_seed={seed}"
        (root / name / cell).mkdir()
        alg = ({"name": (method or "fedavg").split("-")[0]}
               | ({"server_optimizer": "nesterov", "server_lr": 1.0} if outer else {})
               | ({"local_epochs": epochs} if epochs else {}))
        config = {"algorithm": alg, "training": {"batch_size": 50, "lr_g": lr, "lr_d": lr},
                  "seed": seed}
        (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
        its = list(range(0, 61, 4))
        pd.DataFrame({"iteration": its, "virtual_time_s": [0.3 * i for i in its], "wall_time_s": its,
                      "wan_bytes": [160_000 * i for i in its],
                      "high_quality_fraction": [quality if hit is not None and i >= hit else 0.1 for i in its],
                      "modes_covered": [modes] * len(its)}).to_csv(root / name / cell / "metrics.csv", index=False)
        index.append({"cell": cell, "run_dir": cell, "status": "complete", "iterations": 60,
                      "virtual_time_s": 18.0, "wall_time_s": 60.0, "wan_bytes": 9_600_000})
    previous = pd.read_csv(root / name / "index.csv") if (root / name / "index.csv").is_file() else None
    pd.concat([previous, pd.DataFrame(index)]).to_csv(root / name / "index.csv", index=False)


def _round1(root: Path) -> None:
    _suite(root, "beyond-the-seed-client-lr-tune", [
        (0.001, 1000, 28), (0.001, 1001, 36),      # median 32
        (0.002, 1000, 40), (0.002, 1001, 24),      # median 32, same score: the smaller lr (1e-3) wins
        (0.005, 1000, 4), (0.005, 1001, None)])    # earliest, but one seed never: last


def test_the_criterion_prefers_seeds_reaching_then_the_smaller_of_equal_lrs(tmp_path: Path) -> None:
    m = load_script("study_client_lr_tune")
    _round1(tmp_path)
    t = m.tuning(m.read_suite(tmp_path / "beyond-the-seed-client-lr-tune"))
    assert set(t.loc[t["chosen"], "lr"]) == {0.001} and t["chosen"].sum() == 2
    last = t[t["lr"] == 0.005].iloc[0]
    assert last["setting_reached"] == 1 and last["setting_median_iteration"] == float("inf")


def test_round_two_replaces_the_choice_only_if_it_ranks_first_and_main_writes_the_page(tmp_path: Path) -> None:
    m = load_script("study_client_lr_tune")
    _round1(tmp_path / "results")
    _suite(tmp_path / "results", "beyond-the-seed-client-lr-tune2", [(0.0005, 1000, 36), (0.0005, 1001, 40)])
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(tmp_path / "results"), str(out))
    t = pd.read_csv(out / "beyond-the-seed-client-lr-tuning.csv")
    assert set(t.loc[t["chosen"], "lr"]) == {0.001}  # 5e-4's median 38 is later than 1e-3's 32: kept
    page = (out / "beyond-the-seed.md").read_text()
    assert "| round 1 | fedavg | 0.001 | 1000 | yes | 28 |" in page and "| round 2 | fedavg | 0.0005 |" in page
    assert page.count("**chosen**") == 2


def test_diloco_at_a_grid_lr_is_laid_beside_plain_averaging_at_that_lr_and_never_chosen(tmp_path: Path) -> None:
    m = load_script("study_client_lr_tune")
    _round1(tmp_path / "results")
    _suite(tmp_path / "results", "beyond-the-seed-diloco-client-lr", [(0.005, 1000, 12), (0.005, 1001, 8)], outer=True)
    out = tmp_path / "docs"
    out.mkdir()
    m.main(str(tmp_path / "results"), str(out))
    b = pd.read_csv(out / "beyond-the-seed-diloco-client-lr.csv")
    assert list(zip(b["seed"], b["series"], b["lr"], strict=True)) == [
        (1000, "diloco", 0.005), (1000, "fedavg", 0.005), (1001, "diloco", 0.005), (1001, "fedavg", 0.005)]
    t = pd.read_csv(out / "beyond-the-seed-client-lr-tuning.csv")
    assert set(t["series"]) == {"fedavg"}  # the tuning table holds only the tuned method's runs


def test_the_second_tuning_ranks_diloco_by_client_lr_and_fedavg_by_the_smaller_of_equal_es(tmp_path: Path) -> None:
    m = load_script("study_client_lr_tune")
    root, out = tmp_path / "results", tmp_path / "docs"
    _round1(root)
    suite = "beyond-the-seed-client-tune"
    _suite(root, suite, [(0.002, 1000, 16), (0.002, 1001, 24),    # median 20
                         (0.005, 1000, 24), (0.005, 1001, 20),    # median 22: later
                         (0.01, 1000, 24), (0.01, 1001, 16)], outer=True, epochs=5)  # median 20: the larger lr
    _suite(root, suite, [(0.005, 1000, None), (0.005, 1001, None)], epochs=2)
    _suite(root, suite, [(0.005, 1000, 20), (0.005, 1001, 16)], epochs=5)
    _suite(root, suite, [(0.005, 1000, 16), (0.005, 1001, 20)], epochs=10)  # same median as E = 5: the larger E
    _suite(root, "beyond-the-seed-client-tune2", [(0.001, 1000, 12), (0.001, 1001, 16)], outer=True, epochs=5)
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(root), str(out))
    t = pd.read_csv(out / "beyond-the-seed-client-tuning.csv")
    chosen = t[t["chosen"]]
    assert sorted(zip(chosen["series"], chosen["lr"], chosen["E"], strict=True)) == [
        ("diloco", 0.001, 5), ("diloco", 0.001, 5), ("fedavg", 0.005, 5), ("fedavg", 0.005, 5)]
    assert dict(zip(t["series"], t["tuned"], strict=True)) == {"diloco": "client lr", "fedavg": "E"}
    page = (out / "beyond-the-seed.md").read_text()
    assert "| round 2 | diloco | client lr | 0.001 | 5 | 1000 | yes | 12 |" in page
    assert page.count("**chosen**") == 4 + 2 + 2  # part 1's lr tuning's two runs, these four, the coverage table's two


def test_part_two_tunes_each_cell_of_its_pair_on_its_own_and_names_its_files(tmp_path: Path) -> None:
    """Part 2 (STUDY compression-lr): the series is the cell's name (the top-k PS is not the plain `ps`), each
    chosen on its own; the files and the page's marks carry the study's name; part 1's tables are not written."""
    m = load_script("study_client_lr_tune")
    root, name = tmp_path / "results", "beyond-the-seed-compression-lr-tune"
    _suite(root, name, [(0.001, 1000, 28), (0.001, 1001, 36), (0.005, 1000, 8), (0.005, 1001, 12)], method="gaia")
    _suite(root, name, [(0.001, 1000, None), (0.001, 1001, 40), (0.005, 1000, None), (0.005, 1001, None)],
           method="ps-topk-q8")
    _suite(root, "beyond-the-seed-diloco-client-lr", [(0.005, 1000, 12)], outer=True)  # part 1's: not read
    out = tmp_path / "docs"
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(root), str(out), "compression-lr")
    t = pd.read_csv(out / "beyond-the-seed-compression-lr-tuning.csv")
    assert set(t["series"]) == {"gaia", "ps-topk-q8"}
    assert set(zip(t.loc[t["chosen"], "series"], t.loc[t["chosen"], "lr"], strict=True)) == {
        ("gaia", 0.005), ("ps-topk-q8", 0.001)}
    page = (out / "beyond-the-seed.md").read_text()
    assert "<!-- begin numbers: beyond-the-seed-compression-lr-tuning.csv -->" in page
    assert "| tuning round | series | lr | seed | reached and held | iteration |" in page
    assert not (out / "beyond-the-seed-diloco-client-lr.csv").exists()


def test_part_two_retuning_ranks_three_rounds_as_one_and_a_collapsed_run_does_not_reach(tmp_path: Path) -> None:
    """STUDY compression-lr-cov: the target needs 4 modes too, so a run that reaches the quality by collapsing onto
    one mode does not count; every round's runs are ranked together over the seeds each lr ran on -- where
    compression-lr, reading the same first two rounds, keeps the lr that won on the collapsed run."""
    m = load_script("study_client_lr_tune")
    root, out, name = tmp_path / "results", tmp_path / "docs", "beyond-the-seed-compression-lr"
    _suite(root, f"{name}-tune", [(0.005, 1000, 12), (0.005, 1001, 12)], method="gaia")
    _suite(root, f"{name}-tune2", [(0.01, 1000, 8)], method="gaia")
    _suite(root, f"{name}-tune2", [(0.01, 1001, 4)], method="gaia", modes=1)  # collapsed: fraction, not modes
    _suite(root, f"{name}-tune3", [(0.005, 1002, 16), (0.01, 1002, 8), (0.02, 1000, None), (0.02, 1001, None),
                                   (0.02, 1002, None)], method="gaia")
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(root), str(out), "compression-lr")
    old = pd.read_csv(out / "beyond-the-seed-compression-lr-tuning.csv")
    assert set(old.loc[old["chosen"], "lr"]) == {0.01}  # median 6 before 12: the collapse wins
    m.main(str(root), str(out), "compression-lr-cov")
    t = pd.read_csv(out / "beyond-the-seed-compression-lr-cov-tuning.csv")
    assert set(t.loc[t["chosen"], "lr"]) == {0.005} and t["chosen"].sum() == 3  # 3 of 3 against 2 of 3
    collapsed = t[(t["lr"] == 0.01) & (t["seed"] == 1001)].iloc[0]
    assert not collapsed["reached"] and collapsed["stage"] == "round 2" and collapsed["setting_reached"] == 2
    page = (out / "beyond-the-seed.md").read_text()
    assert "<!-- begin numbers: beyond-the-seed-compression-lr-cov-tuning.csv -->" in page
    assert "| round 3 | gaia | 0.005 | 1002 | yes | 16 |" in page and "| 2 of 3 |" in page and "| 0 of 3 |" in page


def test_the_coverage_table_re_ranks_fedavgs_e_at_issue_25s_target_only(tmp_path: Path) -> None:
    """The E tuning re-ranked at 0.7 and 7 modes: a setting that meets only the page's 0.3 never reaches it, so
    the choice can differ from the 0.3 table's; DiLoCo's runs stay out of it (1b's)."""
    m = load_script("study_client_lr_tune")
    root, out = tmp_path / "results", tmp_path / "docs"
    _round1(root)
    suite = "beyond-the-seed-client-tune"
    _suite(root, suite, [(0.002, 1000, 16), (0.002, 1001, 24)], outer=True, epochs=5, quality=0.9)
    _suite(root, suite, [(0.005, 1000, 8), (0.005, 1001, 12)], epochs=5)                 # 0.5: first at 0.3 only
    _suite(root, suite, [(0.005, 1000, 20), (0.005, 1001, 24)], epochs=10, quality=0.9)  # later, but covers
    out.mkdir()
    (out / "beyond-the-seed.md").write_text("# page\n")
    m.main(str(root), str(out))
    t, c = (pd.read_csv(out / f"beyond-the-seed-client-tuning{s}.csv") for s in ("", "-coverage"))
    assert set(t.loc[t["chosen"] & (t["series"] == "fedavg"), "E"]) == {5}
    assert set(c["series"]) == {"fedavg"} and set(c.loc[c["chosen"], "E"]) == {10}
    assert list(c.loc[c["E"] == 5, "reached"]) == [False, False]
    page = (out / "beyond-the-seed.md").read_text()
    assert "<!-- begin numbers: beyond-the-seed-client-tuning-coverage.csv -->" in page
    assert "| round 1 | fedavg | E | 0.005 | 10 | 1000 | yes | 20 | 6.00 |" in page
