"""scripts/study_gaia_vs_ps.py: the tuning criterion fixed before the runs, and the exact sign-flip test.

Why: the page's settings come from this choice -- most seeds reaching and holding the coverage target,
then the smallest median iteration, then the last-four score, then the smaller lr; round 2 (Gaia's
threshold) compared with round 1's choice on round 2's seed only.  A slip (a seed that touched the
target once counted, a 1-seed round-2 setting ranked against a 2-seed one) would change the study's
settings silently.  Synthetic rows, no training.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from conftest import load_script

from analysis.study_stats import sign_flip_p


def _module():
    return load_script("study_gaia_vs_ps")


def _row(stage: str, method: str, lr: float, seed: int, iteration: float | None, score: float,
         threshold: float = 0.0) -> dict:
    return {"stage": stage, "method": method, "threshold": threshold, "lr": lr, "seed": seed,
            "reached": iteration is not None, "iteration": math.nan if iteration is None else iteration,
            "score_last4": score}


def test_criterion_prefers_seeds_reaching_then_earlier_then_score_then_smaller_lr() -> None:
    m = _module()
    rows = [
        _row("tune", "ps", 0.002, 1000, 2800, 0.70), _row("tune", "ps", 0.002, 1001, 2100, 0.75),  # 2 of 2, 2450
        _row("tune", "ps", 0.005, 1000, 1000, 0.90), _row("tune", "ps", 0.005, 1001, None, 0.95),  # 1 of 2: loses
        _row("tune", "ps", 0.01, 1000, 1300, 0.88), _row("tune", "ps", 0.01, 1001, 1900, 0.86),    # 2 of 2, 1600
        _row("tune", "gaia", 0.002, 1000, None, 0.5, 0.05), _row("tune", "gaia", 0.002, 1001, None, 0.5, 0.05),
        _row("tune", "gaia", 0.005, 1000, None, 0.75, 0.05), _row("tune", "gaia", 0.005, 1001, None, 0.25, 0.05),
    ]
    t = m.tuning(pd.DataFrame(rows))
    assert m.choice(t) == {"ps": (0.01, 0.0), "gaia": (0.002, 0.05)}  # gaia: none reach, 0.5 = 0.5 -> smaller lr


def test_round_two_is_compared_on_its_own_seed_only() -> None:
    m = _module()
    rows = [
        _row("tune", "gaia", 0.005, 1000, 2800, 0.60, 0.05), _row("tune", "gaia", 0.005, 1001, 2500, 0.72, 0.05),
        _row("tune2", "gaia", 0.005, 1000, 2600, 0.70, 0.01),  # reaches earlier than 5 % on seed 1000
    ]
    assert m.choice(m.tuning(pd.DataFrame(rows))) == {"gaia": (0.005, 0.01)}
    rows[-1] = _row("tune2", "gaia", 0.005, 1000, None, 0.70, 0.01)  # does not reach: 5 % stays
    t = m.tuning(pd.DataFrame(rows))
    assert m.choice(t) == {"gaia": (0.005, 0.05)}
    assert t.loc[t["stage"] == "tune2", "setting_seeds"].tolist() == [1]


def test_exact_sign_flip_p() -> None:
    assert sign_flip_p(np.array([1.0] * 10)) == 2 / 2 ** 10  # all ten one sign: the two extreme patterns
    assert sign_flip_p(np.array([1.0, -1.0])) == 1.0
