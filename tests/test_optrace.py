"""The op trace (``ops.parquet``) holds what every node did, as the traffic log and nodes.csv see it.

Why: ``python -m testbed replay`` trusts the trace for the values a run read and checks every replay
against it; a trace that missed a message or a computation would make that check meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_experiment

from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import parse_experiment
from testbed.sim.optrace import OPS_FILE, SESSION, OpTraceError, fingerprint, read_ops


@pytest.mark.parametrize("algorithm", ["ps", "fedavg"])
def test_the_trace_matches_the_traffic_log_and_the_nodes(algorithm: str, tmp_path: Path) -> None:
    exp = tiny_experiment(algorithm, max_iterations=4, eval_every=2)
    run = run_experiment(parse_experiment(exp, "test", Path(".")), tmp_path / "run", progress=False)
    ops = read_ops(run / OPS_FILE, fingerprint((run / "config.yaml").read_text()))
    traffic = pd.read_parquet(run / "traffic.parquet")
    sends = ops[ops["op"] == "send"]
    assert len(sends) == len(traffic)
    assert int(sends["nbytes"].sum()) == int(traffic["payload_nbytes"].sum())
    for (src, dst, kind), stream in sends.groupby(["node", "peer", "kind"], observed=True):
        assert stream["index"].tolist() == list(range(len(stream))), (src, dst, kind)
        assert len(traffic[(traffic.src == src) & (traffic.dst == dst) & (traffic.kind == kind)]) == len(stream)
    received = ops[(ops["op"] == "recv") & (ops["index"] >= 0)]
    sent = set(zip(sends["node"], sends["peer"], sends["kind"], sends["index"], strict=True))
    assert all((src, dst, kind, i) in sent for dst, src, kind, i in
               zip(received["node"], received["peer"], received["kind"], received["index"], strict=True))
    nodes = pd.read_csv(run / "nodes.csv").set_index("node")
    computes = ops[ops["op"] == "compute"].groupby(["node", "kind"], observed=True)["amount"].sum()
    for (node, kind), units in computes.items():
        assert nodes.loc[node, f"tasks_{kind}"] == units
    session = ops[ops["node"] == SESSION]
    summary = json.loads((run / "summary.json").read_text())
    assert (session["op"] == "iteration").sum() == summary["iterations"]
    evaluated = session.loc[session["op"] == "evaluate", "index"].tolist()
    assert evaluated == pd.read_csv(run / "metrics.csv")["iteration"].tolist()
    assert session.loc[session["op"] == "stop", "tag"].tolist() == [summary["stop_reason"]]
    with pytest.raises(OpTraceError, match="another run"):
        read_ops(run / OPS_FILE, fingerprint("something else"))
