"""The fidelity benchmark's pure half: scenario grid, model predictions, error statistics.

No root needed: the namespace rig itself is only exercised by benchmarks/fidelity.py.
Expected numbers are worked out in the comments.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from fidelity_rig.grid import (
    MB,
    Scenario,
    build_grid,
    goodput_factor,
    predict,
    relative_errors,
    summarize,
)


def test_full_grid_is_the_issues_grid() -> None:
    cells = build_grid(full=True)
    singles = [s for s in cells if s.family == "single"]
    # 4 sizes x 3 RTTs x 3 rates
    assert len(singles) == 36
    shared = [s for s in cells if s.family == "shared"]
    assert {s.n_flows for s in shared} == {2, 4, 8}
    assert len(shared) == 3 * 3 * 3 * 2  # RTT x rate x flow count x 2 sizes
    assert len([s for s in cells if s.family == "partial"]) == 9


def test_default_grid_drops_long_cells_and_rates_above_the_ceiling() -> None:
    cells = build_grid(full=False, max_rate_bps=200e6)
    assert max(s.rate_bps for s in cells) == 100e6
    # 100 MB at 10 Mbit/s takes 80 s: cut; 10 MB at 10 Mbit/s (8 s) stays.
    assert Scenario("single", 0.04, 10e6, 100 * MB) not in cells
    assert Scenario("single", 0.04, 10e6, 10 * MB) in cells
    # shared flows get ~0.8 s each at the rate: 1 MB at 10 Mbit/s, 10 MB at 100 Mbit/s
    assert {s.size_nbytes for s in cells if s.family == "shared" and s.rate_bps == 10e6} == {1 * MB}
    assert {s.size_nbytes for s in cells if s.family == "shared" and s.rate_bps == 100e6} == {10 * MB}


def test_single_flow_prediction_fluid_and_calibrated() -> None:
    s = Scenario("single", rtt_s=0.040, rate_bps=10e6, size_nbytes=10 * MB)
    # fluid: 80 Mbit / 10 Mbit/s = 8 s + one-way 20 ms
    assert predict(s, tcp=False) == pytest.approx([8.02])
    # calibrated: 8 s / 0.9564 (1448 of every 1514 bytes are payload) + 20 ms
    assert goodput_factor() == pytest.approx(1448 / 1514)
    assert predict(s, tcp=False, bandwidth_factor=1448 / 1514) == pytest.approx([8 * 1514 / 1448 + 0.02])


def test_tcp_mode_adds_slow_start_rounds() -> None:
    # RTT 40 ms at 10 Mbit/s: target window = BDP 50 kB; IW 14.6 kB doubles 14.6 -> 29.2 -> 58.4:
    # 2 rounds (80 ms) send 43.8 kB; the rest drains at 10 Mbit/s; + 20 ms one way.
    s = Scenario("single", 0.040, 10e6, 10 * MB)
    expected = 2 * 0.04 + (10e6 - 43800) * 8 / 10e6 + 0.02
    assert predict(s, tcp=True) == pytest.approx([expected])


def test_partial_path_is_max_min_over_two_links() -> None:
    # link 1 10 Mbit/s, link 2 4 Mbit/s: flow a->c held to 4 on link 2, flow a->b takes the other 6.
    # 1 MB: a->b done at 8/6 = 1.333 s; a->c at 2 s (+ 0.5 ms one way each).
    s = Scenario("partial", 0.001, 10e6, 1 * MB, 2)
    assert s.destinations() == ["c", "b"]
    assert predict(s, tcp=False) == pytest.approx([2.0005, 8 / 6 + 0.0005])


def test_shared_flows_split_the_link() -> None:
    # 4 flows of 1 MB on 10 Mbit/s: 2.5 Mbit/s each, 3.2 s, + 0.5 ms
    s = Scenario("shared", 0.001, 10e6, 1 * MB, 4)
    assert predict(s, tcp=False) == pytest.approx([3.2005] * 4)


def test_relative_errors_and_summary() -> None:
    errs = relative_errors([1.1, 0.9, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    assert errs == pytest.approx([0.1, -0.1, 1.0, 0.0])
    stats = summarize(errs)
    assert stats["n"] == 4
    assert stats["median_abs"] == pytest.approx(0.1)  # |e| sorted 0, .1, .1, 1 -> median .1
    assert stats["p95_abs"] == pytest.approx(np.percentile([0, 0.1, 0.1, 1.0], 95))  # 0.865
    assert stats["p95_abs"] == pytest.approx(0.865)
    assert stats["median_signed"] == pytest.approx(0.05)
    with pytest.raises(ValueError):
        relative_errors([1.0], [0.0])
    assert summarize([])["n"] == 0


def test_groups_used_in_the_table() -> None:
    assert Scenario("single", 0.04, 10e6, 10e3).group == "single <=1MB"
    assert Scenario("single", 0.04, 10e6, 100 * MB).group == "single >=10MB"
    assert Scenario("shared", 0.04, 10e6, MB, 8).group == "shared x8"
    assert Scenario("partial", 0.04, 10e6, MB, 2).group == "partial path"
