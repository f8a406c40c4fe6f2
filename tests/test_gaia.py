"""Gaia: the ASP filter by hand, its WAN bytes replayed from what it selected, LAN bytes by formula,
the mirror clock bound, the selective barrier, and bad parameters.

The WAN formula: each significant entry is an int32 index + a float32 value (8 B), sent once
to every mirror; a barrier carries the indexes alone (4 B each); a clock message one int32.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_topology

from testbed.core.errors import ConfigError
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import count_params
from testbed.methods.gaia import ENTRY_NBYTES
from testbed.methods.gaia.state import GaiaServer, select_significant, significance_threshold

THREE_DCS = tiny_topology((2, 2, 2))


def run_spec(spec_dict: dict) -> Run:
    run = Run(load_experiment(spec_dict), InProcessExecutor(), progress=False)
    run.execute()
    return run


def gaia(experiment, max_iterations: int = 6, topology: dict = THREE_DCS, **params) -> Run:
    return run_spec(experiment({"name": "gaia", **params}, topology=topology, max_iterations=max_iterations))


def test_threshold_and_selection_by_hand() -> None:
    assert significance_threshold(0.01, 4, decay=True) == pytest.approx(0.005)
    assert significance_threshold(0.01, 4, decay=False) == 0.01
    acc = np.array([0.02, -0.02, 0.0, 0.001, 0.5], np.float32)
    w = np.array([1.0, 1.0, 0.0, 0.0, -10.0], np.float32)
    # |acc| > 0.01 |w|: 0.02 > 0.01 yes; 0.02 yes; 0 > 0 no; 0.001 > 0 yes; 0.5 > 0.1 yes.
    assert select_significant(acc, w, 0.01).tolist() == [0, 1, 3, 4]
    assert select_significant(acc, w, 0.03).tolist() == [3, 4]


def test_server_accumulates_own_updates_filters_and_adds_mirror_updates(experiment) -> None:
    run = Run(load_experiment(experiment("gaia", topology=THREE_DCS)), InProcessExecutor(), progress=False)
    state = run.setup.gan_state("cpu")
    n_g, n_d = count_params(state.G), count_params(state.D)
    server = GaiaServer(run.setup, n_g + n_d, threshold=0.01, decay=False)
    w0 = server._flat()
    rng = np.random.default_rng(0)
    server.apply(rng.normal(size=n_g).astype(np.float32), rng.normal(size=n_d).astype(np.float32))
    w1 = server._flat()
    np.testing.assert_allclose(server.accumulated, w1 - w0, atol=1e-7)
    expected = np.flatnonzero(np.abs(w1 - w0) > 0.01 * np.abs(w1))
    count, update, index = server.filter_updates(1)
    assert count == len(expected) > 0 and index.tolist() == expected.tolist()
    assert update["index"].dtype == np.int32 and update["value"].dtype == np.float32
    np.testing.assert_array_equal(update["value"], (w1 - w0)[expected].astype(np.float32))
    assert not server.accumulated[expected].any() and server.accumulated.any()
    assert server.sent_entries == [(1, count)]
    # A mirror update moves the weights but is not accumulated (never re-forwarded).
    before_acc = server.accumulated.copy()
    server.apply_mirror({"index": np.array([0, n_g + 1], np.int32), "value": np.array([0.5, -1.0], np.float32)})
    w2 = server._flat()
    assert w2[0] == pytest.approx(w1[0] + 0.5) and w2[n_g + 1] == pytest.approx(w1[n_g + 1] - 1.0)
    np.testing.assert_array_equal(server.accumulated, before_acc)


def test_wan_bytes_replay_the_filter_and_lan_bytes_follow_the_formula(experiment) -> None:
    clocks = 6
    run = gaia(experiment, max_iterations=clocks, max_clock_gap=0)
    acc, frame = run.engine.accountant, run.engine.accountant.frame()
    servers = ["a/ps", "b/ps", "c/ps"]
    sent = {s: run.executor.state(s).sent_entries for s in servers}
    # Replay: every non-empty selection went once to each of the 2 mirrors, 8 B per entry.
    total_entries = sum(count for s in servers for _, count in sent[s])
    assert acc.bytes_by_kind("wan")["significant_update"] == 2 * ENTRY_NBYTES * total_entries > 0
    for s in servers:
        updates = frame[(frame.kind == "significant_update") & (frame.src == s)]
        for mirror in servers:
            if mirror != s:
                sizes = updates[updates.dst == mirror].payload_nbytes.tolist()
                assert sizes == [ENTRY_NBYTES * c for _, c in sent[s] if c > 0]
    # Clock messages: one int32 per tick per mirror (lockstep: every DC ticked `clocks` times,
    # the last tick of the last DC ends the run before it is shared).
    assert acc.bytes_by_kind("wan")["clock"] == 4 * 2 * (3 * clocks - 1)
    assert set(acc.bytes_by_kind("wan")) <= {"significant_update", "clock", "barrier_index"}
    # LAN: per worker per clock 4(|G|+|D|) down and 4(|G|+|D|) up, nothing else but header-only pulls.
    state = run.setup.gan_state("cpu")
    n_g, n_d = count_params(state.G), count_params(state.D)
    lan = frame[frame.scope == "lan"]
    for worker in run.workers:
        down = lan[lan.dst == worker].groupby("kind").payload_nbytes.sum().to_dict()
        up = lan[(lan.src == worker) & (lan.kind != "pull")].groupby("kind").payload_nbytes.sum().to_dict()
        assert down == {"params_g": clocks * 4 * n_g, "params_d": clocks * 4 * n_d}
        assert up == {"grads_g": clocks * 4 * n_g, "grads_d": clocks * 4 * n_d}
    assert run.iteration == clocks


def test_wan_bytes_fall_as_the_threshold_rises(experiment) -> None:
    wan = [gaia(experiment, max_iterations=8, threshold=v).engine.accountant.bytes_by_kind("wan")
           .get("significant_update", 0) for v in (0.001, 0.01, 0.1)]
    assert wan[0] > wan[1] > wan[2]


def test_mirror_clock_bounds_how_far_a_datacenter_runs_ahead(experiment) -> None:
    slow = tiny_topology((2, 2, 2), speeds={"c": [0.2, 0.2]})
    spread = {}
    for gap in (0, 2):
        run = gaia(experiment, max_iterations=6, topology=slow, max_clock_gap=gap)
        clocks = run.algorithm.clocks
        # A DC starts clock c only once every mirror reported c - gap, so it ends <= slowest + gap + 1.
        assert max(clocks.values()) - min(clocks.values()) <= gap + 1
        spread[gap] = clocks["a"] - clocks["c"]
        frame = run.engine.accountant.frame()
        ticks = frame[frame.kind == "clock"]
        for (_src, dst), msgs in ticks.groupby(["src", "dst"]):
            # The i-th clock message src -> dst says "src finished clock i"; dst finished clock c
            # (its c-th clock message) only after src's clock c - 1 - gap had arrived.
            arrivals = msgs.sort_values("seq").t_arrive_s.tolist()
            sends = ticks[ticks.src == dst].drop_duplicates("t_send_s").sort_values("seq").t_send_s.tolist()
            for c, t_done in enumerate(sends, start=1):
                if c - 1 - gap >= 1:
                    assert arrivals[c - 2 - gap] <= t_done + 1e-12
    assert spread[2] > spread[0] >= 0


def test_selective_barrier_announces_indexes_before_values_on_a_backlogged_wan(experiment) -> None:
    slow_wan = tiny_topology((2, 2, 2), wan_bandwidth="2Mbps", latency="1ms")
    run = gaia(experiment, max_iterations=12, topology=slow_wan, max_clock_gap=10, threshold=0.001)
    frame = run.engine.accountant.frame().set_index("seq")
    barriers = frame[frame.kind == "barrier_index"]
    assert len(barriers) > 0
    for seq, barrier in barriers.iterrows():
        update = frame.loc[seq + 1]
        assert (update.kind, update.src, update.dst) == ("significant_update", barrier.src, barrier.dst)
        assert barrier.payload_nbytes * 2 == update.payload_nbytes  # 4 B per index vs 8 B per entry
    off = gaia(experiment, max_iterations=12, topology=slow_wan, max_clock_gap=10, threshold=0.001,
               selective_barrier=False)
    assert "barrier_index" not in off.engine.accountant.bytes_by_kind()
    # Blocking reads until announced values arrive can only slow the DCs down.
    assert run.virtual_time_s >= off.virtual_time_s


def test_bounded_delay_inside_datacenters(experiment) -> None:
    run = gaia(experiment, max_iterations=5, consistency="bounded_delay", tau=1)
    state = run.setup.gan_state("cpu")
    n_g = count_params(state.G)
    sizes = run.engine.accountant.frame().groupby("kind").payload_nbytes.unique().to_dict()
    assert list(sizes["params_g"]) == [4 * n_g] and list(sizes["grads_g"]) == [4 * n_g]
    assert run.iteration == 5
    assert min(run.algorithm.clocks.values()) == 5


@pytest.mark.parametrize(("params", "fieldname"), [
    ({"threshold": -0.1}, "algorithm.threshold"),
    ({"consistency": "eventual"}, "algorithm.consistency"),
    ({"tau": -1}, "algorithm.tau"),
    ({"max_clock_gap": -1}, "algorithm.max_clock_gap"),
    ({"decay": "yes"}, "algorithm.decay"),
    ({"threshhold": 0.1}, "algorithm.threshhold"),
])
def test_bad_params_are_config_errors(experiment, params: dict, fieldname: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(experiment({"name": "gaia", **params}))
    assert err.value.field == fieldname
    assert fieldname in str(err.value)


def test_gaia_sends_at_least_10x_fewer_wan_bytes_than_a_central_ps(experiment) -> None:
    # Small version of docs/gaia-vs-ps.md: same iterations, ps sequential with its server in DC a.
    ps = run_spec(experiment({"name": "ps", "server_at": "a"}, topology=THREE_DCS, max_iterations=20))
    ours = gaia(experiment, max_iterations=20, threshold=0.1, decay=False)
    ps_wan, gaia_wan = ps.engine.accountant.wan_nbytes, ours.engine.accountant.wan_nbytes
    assert ps.iteration == ours.iteration == 20
    assert gaia_wan * 10 <= ps_wan, (gaia_wan, ps_wan)
