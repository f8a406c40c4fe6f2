"""The stop is the stop: no method sends after its run stops, and summary.json's totals are the traffic
up to the stop -- equal to the last metrics row, which is taken at the stop.

Why: FedAvg's client loop had no stop check, so a run with a 30 ms round deadline reported 17.6 %
more WAN bytes in summary.json than in its last metrics row at the same stop time.  The engine now
halts at the stop (testbed.sim.engine.Engine.halt); here every method, stopped by its iteration
budget, a virtual-time budget or a byte budget, is checked against its own traffic log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import tiny_experiment, tiny_topology

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.launch import run_experiment
from testbed.experiment.results import summary
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment

TOTALS = ("total_bytes", "wan_bytes", "lan_bytes", "egress_usd")
METHODS = [
    {"name": "local"},
    {"name": "centralized", "server_at": "b"},
    {"name": "ps"},
    {"name": "ps", "consistency": "bounded_delay", "tau": 1},
    {"name": "ps", "consistency": "eventual"},
    {"name": "gaia", "threshold": 0.0},
    {"name": "fedavg", "client_fraction": 0.6},
    {"name": "fedavg", "round_deadline": "30ms"},
    {"name": "mdgan", "swap_every_epochs": 0.2},
    {"name": "sqm", "server_at": "c"},
]


def _run(algorithm: dict[str, Any], **overrides: Any) -> Run:
    topology = tiny_topology((2, 1, 2), latency="15ms")
    topology["datacenters"]["c"] = {"workers": [{}, {"speed": 0.2}]}  # a straggler: work in flight at the stop
    spec = tiny_experiment(algorithm, topology=topology, eval_every=4, **overrides)
    spec["compute"]["default"] = "3ms"
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def assert_stops_at_the_stop(run: Run) -> None:
    """Nothing sent after the stop; the summary's totals are the last metrics row's, taken at the stop."""
    stop_s = run.virtual_time_s
    frame = run.engine.accountant.frame()
    assert (frame.t_send_s <= stop_s).all() and run.engine.now_s == stop_s
    assert not (frame.t_arrive_s > stop_s).any()  # nothing delivered after it either
    last, totals = run.metrics[-1], summary(run)
    assert last["iteration"] == run.iteration and last["virtual_time_s"] == stop_s
    assert {k: last[k] for k in TOTALS} == {k: totals[k] for k in TOTALS}
    assert totals["total_bytes"] == frame.nbytes.sum() and totals["messages"] == len(frame)


@pytest.mark.parametrize("algorithm", METHODS, ids=lambda a: "-".join(map(str, a.values())))
def test_no_method_sends_after_the_stop(algorithm: dict[str, Any]) -> None:
    run = _run(algorithm, max_iterations=6)
    assert run.stop_reason == "max_iterations" and run.iteration == 6
    assert_stops_at_the_stop(run)


@pytest.mark.parametrize("budget", [{"max_virtual_time": "0.1s"}, {"max_bytes": "300KB"}], ids=["time", "bytes"])
def test_time_and_byte_budgets_stop_there_too(budget: dict[str, str]) -> None:
    run = _run({"name": "fedavg", "round_deadline": "30ms"}, max_iterations=None, **budget)
    assert run.stop_reason == next(iter(budget)) and run.iteration > 0
    assert_stops_at_the_stop(run)


def test_a_fedavg_deadline_runs_summary_equals_its_last_metrics_row_on_disk(tmp_path: Path) -> None:
    """The issue's case, through the files a researcher reads."""
    topology = tiny_topology((2, 1, 2), latency="15ms")
    topology["datacenters"]["c"] = {"workers": [{}, {"speed": 0.2}]}
    spec = load_experiment(tiny_experiment({"name": "fedavg", "round_deadline": "30ms"}, topology=topology,
                                           max_iterations=6, eval_every=2))
    out = run_experiment(spec, tmp_path / "run", executor=InProcessExecutor(), progress=False)
    written = json.loads((out / "summary.json").read_text())
    last = pd.read_csv(out / "metrics.csv").iloc[-1]
    assert written["virtual_time_s"] == pytest.approx(last["virtual_time_s"], rel=1e-12)
    for key in TOTALS:
        assert written[key] == pytest.approx(last[key], rel=1e-12), key
    assert pd.read_parquet(out / "traffic.parquet").t_send_s.max() <= written["virtual_time_s"]
