"""scripts/study_target.py's ``--label cell``: a run's suite cell is its name less the seed suffix."""

from __future__ import annotations

from conftest import load_script


def _module():
    return load_script("study_target")


def test_cell_name_strips_only_the_trailing_seed() -> None:
    cell_name = _module().cell_name
    assert cell_name("churn-deadline-os_seed=2") == "churn-deadline-os"
    assert cell_name("wan-3dc_gaia_seed=10") == "wan-3dc_gaia"
    assert cell_name("fedavg") == "fedavg"                      # no repeat: the run is the cell
    assert cell_name("seed=3_ps") == "seed=3_ps"                # a seed axis elsewhere stays


def test_relabel_by_cell_names_every_seed_of_a_cell_alike() -> None:
    import types

    import pandas as pd

    runs = pd.DataFrame({"run": ["ps_seed=0", "ps_seed=1", "gaia_seed=0"]})
    metrics = pd.DataFrame({"run": ["ps_seed=1", "gaia_seed=0", "ps_seed=0"], "iteration": [0, 0, 100]})
    results = types.SimpleNamespace(runs=runs, metrics=metrics)
    _module().relabel(results, ["cell"])
    assert list(results.runs["series"]) == ["ps", "ps", "gaia"]
    assert list(results.metrics["series"]) == ["ps", "gaia", "ps"]
