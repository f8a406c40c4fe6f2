"""analysis.censored: reached-and-held, censored medians and paired comparisons, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.censored import censored_summary, paired_comparison, reached_and_held


def _metrics() -> pd.DataFrame:
    rows = [  # run, iteration, virtual time, hq, modes
        ("touch-once", 0, 0.0, 0.0, 0), ("touch-once", 100, 1.0, 0.8, 8), ("touch-once", 200, 2.0, 0.3, 8),
        ("touch-once", 300, 3.0, 0.75, 8), ("touch-once", 400, 4.0, 0.72, 7),
        ("modes-short", 0, 0.0, 0.0, 0), ("modes-short", 100, 1.0, 0.9, 6), ("modes-short", 200, 2.0, 0.9, 6),
        ("last-eval", 0, 0.0, 0.0, 0), ("last-eval", 100, 5.0, 0.71, 7),
    ]
    frame = pd.DataFrame(rows, columns=["run", "iteration", "virtual_time_s", "hq", "modes"])
    frame["wan_bytes"] = frame["iteration"] * 10
    frame["egress_usd"] = 0.0
    return frame.sample(frac=1.0, random_state=1)


def test_a_target_counts_only_when_every_condition_holds_and_still_holds_next_time() -> None:
    out = reached_and_held(_metrics(), {"hq": (0.7, True), "modes": (7, True)}).set_index("run")
    assert out.loc["touch-once", "reached"] and out.loc["touch-once", "iteration"] == 300  # not 100: lost at 200
    assert out.loc["touch-once", "wan_bytes"] == 3000
    assert not out.loc["modes-short", "reached"] and math.isnan(out.loc["modes-short", "virtual_time_s"])
    assert out.loc["last-eval", "reached"] and out.loc["last-eval", "virtual_time_s"] == 5.0  # the run's last


def test_censored_median_counts_non_reaching_seeds_as_later_than_any_budget() -> None:
    s = censored_summary([1, 2, 3, 9, 9], [True, True, True, False, False], n_boot=500)
    assert (s.n, s.reached, s.median) == (5, 3, 3.0)  # 1, 2, 3, inf, inf -> 3
    assert s.low >= 1.0 and math.isinf(s.high)
    half = censored_summary([1, 2, 9, 9], [True, True, False, False], n_boot=200)
    assert math.isinf(half.median) and "never" in half.text()


def test_paired_comparison_finds_a_clear_speed_up_and_refuses_a_noisy_one() -> None:
    fast = [1.0, 1.1, 0.9, 1.2, 1.0, 0.95, 1.05, 1.1, 0.9, 1.0]
    slow = [3 * v for v in fast]
    clear = paired_comparison(fast, [True] * 10, slow, [True] * 10, names=("fedavg", "ps"))
    assert clear.verdict == "fedavg faster" and clear.ratio == pytest.approx(1 / 3) and clear.p_value < 0.01
    assert clear.high < 1.0
    noisy = paired_comparison(fast, [True] * 10, [v * (1.3 if i % 2 else 0.77) for i, v in enumerate(fast)],
                              [True] * 10)
    assert noisy.verdict == "no difference measured"


def test_a_method_that_never_reaches_the_target_loses_to_one_that_does() -> None:
    out = paired_comparison([1, 2, 1, 2, 1, 2, 1, 2], [True] * 8, [5] * 8, [False] * 8, names=("gaia", "ps"))
    assert out.ratio == 0.0 and out.verdict == "gaia faster" and out.p_value < 0.05


def test_paired_comparison_of_final_qualities_with_dead_runs_does_not_divide_by_zero() -> None:
    """Final qualities can be exactly 0 (a run that learnt nothing): a median of 0 on the reference side
    used to raise ZeroDivisionError in the bootstrap; 0 against 0 is no ratio at all, x against 0 is inf."""
    alive = [0.11, 0.16, 0.05, 0.2, 0.12, 0.09]
    dead = [0.0, 0.0, 0.0025, 0.0, 0.0, 0.001]
    out = paired_comparison(alive, [True] * 6, dead, [True] * 6)
    assert out.ratio == float("inf")
    both_dead = paired_comparison([0.0] * 6, [True] * 6, [0.0] * 6, [True] * 6)
    assert both_dead.p_value == 1.0 and both_dead.verdict == "no difference measured"
