"""The ten-seed beyond-the-seed suites re-use the six-seed suites' runs, so their cells must stay those cells.

Why: `beyond-the-seed-churn10.yaml` and `beyond-the-seed-topk10.yaml` reach ten paired seeds by copying
seeds 0-5 (and `fedavg` seeds 6-9 from the DiLoCo ten-seed suite) and running only the rest with
``--resume``; `beyond-the-seed-diloco-tuned10.yaml` copies its `fedavg` runs from the DiLoCo ten-seed
suite, `beyond-the-seed-diloco-outer10.yaml` every run from those two, `beyond-the-seed-topk-factorial10.yaml` the
factorial's seeds 0-5 and topk10's seeds 0-9, and `beyond-the-seed-topk-dgc.yaml` its `topk1` seeds 0-5 from
the factorial (docs/studies/beyond-the-seed.md).
A copied run is valid only while its resolved experiment equals the new suite's cell of the same id; an
edit to one suite and not the other would silently mix two configurations in one paired test.  This
checks every shared cell id, resolved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.suite.spec import load_suite

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"
PAIRS = [("beyond-the-seed-churn10.yaml", "beyond-the-seed-fedavg.yaml", 24),
         ("beyond-the-seed-churn10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-topk10.yaml", "beyond-the-seed-topk-factorial.yaml", 18),
         ("beyond-the-seed-diloco-tuned10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-diloco-outer10.yaml", "beyond-the-seed-diloco10.yaml", 10),
         ("beyond-the-seed-diloco-outer10.yaml", "beyond-the-seed-diloco-tuned10.yaml", 10),
         ("beyond-the-seed-topk-factorial10.yaml", "beyond-the-seed-topk-factorial.yaml", 48),
         ("beyond-the-seed-topk-factorial10.yaml", "beyond-the-seed-topk10.yaml", 30),
         ("beyond-the-seed-topk-dgc.yaml", "beyond-the-seed-topk-factorial.yaml", 6)]


def _resolved(name: str) -> dict[str, dict]:
    resolved = {}
    for cell in load_suite(STUDIES / name).cells:
        config = cell.spec.resolved()
        config.pop("name", None)
        resolved[cell.id] = config
    return resolved


@pytest.mark.parametrize(("ten", "source", "shared"), PAIRS)
def test_ten_seed_suite_cells_equal_the_runs_they_copy(ten: str, source: str, shared: int) -> None:
    new, old = _resolved(ten), _resolved(source)
    common = sorted(set(new) & set(old))
    assert len(common) == shared, common
    for cell_id in common:
        assert new[cell_id] == old[cell_id], cell_id
