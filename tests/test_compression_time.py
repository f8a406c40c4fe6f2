"""Compression costs virtual time: encode on the sender before the flow starts, decode on the receiver
before its process gets the message, priced by the compute model like any other task kind.

Why: compression was free in virtual time, so a top-k run looked as fast as its bytes alone allowed
(top-k of 1 M entries takes longer to encode than to send at 250 Mbit/s).  Times here are worked out
by hand on a zero-latency, 1 Tbit/s LAN (transfers take picoseconds): a message leaves when its
encode ends, the sender's encodes queue one after another, a slow node takes longer, and the
receiver has the message when its decode ends.  The calibrated model times the real transform on
the message's real size, once per (operation, kind, size), and a fixed table without the costs is
refused in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_experiment

from testbed.compression import CompressionSpec
from testbed.compression.endpoint import WireEndpoint
from testbed.compression.quantize import Quantize
from testbed.compression.topk import TopK
from testbed.core.errors import ConfigError
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.sim.compute import CostTable
from testbed.sim.engine import Engine
from testbed.suite.estimate import estimate_cell
from testbed.suite.spec import Cell
from testbed.topology.schema import load_topology

TOPO = {"lan": {"bandwidth": "1Tbps", "latency": 0},
        "datacenters": {"a": {"workers": [{"speed": 1.0}, {"speed": 0.5}, {"speed": 1.0}]}}, "links": []}
N = 1000
SPEC = CompressionSpec((("grads_g", TopK(0.1, True)),))


def _engine(costs: dict[str, float], source: str = "fixed") -> Engine:
    executor = InProcessExecutor()
    for node in ("a/w0", "a/w1", "a/w2"):
        executor.host(node, WireEndpoint)
    return Engine(load_topology(TOPO), executor, CostTable(dict(costs), source), header_nbytes=0, compression=SPEC)


def _exchange(engine: Engine, src: str, sends: int) -> list:
    got = []

    def sender(ctx):
        for _ in range(sends):
            ctx.send("a/w2", np.ones(N, np.float32), "grads_g", nbytes=4 * N)
        yield ctx.wait(0)

    def receiver(ctx):
        for _ in range(sends):
            message = yield ctx.recv(kind="grads_g")
            got.append((message, ctx.now_s))

    engine.spawn(src, sender)
    engine.spawn("a/w2", receiver)
    engine.run()
    return got


def test_a_message_leaves_when_its_encode_ends_and_arrives_when_its_decode_ends() -> None:
    engine = _engine({"encode": 0.005, "decode": 0.003})
    (first, t1), (second, t2) = _exchange(engine, "a/w0", 2)
    assert first.t_send_s == pytest.approx(0.005) and second.t_send_s == pytest.approx(0.010)  # encodes queue
    assert first.t_arrive_s == pytest.approx(0.005, abs=1e-7) and second.t_arrive_s == pytest.approx(0.010, abs=1e-7)
    assert t1 == pytest.approx(0.008, abs=1e-7) and t2 == pytest.approx(0.013, abs=1e-7)  # + 3 ms decode each
    frame = engine.accountant.frame()
    assert list(frame.t_send_s) == pytest.approx([0.005, 0.010]) and set(frame.payload_nbytes) == {8 * 100}
    assert engine.stats["a/w0"].tasks == {"encode": 2} and engine.stats["a/w2"].tasks == {"decode": 2}
    assert engine.stats["a/w0"].compute_s == pytest.approx(0.010)
    assert np.count_nonzero(first.payload if isinstance(first.payload, np.ndarray)
                            else engine.executor.resolve(first.payload)) == 100


def test_a_slow_node_encodes_slowly_and_a_kind_can_be_priced_on_its_own() -> None:
    engine = _engine({"encode": 0.005, "decode": 0.003, "encode:grads_g": 0.002})
    [(message, _)] = _exchange(engine, "a/w1", 1)  # speed 0.5
    assert message.t_send_s == pytest.approx(0.004)


def test_calibrated_codec_times_the_real_transform_on_the_real_size_once() -> None:
    engine = _engine({}, source="calibrated")
    _exchange(engine, "a/w0", 3)
    costs = engine.compute_model.costs()
    assert set(costs) == {f"encode:grads_g:{N}", f"decode:grads_g:{N}"}  # timed once, recorded for replay
    assert all(0 < v < 1 for v in costs.values())
    assert engine.stats["a/w0"].compute_s == pytest.approx(3 * costs[f"encode:grads_g:{N}"])


def test_a_fixed_table_without_codec_costs_is_refused() -> None:
    spec = tiny_experiment("ps", network={"compression": {"grads_g": {"quantize": 8}}},
                           compute={"model": "fixed", "costs": {"grad_step": "10ms", "server_update": "1ms"}})
    with pytest.raises(ConfigError, match=r"compute\.costs.*encode"):
        load_experiment(spec)
    spec["compute"]["default"] = "1ms"  # a default prices them
    assert load_experiment(spec).compression.get("grads_g") == Quantize(8)


def _ps(encode_s: float, iterations: int = 20) -> dict:
    costs = {"grad_step": "10ms", "server_update": "1ms", "encode": f"{encode_s}s", "decode": f"{encode_s / 2}s"}
    return tiny_experiment({"name": "ps", "server_at": "a"}, max_iterations=iterations,
                           compute={"model": "fixed", "costs": costs},
                           network={"compression": {"grads_g": {"topk": 0.1}, "grads_d": {"topk": 0.1}}})


def test_codec_time_is_on_the_critical_path_of_a_bsp_step_and_in_the_dry_run() -> None:
    runs = {}
    for encode_s in (0.0, 0.004):
        run = Run(load_experiment(_ps(encode_s)), InProcessExecutor(), progress=False)
        run.execute()
        runs[encode_s] = run
    slower = runs[0.004].virtual_time_s - runs[0.0].virtual_time_s
    # per step each worker encodes 2 pushes one after the other (8 ms), the shard decodes its pushes as
    # they come: at least the last one's 2 ms is on the path; 20 steps.
    assert slower >= 20 * (0.008 + 0.002) - 1e-9
    cell = Cell(id="ps", experiment=_ps(0.004, iterations=30), axes={}, spec=load_experiment(_ps(0.004, 30)))
    estimate = estimate_cell(cell)
    real = Run(cell.spec, InProcessExecutor(), progress=False)
    real.execute()
    assert estimate["est_virtual_s"] == pytest.approx(real.virtual_time_s, rel=1e-6)  # exact for ps
    fast = estimate_cell(Cell(id="ps0", experiment=_ps(0.0, 30), axes={}, spec=load_experiment(_ps(0.0, 30))))
    assert estimate["est_virtual_s"] - fast["est_virtual_s"] >= 30 * 0.010 - 1e-9
