"""Cross-traffic on the WAN: the ``background:`` sources parse, and become seeded events in time order.

Why: background traffic must be what the YAML says -- a constant rate from t = 0, a load series step by
step, Poisson arrivals at the given rate and mean size, another run's messages on exactly the links they
crossed -- and the same for a given seed on any machine, drawn from streams of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_topology

from testbed.core.errors import ConfigError
from testbed.sim.background import BackgroundTraffic
from testbed.topology.schema import load_topology


def _topology(background, workers=(1, 1)) -> object:
    topo = tiny_topology(workers)
    topo["links"][0]["background"] = background
    return load_topology(topo)


def _all_events(traffic: BackgroundTraffic, until_s: float) -> list:
    return traffic.pop_due(until_s)


def test_a_constant_rate_is_one_event_per_direction_at_zero() -> None:
    traffic = BackgroundTraffic(_topology({"rate": "40Mbps"}), seed=0)
    assert traffic.next_s() == 0.0
    assert _all_events(traffic, 100.0) == [("rate", ("a", "b"), 40e6, 0), ("rate", ("b", "a"), 40e6, 1)]
    assert traffic.next_s() == float("inf")
    assert traffic.offered_nbytes(("a", "b"), 2.0) == pytest.approx(10e6)  # 40 Mbit/s x 2 s


def test_from_names_one_direction_and_load_csv_steps(tmp_path) -> None:
    (tmp_path / "load.csv").write_text("t_s,rate_bps\n0,1e6\n2,5e6\n3,0\n")
    traffic = BackgroundTraffic(_topology({"load_csv": str(tmp_path / "load.csv"), "from": "b"}), seed=0)
    assert _all_events(traffic, 10.0) == [("rate", ("b", "a"), 1e6, 0), ("rate", ("b", "a"), 5e6, 0),
                                          ("rate", ("b", "a"), 0.0, 0)]
    assert traffic.offered_nbytes(("b", "a"), 10.0) == pytest.approx((2 * 1e6 + 1 * 5e6) / 8)
    assert traffic.offered_nbytes(("a", "b"), 10.0) == 0


@pytest.mark.parametrize("sizes", ["exponential", {"lognormal": {"sigma": 1.0}}])
def test_poisson_arrivals_have_the_rate_and_mean_size_asked_for(sizes) -> None:
    topo = _topology({"poisson": {"flows_per_s": 50, "mean_size": "1MB", "sizes": sizes}, "from": "a"})
    events = _all_events(BackgroundTraffic(topo, seed=3), 200.0)
    sizes_seen = np.array([e[2] for e in events])
    assert len(events) == pytest.approx(50 * 200, rel=0.05)
    assert sizes_seen.mean() == pytest.approx(1e6, rel=0.05)
    again = _all_events(BackgroundTraffic(topo, seed=3), 200.0)
    other = _all_events(BackgroundTraffic(topo, seed=4), 200.0)
    assert again == events and other != events


def test_replay_takes_the_messages_that_crossed_the_link(tmp_path) -> None:
    log = pd.DataFrame({"path": ["a/w0 > a > b > b/w0", "b/w0 > b > a > a/w0", "a/w0 > a > a/w1",
                                 "c/w0 > c > b > a > a/w0"],
                        "t_send_s": [0.5, 0.25, 0.1, 1.0], "nbytes": [100, 200, 300, 400],
                        "scope": ["wan", "wan", "lan", "wan"]})
    log.to_parquet(tmp_path / "traffic.parquet")
    events = _all_events(BackgroundTraffic(_topology({"replay": str(tmp_path / "traffic.parquet")}), 0), 10.0)
    assert events == [("flow", ("b", "a"), 200.0, 1), ("flow", ("a", "b"), 100.0, 0), ("flow", ("b", "a"), 400.0, 1)]


BAD = [  # (background value, field the one line names)
    ({"rate": 40}, "links[0].background.rate"),
    ({"rate": "fast"}, "links[0].background.rate"),
    ({"rate": "40Mbps", "poisson": {}}, "links[0].background"),
    ({}, "links[0].background"),
    ({"rate": "1Mbps", "from": "z"}, "links[0].background.from"),
    ({"poisson": {"flows_per_s": 0, "mean_size": "1MB"}}, "links[0].background.poisson.flows_per_s"),
    ({"poisson": {"flows_per_s": 5}}, "links[0].background.poisson.mean_size"),
    ({"poisson": {"flows_per_s": 5, "mean_size": 1000}}, "links[0].background.poisson.mean_size"),
    ({"poisson": {"flows_per_s": 5, "mean_size": "1MB", "sizes": {"pareto": 1}}},
     "links[0].background.poisson.sizes.pareto"),
    ({"poisson": {"flows_per_s": 5, "mean_size": "1MB", "sizes": {"lognormal": {}}}},
     "links[0].background.poisson.sizes.lognormal.sigma"),
    ({"load_csv": "missing.csv"}, "links[0].background.load_csv"),
    ({"replay": 5}, "links[0].background.replay"),
    ([{"rate": "1Mbps"}, {"colour": 1}], "links[0].background[1].colour"),
]


@pytest.mark.parametrize(("background", "field"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_background_names_the_field(background, field) -> None:
    with pytest.raises(ConfigError) as err:
        _topology(background)
    assert err.value.field == field and "\n" not in str(err.value)


def test_bad_load_csv_names_the_line(tmp_path) -> None:
    (tmp_path / "load.csv").write_text("t_s,rate_bps\n0,1e6\n0,5e6\n")
    with pytest.raises(ConfigError, match=r"load\.csv line 3"):
        _topology({"load_csv": str(tmp_path / "load.csv")})


def _run(tmp_path, name: str, background=None) -> dict:
    import json

    from conftest import tiny_experiment

    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.launch import run_experiment
    from testbed.experiment.spec import load_experiment

    topology = tiny_topology((2, 2), wan_bandwidth="10Mbps")
    if background is not None:
        topology["links"][0]["background"] = background
    spec = load_experiment(tiny_experiment({"name": "fedavg", "client_fraction": 1.0}, topology=topology,
                                           max_iterations=3, network={"rate_window": "10ms"}))
    out = run_experiment(spec, tmp_path / name, executor=InProcessExecutor(), progress=False)
    return {"summary": json.loads((out / "summary.json").read_text()), "dir": out}


def test_background_slows_the_run_but_is_not_its_traffic(tmp_path) -> None:
    alone = _run(tmp_path, "alone")["summary"]
    shared = _run(tmp_path, "shared", {"rate": "8Mbps", "from": "a"})
    summary = shared["summary"]
    assert summary["wan_bytes"] == alone["wan_bytes"] and summary["egress_usd"] == alone["egress_usd"]
    assert summary["virtual_time_s"] > alone["virtual_time_s"]  # the stream took its share of a -> b
    carried = summary["background"]["a->b"]
    assert carried["offered_bps"] == pytest.approx(8e6)
    assert 0 < carried["carried_bps"] < 8e6  # the run's flows took their max-min share while they were on
    assert set(summary["background"]) == {"a->b"}
    rates = pd.read_csv(shared["dir"] / "background_rate.csv")
    assert set(rates.link) == {"a->b"}
    width = (summary["virtual_time_s"] - rates.t_s).clip(upper=0.01)  # the last window ends at the stop
    assert (rates.bps * width).sum() / 8 == pytest.approx(carried["carried_nbytes"], rel=1e-6)
    traffic = pd.read_parquet(shared["dir"] / "traffic.parquet")
    assert len(traffic) == len(pd.read_parquet(tmp_path / "alone" / "traffic.parquet"))


def test_two_runs_share_one_wan_by_replaying_the_other(tmp_path) -> None:
    first = _run(tmp_path, "first")
    replayed = _run(tmp_path, "second", {"replay": str(first["dir"] / "traffic.parquet")})
    bg = replayed["summary"]["background"]
    log = pd.read_parquet(first["dir"] / "traffic.parquet")
    crossed = log[log.path.str.contains(" > a > b > ", regex=False)]
    assert bg["a->b"]["offered_nbytes"] == pytest.approx(crossed[crossed.t_send_s < replayed["summary"]
                                                                 ["virtual_time_s"]].nbytes.sum())
    assert replayed["summary"]["virtual_time_s"] > first["summary"]["virtual_time_s"]  # the same WAN, twice the load


def test_endless_background_never_keeps_a_finished_or_crashed_run_going(tmp_path) -> None:
    """Background sources are endless; once the run has nothing in flight -- finished, or its flows ended by
    a crash -- the network asks for no wake-up, so the engine ends when the run does."""
    from fake_session import fake_method

    topology = tiny_topology((2, 2), latency="15ms")
    topology["links"][0]["background"] = [{"rate": "5Mbps"}, {"poisson": {"flows_per_s": 200, "mean_size": "10KB"}}]
    topology["datacenters"]["b"] = {"workers": [{}, {"availability": {"crash_at": "0.02s"}}]}
    method, session = fake_method({"name": "fedavg", "client_fraction": 1.0}, budget=4, topology_dict=topology)
    engine = session.drive(method, {"train_step": 0.01, "average": 0.001})
    assert session.iteration == 4 and engine.now_s < 1.0
