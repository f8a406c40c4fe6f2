"""analysis.to_target: the first evaluation that meets a quality target, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.to_target import first_reaching


def _metrics() -> pd.DataFrame:
    rows = [("a", 0, 0.0, 0, 0.0, 0.00), ("a", 100, 2.0, 10, 0.1, 0.20), ("a", 200, 4.0, 20, 0.2, 0.50),
            ("a", 300, 6.0, 30, 0.3, 0.40), ("b", 0, 0.0, 0, 0.0, 0.00), ("b", 100, 9.0, 90, 0.9, 0.10)]
    frame = pd.DataFrame(rows, columns=["run", "iteration", "virtual_time_s", "wan_bytes", "egress_usd", "hq"])
    return frame.sample(frac=1.0, random_state=0)  # order must not matter


def test_first_evaluation_at_or_above_the_target() -> None:
    out = first_reaching(_metrics(), "hq", 0.4, higher_is_better=True).set_index("run")
    assert out.loc["a", "reached"] and out.loc["a", "iteration"] == 200 and out.loc["a", "wan_bytes"] == 20
    assert out.loc["a", "virtual_time_s"] == 4.0 and out.loc["a", "egress_usd"] == 0.2
    assert not out.loc["b", "reached"] and math.isnan(out.loc["b", "iteration"])


def test_lower_is_better_targets() -> None:
    metrics = _metrics().assign(fid=lambda f: 1.0 - f["hq"])
    out = first_reaching(metrics, "fid", 0.85, higher_is_better=False).set_index("run")
    assert out.loc["a", "iteration"] == 100 and not out.loc["b", "reached"]


def test_unknown_metric_is_named() -> None:
    with pytest.raises(KeyError, match="fid"):
        first_reaching(_metrics(), "fid", 1.0, higher_is_better=False)
