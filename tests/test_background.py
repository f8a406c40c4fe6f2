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
