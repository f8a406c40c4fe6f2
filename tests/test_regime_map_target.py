"""scripts/regime_map_target.py: the map re-derived at other targets, beside the page's answer.

Why: the page claims its answer survives a change of target; a slip here (the target left changed after the
re-run, a verdict change not counted, a point paired with another) would make that claim wrong silently.
A stand-in analysis whose winners depend on the target, no training.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from conftest import load_script


def _analysis(hqf: float) -> SimpleNamespace:
    point = {"bandwidth_Mbps": 10, "rtt_ms": 10, "step_ms": 1}
    verdict = "centralized" if hqf < 0.75 else "tie"  # a high bar: centralized no longer separated
    win = pd.DataFrame([{"map": "all", **point, "fastest": "centralized", "winner": verdict, "margin": 2.0,
                         "p_value": 0.002 if verdict != "tie" else 0.3},
                        {"map": "in-place", **point, "fastest": "sqm", "winner": "sqm", "margin": 1.5,
                         "p_value": 0.002}])
    runs = pd.DataFrame([{"method": "centralized", "seed": s, "reached": hqf < 0.75 or s < 7} for s in range(10)])
    settings = pd.DataFrame([{"family": "centralized", "map_lr": 0.005, "is_tuned": hqf < 0.75}])
    return SimpleNamespace(win=win, runs=runs, settings=settings)


def test_target_sensitivity_rederives_at_each_target_and_restores_it() -> None:
    import sys

    m = load_script("regime_map_target")
    runs = sys.modules["regime_map_runs"]  # the instance regime_map_target reads TARGET from
    seen = []

    def analyse(root: Path) -> SimpleNamespace:
        seen.append(runs.TARGET["high_quality_fraction"][0])
        return _analysis(seen[-1])

    before = dict(runs.TARGET)
    moved, reach = m.target_sensitivity(analyse, Path("."), _analysis(0.7), (0.6, 0.8))
    assert seen == [0.6, 0.8] and runs.TARGET == before  # each target in turn, then the page's again
    assert list(moved.loc[moved["changed"], "target_hqf"]) == [0.8]  # only the all-map verdict at 0.8
    summary = m.target_summary(moved).set_index(["target_hqf", "map"])
    assert summary.loc[(0.8, "all"), ["points", "same", "changed", "ties"]].tolist() == [1, 0, 1, 1]
    assert summary.loc[(0.6, "in-place"), ["same", "changed", "separated"]].tolist() == [1, 0, 1]
    got = reach.set_index("target_hqf")[["reached", "seeds", "is_tuned"]]
    assert got.loc[0.8].tolist() == [7, 10, False] and got.loc[0.7].tolist() == [10, 10, True]
    table = m.target_section(moved, reach)
    assert "| 0.8 | all | 1 | 0 | 1 | 0 | 1 |" in table and "7/10 (lr 0.005, not the lr tuned there)" in table
