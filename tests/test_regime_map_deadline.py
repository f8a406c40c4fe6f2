"""scripts/regime_map_deadline.py: the regime map's FedAvg-with-deadline check reads its runs honestly.

Why: the page says "a 1 s deadline changed nothing, a 60 ms one averaged only the server region"; the
first claim must fail when any metrics value or traffic row differs, and the second must come from the
server's own record of whom it averaged.  Tiny synthetic runs on disk, no training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from conftest import load_script


def _module():
    return load_script("regime_map_deadline")


def _run(suite: Path, cell: str, deadline: str | None, hqf: list[float], traffic_nbytes: int,
         averaged: list[list]) -> dict:
    run = suite / cell
    run.mkdir(parents=True)
    alg = {"name": "fedavg", **({"round_deadline": deadline} if deadline else {})}
    (run / "config.yaml").write_text(yaml.safe_dump({"algorithm": alg, "seed": 0}))
    pd.DataFrame({"iteration": [12, 24], "virtual_time_s": [1.0, 2.0], "wan_bytes": [1e6, 2e6],
                  "high_quality_fraction": hqf, "modes_covered": [3, 3], "wall_time_s": [5.0, 9.9]}
                 ).to_csv(run / "metrics.csv", index=False)
    pd.DataFrame({"run_id": [cell], "src": ["dc-a/w0"], "dst": ["dc-b/w0"], "nbytes": [traffic_nbytes]}
                 ).to_csv(run / "traffic.csv", index=False)
    (run / "summary.json").write_text(json.dumps({"method_results": {
        "replies_averaged": len(averaged), "replies_dropped": 0, "averaged": averaged}}))
    return {"cell": cell, "run_dir": cell, "status": "complete", "iterations": 24, "virtual_time_s": 2.0,
            "wan_bytes": 2e6}


def test_equal_runs_are_equal_and_a_changed_value_is_not(tmp_path: Path) -> None:
    m = _module()
    suite = tmp_path / m.SUITE
    all3 = [[0, "dc-a/w0"], [0, "dc-b/w0"], [0, "dc-c/w0"]]
    rows = [_run(suite, "none", None, [0.1, 0.2], 100, all3),
            _run(suite, "same", "1s", [0.1, 0.2], 100, all3),               # wall clock differs only
            _run(suite, "moved", "2s", [0.1, 0.2000001], 100, all3),        # one metric value differs
            _run(suite, "bytes", "3s", [0.1, 0.2], 101, all3),              # one traffic row differs
            _run(suite, "local", "60ms", [0.3, 0.4], 50, [[0, "dc-a/w0"], [1, "dc-a/w0"]])]
    pd.DataFrame(rows).to_csv(suite / "index.csv", index=False)
    df = m.deadline_runs(tmp_path).set_index("cell")
    assert df.loc["same", "equals_no_deadline"] is True
    assert df.loc["moved", "equals_no_deadline"] is False and df.loc["bytes", "equals_no_deadline"] is False
    assert df.loc["none", "equals_no_deadline"] is None
    assert df.loc["local", "clients_averaged"] == "dc-a/w0" and df.loc["local", "replies_averaged"] == 2
    assert "| 0 | 60ms | 24 | 2 / 0 | dc-a/w0 | no |" in m.deadline_section(df.reset_index())
