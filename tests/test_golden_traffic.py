"""Golden traffic: each method's exact message log on a small topology, hashed.

Why: restructuring the methods (issue "Each method in its own package ...") must keep behaviour
identical.  Every method whose traffic does not depend on values (all but Gaia, whose significance
filter reads the weights) runs on a 3-datacenter topology with fixed compute costs; its traffic log
-- kind, source, destination, bytes, send and arrival times -- and every node's compute /
communication / waiting seconds and task counts are hashed and compared with the
recorded hash.  A behaviour change that is *meant* shows up here and is re-recorded deliberately:
``TESTBED_RECORD_GOLDEN=1 python -m pytest tests/test_golden_traffic.py`` rewrites the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import tiny_experiment, tiny_topology

from testbed.exec.executor import Executor, InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment

GOLDEN = Path(__file__).with_name("golden_traffic.json")
CASES = {
    "local": "local",
    "centralized": {"name": "centralized", "server_at": "b"},
    "ps-bsp-2shards": {"name": "ps", "servers": 2, "server_at": ["a", "c"]},
    "ps-ssp": {"name": "ps", "consistency": "bounded_delay", "tau": 1},
    "ps-async": {"name": "ps", "consistency": "eventual"},
    "fedavg": {"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1},
    "mdgan": {"name": "mdgan", "server_at": "a", "swap_every_epochs": 1},
    "sqm": {"name": "sqm", "server_at": "c"},
    "fedsgd": {"name": "fedsgd", "client_fraction": 0.5},
    "fedbuff": {"name": "fedbuff", "concurrency": 3, "buffer": 2},
    "hierfavg": {"name": "hierfavg", "edge_every": 2, "cloud_every": 2, "server_at": "b"},
}


def traffic_hash(case: dict | str, executor: Executor | None = None) -> str:
    """The hash of ``case``'s run (on ``executor``, default an eager :class:`InProcessExecutor`)."""
    spec = tiny_experiment(case, max_iterations=5, topology=tiny_topology((2, 1, 2), latency="15ms"),
                           compute={"model": "fixed", "default": "3ms", "costs": {"train_step": "10ms"}})
    run = Run(load_experiment(spec), executor or InProcessExecutor(), progress=False)
    run.execute()
    frame = run.engine.accountant.frame()
    rows = [(r.kind, r.src, r.dst, int(r.nbytes), f"{r.t_send_s:.9f}", f"{r.t_arrive_s:.9f}")
            for r in frame.itertuples(index=False)]
    nodes = [(node, f"{st.compute_s:.9f}", f"{st.communication_s:.9f}", f"{st.waiting_s:.9f}", sorted(st.tasks.items()))
             for node, st in sorted(run.engine.stats.items())]
    return hashlib.sha256(json.dumps([rows, nodes, run.iteration, f"{run.virtual_time_s:.9f}"]).encode()).hexdigest()


def test_golden_traffic_logs() -> None:
    hashes = {name: traffic_hash(case) for name, case in CASES.items()}
    if os.environ.get("TESTBED_RECORD_GOLDEN"):
        GOLDEN.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
        pytest.skip("re-recorded the golden traffic hashes")
    assert hashes == json.loads(GOLDEN.read_text())
