"""scripts/study_consistency.py on tiny synthetic result folders (no training).

Why: the consistency page's lrs, its headline ratios and its staleness column come from this script -- the
criterion over both tuning seeds (most seeds reaching and holding, then the earliest median iteration, then
the last-four score, then the smaller lr), gradients counted as BSP's three per update against one for the
relaxed models, a non-reaching seed counted as later than any time, and each push's staleness read off the
traffic log.  A slip in any of them would change the page's conclusions silently.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import load_script

CONSISTENCY = {"bsp": "sequential", "ssp-2": "bounded_delay", "ssp-8": "bounded_delay", "eventual": "eventual",
               "ssp-8-alt": "bounded_delay"}


def _module():
    return load_script("study_consistency")


def _traffic(pushes: int, stale_by: int) -> pd.DataFrame:
    """Worker w0's parameters sent at t = k, its k-th push complete at t = k + 0.5 + ``stale_by``; worker w1's
    at t = k and k + 0.75."""
    rows = []
    for k in range(pushes):
        rows.append({"kind": "params_g", "src": "ps0", "dst": "w0", "t_send_s": float(k), "t_arrive_s": k + 0.1})
        for kind in ("grads_g", "grads_d"):
            rows.append({"kind": kind, "src": "w0", "dst": "ps0", "t_send_s": k + 0.2,
                         "t_arrive_s": k + 0.5 + stale_by})
            rows.append({"kind": kind, "src": "w1", "dst": "ps0", "t_send_s": k + 0.2, "t_arrive_s": k + 0.75})
        rows.append({"kind": "params_g", "src": "ps0", "dst": "w1", "t_send_s": float(k), "t_arrive_s": k + 0.1})
    return pd.DataFrame(rows).assign(scope="wan", src_dc="a", dst_dc="b", nbytes=8, payload_nbytes=8, egress_usd=0.0)


def _suite(root: Path, name: str, runs: list[tuple[str, float, int, int | None]]) -> None:
    """Runs (series, lr, seed, iteration from which the quality is 0.8 with 8 modes, or None)."""
    (root / name).mkdir(parents=True)
    index = []
    for series, lr, seed, hit in runs:
        cell = f"{series}_lr{lr}_seed={seed}"
        (root / name / cell).mkdir()
        iterations = 1000 if series == "bsp" else 3000
        config = {"algorithm": {"name": "ps", "consistency": CONSISTENCY[series]},
                  "training": {"batch_size": 64, "lr_g": lr, "lr_d": lr}, "seed": seed}
        (root / name / cell / "config.yaml").write_text(yaml.safe_dump(config))
        its = list(range(0, iterations + 1, iterations // 10))
        good = [hit is not None and i >= hit for i in its]
        pd.DataFrame({"iteration": its, "virtual_time_s": [0.08 * i for i in its], "total_bytes": [0] * len(its),
                      "wall_time_s": [0.01 * i for i in its], "wan_bytes": [50_000 * i for i in its],
                      "high_quality_fraction": [0.8 if g else 0.3 for g in good],
                      "modes_covered": [8 if g else 5 for g in good]}).to_csv(root / name / cell / "metrics.csv",
                                                                               index=False)
        _traffic(4, 2 if series == "eventual" else 0).to_csv(root / name / cell / "traffic.csv", index=False)
        index.append({"cell": cell, "run_dir": cell, "status": "complete", "iterations": iterations,
                      "virtual_time_s": 0.08 * iterations, "wall_time_s": 0.01 * iterations,
                      "wan_bytes": 50_000 * iterations})
    pd.DataFrame(index).to_csv(root / name / "index.csv", index=False)


def _results(root: Path) -> None:
    _suite(root, "consistency-tune", [
        ("bsp", 0.002, 1000, None), ("bsp", 0.002, 1001, None),
        ("bsp", 0.005, 1000, 600), ("bsp", 0.005, 1001, None),  # 1 of 2: chosen over 0 of 2
        ("eventual", 0.002, 1000, 900), ("eventual", 0.002, 1001, 900),
        ("eventual", 0.005, 1000, 600), ("eventual", 0.005, 1001, 1500),  # both reach, median 1050 > 900
    ])
    _suite(root, "consistency-tune2", [("eventual", 0.001, 1000, 600), ("eventual", 0.001, 1001, 600)])
    _suite(root, "consistency-tuned", [
        *[("bsp", 0.005, s, hit) for s, hit in ((0, 500), (1, 600), (2, None))],
        *[("eventual", 0.002, s, hit) for s, hit in ((0, 300), (1, 300), (2, 600))],
        *[("ssp-2", 0.005, s, 900) for s in (0, 1, 2)],
    ])
    _suite(root, "consistency-tuned-alt", [("ssp-8-alt", 0.005, s, 1200) for s in (0, 1, 2)])


def test_choice_gradients_staleness_and_paired_ratio(tmp_path: Path) -> None:
    mod = _module()
    _results(tmp_path)
    t = mod.tuning(mod.read_suite(tmp_path / "consistency-tune", "1"))
    chosen = t[t["chosen"]].drop_duplicates("series").set_index("series")["lr"].to_dict()
    assert chosen == {"bsp": 0.005, "eventual": 0.002}  # most seeds reaching; then the earlier median
    t2 = mod.tuning(mod.read_suite(tmp_path / "consistency-tune", "1"),
                    mod.read_suite(tmp_path / "consistency-tune2", "2"))
    chosen2 = t2[t2["chosen"]].drop_duplicates("series").set_index("series")["lr"].to_dict()
    assert chosen2 == {"bsp": 0.005, "eventual": 0.001}  # round 2's lr beyond the edge reaches sooner on both seeds
    ev = mod.read_suite(tmp_path / "consistency-tuned", "eval", staleness=True)
    bsp0 = ev[(ev["series"] == "bsp") & (ev["seed"] == 0)].iloc[0]
    assert bsp0["iteration"] == 500 and bsp0["gradients"] == 1500  # three gradients per BSP update
    assert ev[ev["series"] == "bsp"]["staleness_max"].max() == 0  # BSP is never stale
    # a push 2.5 s after its parameters: w1's two pushes and w0's own two previous ones land in between
    assert ev[ev["series"] == "eventual"]["staleness_max"].max() == 4
    st = mod.summary(ev)
    v = {(s, q): x for s, q, x in st.itertuples(index=False)}
    assert v["bsp", "reached"] == 2 and v["eventual", "reached"] == 3
    # virtual s: BSP 500 / 600 / never (0.08 s an iteration) against eventual 300 / 300 / 600 -> eventual sooner
    assert v["bsp vs eventual", "seeds_b_sooner"] == 3
    assert math.isclose(v["bsp vs eventual", "virtual_s_ratio"], (0.08 * 600) / (0.08 * 300))
    assert math.isclose(v["bsp vs eventual", "gradients_ratio"], 1800 / 300)


def test_page_tables_are_rewritten_between_their_marks(tmp_path: Path) -> None:
    mod = _module()
    _results(tmp_path)
    out = tmp_path / "docs"
    out.mkdir()
    page = out / "consistency.md"
    page.write_text("# page\n<!-- begin numbers: consistency-tuning.csv -->\nOLDTABLE\n<!-- end numbers -->\n"
                    "<!-- begin numbers: consistency-tuned-summary.csv consistency-tuned.csv -->\nOLDTABLE\n"
                    "<!-- end numbers -->\n")
    mod.main(str(tmp_path), str(out))
    text = page.read_text()
    assert "OLDTABLE" not in text and "**chosen**" in text and "bsp vs eventual" in text
    assert "| ssp-2 vs ssp-8-alt | 3 | 3 / 0 |" in text  # the sensitivity suite is read and paired by seed
    for name in ("consistency-tuning.csv", "consistency-tuned.csv", "consistency-tuned-summary.csv",
                 "consistency-tuned.png"):
        assert (out / name).is_file()


def test_a_missing_suite_is_one_line_naming_it(tmp_path: Path) -> None:
    expected = re.escape("consistency-tune: no index.csv -- run experiments/studies/consistency-tune.yaml")
    with pytest.raises(SystemExit, match=expected):
        _module().main(str(tmp_path), str(tmp_path))
