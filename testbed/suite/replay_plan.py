"""Which cells of a ``replay: true`` suite are re-costed from another cell instead of trained.

Why: a grid over network and compute axes (``bandwidth_scale``, ``latency_scale``, ``compute_scale``,
``topology``) trains the same thing in every cell; only the times change.  Cells are grouped by their
training configuration (testbed.experiment.exactness.training_key: everything but the network and compute
settings, with the same workers in the same order); the first cell of a group in suite order trains, the
others are replayed from it (``python -m testbed replay``) when the replay would be exact -- the method is
timing-independent on both settings, no availability, no measured compute.  Anything else trains (a client
population too: it keeps no op trace).  A replay
that is refused when it runs (its op trace left the recorded path) trains too, so a suite's numbers never
depend on whether it was asked to replay.  Calibrated compute is calibrated once per group: the replayed
cells charge their source's measured costs (times their ``compute_scale``).
"""

from __future__ import annotations

from testbed.experiment.exactness import replay_blockers, training_key
from testbed.suite.spec import Suite


def replay_sources(suite: Suite) -> dict[str, str]:
    """Cell id -> the id of the cell it is replayed from (cells that train are not keys)."""
    if not suite.replay:
        return {}
    first: dict[str, str] = {}
    by_id = {cell.id: cell for cell in suite.cells}
    sources: dict[str, str] = {}
    for cell in suite.cells:
        if cell.spec.topology.has_population:  # keeps no op trace: trains
            continue
        key = training_key(cell.spec)
        if key not in first:
            first[key] = cell.id
            continue
        source = by_id[first[key]]
        if not replay_blockers(source.spec, cell.spec, source.spec.compute.model):
            sources[cell.id] = source.id
    return sources
