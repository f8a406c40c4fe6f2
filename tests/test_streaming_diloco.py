"""Streaming DiLoCo: fragments, schedule, bytes = formula, the outer step, overlap, churn.

Why: the method's claim is about *when* bytes cross the WAN (one fragment at a time, overlapped with
training), so the schedule and the sizes are checked against the traffic log message by message, and
the outer step against the formula, on a tiny ring8 MLP with fixed compute costs.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_topology
from fake_session import fake_method

from testbed.core.errors import ConfigError
from testbed.gan import count_params
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec
from testbed.methods.streaming_diloco.fragments import fragment_layout
from testbed.methods.streaming_diloco.state import OuterServer

COSTS = {"train_step": 0.01, "average": 0.001}


def _exchanges(t_max: int, h: int, offsets: list[int]) -> list[tuple[int, int]]:
    return [(t, p) for t in range(1, t_max + 1) for p, o in enumerate(offsets) if t >= o and (t - o) % h == 0]


def test_fragments_are_strided_layers_that_cover_the_model_once() -> None:
    method, session = fake_method({"name": "streaming_diloco", "fragments": 2})
    layout = fragment_layout(session.setup, 2)
    state = session.setup.gan_state("cpu")
    assert layout.numel(0) + layout.numel(1) == count_params(state.G) + count_params(state.D)
    layers = {t.name.rpartition(".")[0]: t.layer for t in layout.tensors}
    assert all(layout.tensors[i].layer % 2 == p for p in range(2) for i in layout.members[p])
    assert len(set(layers.values())) == layout.layers >= 4  # mlp2d depth 2: 3 layers per net
    with pytest.raises(ConfigError, match=r"algorithm\.fragments"):
        method, session = fake_method({"name": "streaming_diloco", "fragments": 50})
        method.setup()


@pytest.mark.parametrize("fragments", [1, 3])
def test_bytes_and_schedule_equal_the_formula(fragments: int) -> None:
    h, t_max = 4, 14  # no exchange is due at 14 for these offsets; tau = 0: every exchange completes
    method, session = fake_method({"name": "streaming_diloco", "inner_steps": h, "fragments": fragments,
                                   "overlap": 0}, budget=t_max)
    engine = session.drive(method, COSTS)
    layout, plan = method.plan.layout, method.plan
    offsets = [plan.offset(p) for p in range(fragments)]
    assert offsets[-1] == h and (fragments == 1 or offsets == [1, 3, 4])
    due = _exchanges(t_max, h, offsets)
    assert all(t != t_max for t, _ in due)
    frame = engine.accountant.frame()
    m = len(session.workers)
    for kind, src_is_server in (("outer_grad", False), ("fragment", True)):
        sent = frame[frame.kind == kind]
        assert (sent.src == "a/server").all() == src_is_server
        assert sorted(sent.payload_nbytes) == sorted(layout.nbytes(p) for _, p in due for _ in range(m))
    assert [(t, p) for t, p, _ in plan.exchanges] == due
    assert session.iteration == t_max
    assert all(engine.stats[w].tasks["train_step"] == t_max for w in session.workers)


def test_outer_step_is_nesterov_on_the_weighted_mean() -> None:
    _, session = fake_method({"name": "streaming_diloco", "fragments": 2})
    server = OuterServer(session.setup, 2, ServerOptimizerSpec("nesterov", 0.7, 0.9))
    layout = server.layout
    x = layout.gather(1, server.parts).astype(np.float64)
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=layout.numel(1)).astype(np.float32) for _ in range(2)]
    b = np.zeros_like(x)
    for _ in range(2):
        new = server.outer_step(1, [1.0, 3.0], *grads)
        delta = 0.25 * grads[0].astype(np.float64) + 0.75 * grads[1].astype(np.float64)
        b = 0.9 * b + delta
        np.testing.assert_allclose(new, x - 0.7 * (delta + 0.9 * b), rtol=1e-5, atol=1e-6)
        x = new.astype(np.float64)
    assert server.steps == [0, 2]


def test_overlap_hides_the_exchange_behind_inner_steps() -> None:
    slow = tiny_topology((1, 1, 1), wan_bandwidth="2Mbps", latency="40ms")
    times = {}
    for overlap in (0, 3):
        method, session = fake_method({"name": "streaming_diloco", "inner_steps": 8, "fragments": 2,
                                       "overlap": overlap}, budget=24, topology_dict=slow)
        engine = session.drive(method, COSTS)
        times[overlap] = engine.now_s
        waits = sum(engine.stats[w].waiting_s + engine.stats[w].communication_s for w in session.workers)
        times[f"wait{overlap}"] = waits
    assert times[3] < times[0] and times["wait3"] < times["wait0"]


def test_a_crashed_replica_is_skipped_and_a_crashed_server_stops() -> None:
    topo = tiny_topology((2, 1, 2), latency="15ms")
    topo["datacenters"]["c"] = {"workers": [{}, {"availability": {"crash_at": "0.1s"}}]}
    method, session = fake_method({"name": "streaming_diloco", "inner_steps": 4, "overlap": 0}, budget=20,
                                  topology_dict=topo)
    session.drive(method, COSTS)
    assert session.iteration == 20 and session.stop_reason is None
    assert method.plan.exchanges[-1][2] == 4  # the last exchanges average the four live replicas
    topo["datacenters"]["a"]["availability"] = {"crash_at": "0.1s"}  # the server's datacenter
    method, session = fake_method({"name": "streaming_diloco", "inner_steps": 4}, budget=50, topology_dict=topo)
    session.drive(method, COSTS)
    assert session.stop_reason.startswith("crashed: a/server")


def test_a_replica_that_is_down_holds_up_the_exchanges_it_is_part_of() -> None:
    topo = tiny_topology((2, 1, 2), latency="15ms")
    topo["datacenters"]["b"] = {"workers": [{"availability": {"down": [["0.05s", "0.4s"]]}}]}
    method, session = fake_method({"name": "streaming_diloco", "inner_steps": 4, "fragments": 2, "overlap": 0},
                                  budget=16, topology_dict=topo)
    engine = session.drive(method, COSTS)
    frame = engine.accountant.frame()
    from_b = frame[(frame.kind == "outer_grad") & (frame.src == "b/w0")]
    assert not ((from_b.t_send_s > 0.05) & (from_b.t_send_s < 0.4)).any()  # it computes nothing while down
    before = from_b[from_b.t_send_s <= 0.05].t_send_s.max()  # its last gradient before it went down
    fragments = frame[frame.kind == "fragment"].t_send_s
    assert not ((fragments > before + 0.04) & (fragments < 0.4)).any()  # (after its round trip) the next waited
    assert session.iteration == 16 and method.plan.exchanges[-1][2] == 5
