"""Availability traces: a plain CSV of down intervals, FedScale's pickle converted into one, mapped onto workers.

Why: churn taken from a real population must mean exactly what the file says -- each worker down on
its client's intervals, the client-to-worker mapping seeded and stable, nothing else changed -- and a
broken file is one line naming it.  The FedScale file is synthetic, written here in FedScale's shape
(nothing is downloaded).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from bad_inputs_common import _check_one_line, _dump
from conftest import tiny_topology

from testbed.cli import main
from testbed.core.errors import ConfigError
from testbed.sim.node_clock import NodeClock
from testbed.topology.availability_trace import client_assignment, load_trace
from testbed.topology.fedscale_trace import down_intervals, read_fedscale
from testbed.topology.schema import load_topology

FEDSCALE = {  # FedScale's client_behave_trace shape: online in [active[i], inactive[i]], period finish_time
    1208: {"duration": 40, "active": [10.0, 50.0], "inactive": [30.0, 90.0], "finish_time": 100, "model": "x"},
    7: {"duration": 60, "active": [0], "inactive": [60], "finish_time": 100, "model": "y"},
}


def _trace(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fedscale_pickle_becomes_down_intervals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "client_behave_trace"
    source.write_bytes(pickle.dumps(FEDSCALE))
    out = tmp_path / "fleet.csv"
    assert main(["data", "import-trace", "--fedscale", str(source), "--out", str(out), "--horizon", "250s"]) == 0
    assert "2 clients, 8 down intervals" in capsys.readouterr().out
    trace = load_trace(out, "t", "trace")
    # clients numbered in id order: 7 -> 0, 1208 -> 1; each period's gaps, touching ones merged across periods
    assert trace.down_intervals(0) == [(60.0, 100.0), (160.0, 200.0)]
    assert trace.down_intervals(1) == [(0.0, 10.0), (30.0, 50.0), (90.0, 110.0), (130.0, 150.0), (190.0, 210.0),
                                       (230.0, 250.0)]
    default = down_intervals(FEDSCALE, "t")  # one period by default
    assert default[1].tolist() == [60.0, 0.0, 30.0, 90.0] and default[2].tolist() == [100.0, 10.0, 50.0, 100.0]


def test_fedscale_json_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({str(k): v for k, v in FEDSCALE.items()}))
    assert len(read_fedscale(path)) == 2


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    source = tmp_path / "evil.pkl"
    source.write_bytes(pickle.dumps({1: Evil()}))
    _check_one_line(["data", "import-trace", "--fedscale", str(source), "--out", str(tmp_path / "x.csv")],
                    "refusing to load builtins.print", tmp_path, capsys)


def test_client_trace_maps_clients_onto_workers(tmp_path: Path) -> None:
    path = _trace(tmp_path, "client,down_start,down_end\n0,1,2\n1,3,4\n1,5,6\n")
    topo = tiny_topology((3, 1))
    topo["datacenters"]["a"]["availability"] = {"trace": str(path)}
    topology = load_topology(topo)
    clock = NodeClock(topology, seed=0)
    assert [clock.trace_owner(w) for w in ("a/w0", "a/w1", "a/w2", "b/w0")] == [0, 1, None, None]
    assert clock.trace_owner("a/server") is None  # a service node is no client: it stays up
    assert [clock.available("a/w1", t) for t in (2.9, 3.0, 3.9, 4.0, 5.5, 7.0)] == [True, False, False, True,
                                                                                   False, True]
    assert clock.next_change_s("a/w0", 0.0) == 1.0 and clock.next_change_s("a/w0", 2.0) == float("inf")
    assert clock.available("a/w2", 1.5) and clock.available("a/server", 1.5)


def test_more_clients_than_workers_is_a_seeded_choice(tmp_path: Path) -> None:
    rows = "".join(f"{c},{c},{c + 0.5}\n" for c in range(50))
    path = _trace(tmp_path, "client,down_start,down_end\n" + rows)
    topo = tiny_topology((2, 2))
    for dc in ("a", "b"):  # every worker naming the file shares its clients
        topo["datacenters"][dc]["availability"] = {"trace": str(path)}
    topology = load_topology(topo)
    owners = [[NodeClock(topology, seed).trace_owner(w) for w in topology.nodes] for seed in (0, 0, 1)]
    assert owners[0] == owners[1] != owners[2]
    assert len(set(owners[0])) == 4 and all(0 <= c < 50 for c in owners[0])
    expected = client_assignment(50, 4, np.random.default_rng([0, __import__("zlib").crc32(b"trace.csv"), 3]))
    assert owners[0] == expected
    clock = NodeClock(topology, 0)
    for worker, client in zip(topology.nodes, owners[0], strict=True):
        assert not clock.available(worker, client + 0.25) and clock.available(worker, client + 0.5)


def test_node_trace_and_crash_at(tmp_path: Path) -> None:
    path = _trace(tmp_path, "node,down_start,down_end\nb/w1,10,20\na/w0,0,5\n")
    topo = tiny_topology((1, 2))
    topo["datacenters"]["b"] = {"workers": [{}, {"availability": {"trace": str(path), "crash_at": "30s"}}]}
    topology = load_topology(topo)
    clock = NodeClock(topology, 0)
    assert not clock.available("b/w1", 15) and clock.available("b/w1", 25) and not clock.available("b/w1", 30)
    assert clock.crash_time_s("b/w1") == 30 and clock.available("a/w0", 1)  # a/w0 names no trace


def test_relative_trace_path_starts_at_the_topology_file(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    _trace(tmp_path / "traces", "client,down_start,down_end\n0,1,2\n", "fleet.csv")
    topo = tiny_topology((1, 1))
    topo["datacenters"]["a"]["availability"] = {"trace": "traces/fleet.csv"}
    (tmp_path / "topo.yaml").write_text(_dump(topo))
    topology = load_topology(tmp_path / "topo.yaml")
    assert not NodeClock(topology, 0).available("a/w0", 1.5)


BAD_TRACES = [  # (case id, CSV text, what the one line must say)
    ("wrong-columns", "worker,start,end\n0,1,2\n", "columns"),
    ("end-before-start", "client,down_start,down_end\n0,5,2\n", "line 2: down_end (2)"),
    ("negative-time", "client,down_start,down_end\n0,1,2\n0,-1,2\n", "line 3: down_start"),
    ("word-time", "client,down_start,down_end\n0,soon,2\n", "line 2: down_start 'soon'"),
    ("fractional-client", "client,down_start,down_end\n0.5,1,2\n", "line 2: client"),
    ("overlap", "client,down_start,down_end\n3,1,5\n3,4,6\n", "client 3: down interval [4, 6) overlaps"),
    ("unknown-node", "node,down_start,down_end\nz/w0,1,2\n", "node 'z/w0' is not a worker"),
    ("empty-file", "", "not a readable CSV"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD_TRACES], ids=[c[0] for c in BAD_TRACES])
def test_bad_trace_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _trace(tmp_path, text, "bad.csv")
    topo = tiny_topology((1, 1))
    topo["datacenters"]["a"]["availability"] = {"trace": "bad.csv"}
    (tmp_path / "topo.yaml").write_text(_dump(topo))
    monkeypatch.chdir(tmp_path)
    _check_one_line(["topo", "check", "topo.yaml"], expected, tmp_path, capsys)
    with pytest.raises(ConfigError, match=r"datacenters\.a\.availability\.trace"):
        load_topology(tmp_path / "topo.yaml")


def test_a_run_on_a_trace_hands_no_work_to_a_client_while_it_is_down(tmp_path: Path) -> None:
    from fake_session import fake_method

    path = _trace(tmp_path, "node,down_start,down_end\nb/w1,0,0.3\na/w0,0.05,0.2\n")
    topo = tiny_topology((2, 2), latency="15ms")
    topo["datacenters"]["a"]["availability"] = {"trace": str(path)}
    topo["datacenters"]["b"]["availability"] = {"trace": str(path)}
    method, session = fake_method({"name": "fedbuff", "concurrency": 2, "buffer": 1}, budget=20, topology_dict=topo)
    engine = session.drive(method, {"train_step": 0.01, "average": 0.001})
    work = engine.accountant.frame().query("kind == 'params_g'")
    clock = engine.clock
    assert all(clock.available(dst, t) for dst, t in zip(work.dst, work.t_send_s, strict=True))
    assert (work.dst == "b/w1").any() and work[work.dst == "b/w1"].t_send_s.min() >= 0.3
