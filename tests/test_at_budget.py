"""analysis.at_budget: the metric at the last evaluation within a WAN-bytes budget, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.at_budget import metric_at_budget


def _metrics() -> pd.DataFrame:
    # run a: bytes 0, 100, 200, 300 with FID 400, 300, 200, 100; run b: bytes 150, 450 (no 0 row),
    # rows out of order to check the sort by iteration.
    return pd.DataFrame({
        "run": ["a", "a", "a", "a", "b", "b"],
        "iteration": [3, 0, 1, 2, 10, 5],
        "wan_bytes": [300, 0, 100, 200, 450, 150],
        "fid": [100.0, 400.0, 300.0, 200.0, 50.0, 250.0],
    })


def test_last_evaluation_within_the_budget() -> None:
    at = metric_at_budget(_metrics(), "fid", "wan_bytes", 250).set_index("run")
    assert at.loc["a", "fid"] == 200.0 and at.loc["a", "wan_bytes"] == 200 and at.loc["a", "iteration"] == 2
    assert at.loc["b", "fid"] == 250.0 and at.loc["b", "iteration"] == 5


def test_budget_on_an_evaluation_counts_it_and_none_within_is_nan() -> None:
    at = metric_at_budget(_metrics(), "fid", "wan_bytes", 100).set_index("run")
    assert at.loc["a", "fid"] == 300.0
    assert math.isnan(at.loc["b", "fid"]) and math.isnan(at.loc["b", "iteration"])


def test_missing_column_names_the_columns() -> None:
    with pytest.raises(KeyError, match="no column 'egress'"):
        metric_at_budget(_metrics(), "fid", "egress", 1.0)
