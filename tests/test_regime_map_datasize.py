"""scripts/regime_map_datasize.py: the data size up to which moving the data still wins, by hand.

Why: the page's "move the data" answer now carries a size limit per point; a wrong share (3/8 of the data
arriving last, 5/8 crossing the WAN), a unit slip (Mbps as bytes) or a sign turned round would give every
reader a wrong limit with no run to contradict it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import load_script

POINT = ["bandwidth_Mbps", "rtt_ms", "step_ms"]


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two points at 10 Mbps: at 1 ms a step SQM takes 78 s and centralized 3 s; at 100 ms a step SQM is sooner."""
    a, b = {"bandwidth_Mbps": 10, "rtt_ms": 10, "step_ms": 1}, {"bandwidth_Mbps": 10, "rtt_ms": 10, "step_ms": 100}
    win = pd.DataFrame([
        {"map": "all", **a, "fastest": "centralized", "winner": "centralized", "fastest_median_s": 3.0},
        {"map": "in-place", **a, "fastest": "sqm", "winner": "sqm", "fastest_median_s": 78.0},
        {"map": "all", **b, "fastest": "sqm", "winner": "tie", "fastest_median_s": 20.0},
        {"map": "in-place", **b, "fastest": "sqm", "winner": "sqm", "fastest_median_s": 20.0}])
    per = pd.DataFrame([{**a, "method": "centralized", "median_s": 3.0},
                        {**b, "method": "centralized", "median_s": 25.0}])
    costs = pd.DataFrame([{"method": "sqm", "wan_MB_median": 142.0},
                          {"method": "centralized", "wan_MB_median": 0.06}])
    return win, per, costs


def test_break_even_by_hand() -> None:
    m = load_script("regime_map_datasize")
    be = m.break_even(*_frames()).set_index("step_ms")
    # 75 s of margin at 1.25e6 B/s, of which the last region's 3/8 of the data must arrive: 250 MB more than ring8's
    assert be.loc[1, "nbytes_time"] == pytest.approx(96_000 + 75 * 1.25e6 / (3 / 8))
    assert be.loc[100, "nbytes_time"] < 96_000  # in place already sooner at ring8's size
    assert be.loc[1, "nbytes_wan"] == pytest.approx(142e6 / (5 / 8)) == be.loc[100, "nbytes_wan"]
    assert not be.loc[1, "tie"] and be.loc[100, "tie"]


def test_section_and_csv_say_it_in_units_the_page_can_check(tmp_path: Path) -> None:
    from analysis.page_numbers import check_page, replace_generated

    m = load_script("regime_map_datasize")
    be = m.write(*_frames(), tmp_path)
    text = m.datasize_section(be)
    assert "| 10 ms | 250 MB |" in text and "never *tie*" in text and "sqm up to 227 MB" in text
    page = tmp_path / "p.md"
    page.write_text("# p\n")
    replace_generated(page, "regime-map-datasize.csv", text)
    assert check_page(page) == []  # every number the section prints is in the csv it names
