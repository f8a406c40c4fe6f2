"""The ten-seed beyond-the-seed suites re-use the six-seed suites' runs, so their cells must stay those cells.

Why: `beyond-the-seed-churn10.yaml` and `beyond-the-seed-topk10.yaml` reach ten paired seeds by copying
seeds 0-5 (and `fedavg` seeds 6-9 from the DiLoCo ten-seed suite) and running only the rest with
``--resume``; `beyond-the-seed-diloco-tuned10.yaml` copies its `fedavg` runs from the DiLoCo ten-seed
suite, `beyond-the-seed-diloco-outer10.yaml` every run from those two, `beyond-the-seed-topk-factorial10.yaml` the
factorial's seeds 0-5 and topk10's seeds 0-9, and `beyond-the-seed-topk-dgc.yaml` its `topk1` seeds 0-5 from
the factorial, `beyond-the-seed-client-tune.yaml` three tuning cells' runs,
`beyond-the-seed-diloco-client5e-3-10.yaml` two cells' ten seeds, `beyond-the-seed-diloco-e20-tune.yaml` plain
FedAvg's two E = 20 tuning runs, `beyond-the-seed-diloco-e20-10.yaml` its `fedavg` runs from
`beyond-the-seed-churn10-e20.yaml` (docs/studies/beyond-the-seed.md).
A copied run is valid only while its resolved experiment equals the new suite's cell of the same id; an
edit to one suite and not the other would silently mix two configurations in one paired test.  This
checks every shared cell id, resolved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.suite.spec import load_suite

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"
PAIRS = [("beyond-the-seed-churn10.yaml", "beyond-the-seed-fedavg.yaml", 24),  # (new suite, source, shared ids[, cell])
         ("beyond-the-seed-churn10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-topk10.yaml", "beyond-the-seed-topk-factorial.yaml", 18),
         ("beyond-the-seed-diloco-tuned10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-diloco-outer10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-diloco-outer10.yaml", "beyond-the-seed-diloco-tuned10.yaml", 10),
         ("beyond-the-seed-client-lr-tune.yaml", "beyond-the-seed-diloco-tune.yaml", 2),
         ("beyond-the-seed-client-tune.yaml", "beyond-the-seed-diloco-tune.yaml", 2),
         ("beyond-the-seed-client-tune.yaml", "beyond-the-seed-diloco-client-lr.yaml", 2),
         ("beyond-the-seed-client-tune.yaml", "beyond-the-seed-client-lr-tune.yaml", 2),
         ("beyond-the-seed-diloco-client5e-3-10.yaml", "beyond-the-seed-churn10-tuned.yaml", 10, "fedavg"),
         ("beyond-the-seed-diloco-client5e-3-10.yaml", "beyond-the-seed-diloco-tuned10.yaml", 10, "diloco-tuned"),
         ("beyond-the-seed-diloco-fedavg-lr10.yaml", "beyond-the-seed-churn10-tuned.yaml", 10, "fedavg"),
         ("beyond-the-seed-diloco-fedavg-lr10.yaml", "beyond-the-seed-diloco-tuned10.yaml", 10, "diloco-tuned"),
         ("beyond-the-seed-topk-factorial10.yaml", "beyond-the-seed-topk-factorial.yaml", 48),
         ("beyond-the-seed-topk-factorial10.yaml", "beyond-the-seed-topk10.yaml", 30),
         ("beyond-the-seed-topk-dgc.yaml", "beyond-the-seed-topk-factorial.yaml", 6),
         ("beyond-the-seed-topk-factorial10-lr1e-2.yaml", "beyond-the-seed-topk10-lr1e-2.yaml", 10),
         ("beyond-the-seed-compression-cov10.yaml", "beyond-the-seed-compression-gaia-lr5e-3.yaml", 6),
         ("beyond-the-seed-diloco-e20-tune.yaml", "beyond-the-seed-client-tune2.yaml", 2, "fedavg_lr0.005_E20"),
         ("beyond-the-seed-diloco-e20-10.yaml", "beyond-the-seed-churn10-e20.yaml", 10, "fedavg")]
"""Each new suite's cell ids shared with its source (only ``cell``'s where given: a suite copying one cell from
each of two sources shares the other cell's ids with a different configuration) must resolve equal."""


def _resolved(name: str, only: str | None = None) -> dict[str, dict]:
    resolved = {}
    for cell in load_suite(STUDIES / name).cells:
        if only is not None and cell.id.rsplit("_seed=", 1)[0] != only:
            continue
        config = cell.spec.resolved()
        config.pop("name", None)
        resolved[cell.id] = config
    return resolved


@pytest.mark.parametrize(("ten", "source", "shared", "only"), [(*p, None)[:4] for p in PAIRS])
def test_ten_seed_suite_cells_equal_the_runs_they_copy(ten: str, source: str, shared: int, only: str | None) -> None:
    new, old = _resolved(ten, only), _resolved(source, only)
    common = sorted(set(new) & set(old))
    assert len(common) == shared, common
    for cell_id in common:
        assert new[cell_id] == old[cell_id], cell_id


def test_the_tuned_lr_suite_is_churn10_but_for_the_clients_lr() -> None:
    """beyond-the-seed-churn10-tuned.yaml re-runs part 1 at the tuned client lr: any other difference from
    churn10 would make its paired tests answer another question than the page's."""
    tuned, untuned = _resolved("beyond-the-seed-churn10-tuned.yaml"), _resolved("beyond-the-seed-churn10.yaml")
    assert sorted(tuned) == sorted(untuned) and len(tuned) == 40
    lrs = {(c["training"]["lr_g"], c["training"]["lr_d"]) for c in tuned.values()}
    assert len(lrs) == 1 and next(iter(lrs))[0] == next(iter(lrs))[1] != 0.002
    for cell_id, config in tuned.items():
        config["training"] |= {"lr_g": 0.002, "lr_d": 0.002}
        assert config == untuned[cell_id], cell_id


def test_the_e20_suite_is_churn10_tuned_but_for_e_and_the_deadline() -> None:
    """beyond-the-seed-churn10-e20.yaml re-runs part 1 at plain FedAvg's tuned E = 20 with the deadline moved by
    the compute it adds (0.5 s -> 0.8 s, written in its header before its runs): any other difference from
    churn10-tuned would make its paired tests answer another question; its `fedavg` cell is the E = 20 tuning
    run's setting (beyond-the-seed-client-tune2.yaml) on other seeds."""
    e20, tuned = _resolved("beyond-the-seed-churn10-e20.yaml"), _resolved("beyond-the-seed-churn10-tuned.yaml")
    assert sorted(e20) == sorted(tuned) and len(e20) == 40
    deadlines = 0
    for cell_id, config in e20.items():
        algorithm = dict(config["algorithm"])
        assert algorithm.pop("local_epochs") == 20, cell_id
        old = dict(tuned[cell_id]["algorithm"])
        assert old.pop("local_epochs") == 5
        deadline, old_deadline = algorithm.pop("round_deadline"), old.pop("round_deadline")
        assert (deadline, old_deadline) in ((None, None), ("0.8s", "0.5s")), cell_id
        deadlines += deadline is not None
        assert algorithm == old, cell_id
        rest = {k: v for k, v in config.items() if k != "algorithm"}
        assert rest == {k: v for k, v in tuned[cell_id].items() if k != "algorithm"}, cell_id
    assert deadlines == 20
    tune = _resolved("beyond-the-seed-client-tune2.yaml", "fedavg_lr0.005_E20")["fedavg_lr0.005_E20_seed=1000"]
    assert e20["fedavg_seed=0"] | {"seed": 1000} == tune


def test_the_tuned_part_two_suite_is_the_equal_bytes_pair_but_for_each_cells_lr() -> None:
    """beyond-the-seed-compression-tuned10.yaml runs part 2's equal-bytes pair at the lrs chosen on tuning seeds
    (beyond-the-seed-compression-lr-tune.yaml): each cell must be beyond-the-seed-compression.yaml's cell of
    that name but for lr_g = lr_d, and each tuning cell that lr's run on another seed."""
    tuned = _resolved("beyond-the-seed-compression-tuned10.yaml")
    untuned, tune = _resolved("beyond-the-seed-compression.yaml"), _resolved("beyond-the-seed-compression-lr-tune.yaml")
    assert sorted(tuned) == sorted(f"{c}_seed={s}" for c in ("gaia", "ps-topk-q8") for s in range(10))
    for cell_id, config in tuned.items():
        cell, seed = cell_id.rsplit("_seed=", 1)
        lr = config["training"]["lr_g"]
        assert config["training"]["lr_d"] == lr and lr in (0.0005, 0.001, 0.002, 0.005, 0.01), cell_id
        if int(seed) < 3:  # part 2's seeds 0-2 at the shared lr 2e-3
            assert config | {"training": config["training"] | {"lr_g": 0.002, "lr_d": 0.002}} == untuned[cell_id]
        tune_id = f"{cell}{'' if lr == 0.002 else f'_lr{lr:g}'}_seed=1000"
        if tune_id in tune:
            assert config | {"seed": 1000} == tune[tune_id], cell_id


def test_gaia_at_round_one_lr_is_the_tuned_suites_gaia_but_for_the_lr() -> None:
    """beyond-the-seed-compression-gaia-lr5e-3.yaml pairs by seed with the tuned ten-seed suite's `gaia`."""
    look = _resolved("beyond-the-seed-compression-gaia-lr5e-3.yaml")
    tuned = _resolved("beyond-the-seed-compression-tuned10.yaml")
    assert sorted(look) == [f"gaia-lr0.005_seed={s}" for s in range(6)]
    for cell_id, config in look.items():
        assert config["training"]["lr_g"] == config["training"]["lr_d"] == 0.005
        other = tuned[cell_id.replace("gaia-lr0.005", "gaia")]
        assert config | {"training": config["training"] | {"lr_g": 0.01, "lr_d": 0.01}} == other, cell_id


def test_part_two_tuning_rounds_three_and_four_are_round_one_but_for_lr_and_seed() -> None:
    """beyond-the-seed-compression-lr-tune3.yaml's (and -tune4.yaml's) runs are ranked with rounds 1-2's (one
    criterion over three tuning seeds): each cell must be round 1's cell of that name but for lr_g = lr_d and
    the seed."""
    tune3 = _resolved("beyond-the-seed-compression-lr-tune3.yaml")
    tune = _resolved("beyond-the-seed-compression-lr-tune.yaml")
    expected = [f"{c}_lr{lr}_seed={s}" for c in ("gaia", "ps-topk-q8")
                for lr, seeds in (("0.02", (1000, 1001, 1002)), ("0.005", (1002,)), ("0.01", (1002,))) for s in seeds]
    assert sorted(tune3) == sorted(expected)
    tune4 = _resolved("beyond-the-seed-compression-lr-tune4.yaml")
    assert sorted(tune4) == [f"ps-topk-q8_lr0.05_seed={s}" for s in (1000, 1001, 1002)]
    for cell_id, config in (tune3 | tune4).items():
        cell, seed = cell_id.rsplit("_seed=", 1)
        series, lr = cell.split("_lr", 1)
        assert config["training"]["lr_g"] == config["training"]["lr_d"] == float(lr) and config["seed"] == int(seed)
        base = config | {"seed": 1000, "training": config["training"] | {"lr_g": 0.002, "lr_d": 0.002}}
        assert base == tune[f"{series}_seed=1000"], cell_id


def test_the_retuned_part_two_suite_is_the_tuned_pair_but_for_each_cells_lr() -> None:
    """beyond-the-seed-compression-cov10.yaml runs the pair at the lrs re-tuned on the floor target: each cell must
    be the ten-seed suite's cell of that method on the same seed but for lr_g = lr_d, at its tuning runs' lr."""
    cov = _resolved("beyond-the-seed-compression-cov10.yaml")
    tuned = _resolved("beyond-the-seed-compression-tuned10.yaml")
    tune3 = _resolved("beyond-the-seed-compression-lr-tune3.yaml")
    assert sorted(cov) == sorted(f"{c}_seed={s}" for c in ("gaia-lr0.005", "ps-topk-q8-lr0.02") for s in range(10))
    for cell_id, config in cov.items():
        cell, seed = cell_id.rsplit("_seed=", 1)
        series, lr = cell.split("-lr", 1)
        assert config["training"]["lr_g"] == config["training"]["lr_d"] == float(lr), cell_id
        at_1e_2 = config | {"training": config["training"] | {"lr_g": 0.01, "lr_d": 0.01}}
        assert at_1e_2 == tuned[f"{series}_seed={seed}"], cell_id
        assert config | {"seed": 1002} == tune3[f"{series}_lr{lr}_seed=1002"], cell_id


def test_the_e20_fresh_seeds_are_the_tuned_choice_and_plain_fedavg_at_e20() -> None:
    """beyond-the-seed-diloco-e20-10.yaml: `diloco-e20` is the joint tuning's chosen cell (client lr 2e-3, outer
    1.0 / 0.5, E = 20) on fresh seeds, and `fedavg` -- whose runs are copied from part 1's E = 20 suite
    (beyond-the-seed-churn10-e20.yaml, itself churn10-tuned but for E and the deadline) -- is churn10-tuned's
    `fedavg` but for E = 20, seed for seed; anything else would pair another question."""
    fresh = _resolved("beyond-the-seed-diloco-e20-10.yaml")
    tuned, tune = _resolved("beyond-the-seed-churn10-tuned.yaml"), _resolved("beyond-the-seed-diloco-e20-tune.yaml")
    assert sorted(fresh) == sorted(f"{c}_seed={s}" for c in ("diloco-e20", "fedavg") for s in range(10))
    for seed in range(10):
        config = fresh[f"fedavg_seed={seed}"]
        assert config["algorithm"]["local_epochs"] == 20
        assert config | {"algorithm": config["algorithm"] | {"local_epochs": 5}} == tuned[f"fedavg_seed={seed}"]
        chosen = tune[f"diloco_client2e-3_lr1.0_m0.5_seed={1000 + seed % 2}"]
        assert fresh[f"diloco-e20_seed={seed}"] == chosen | {"seed": seed}
