"""Which class drains first?  Read from the network's one heap of per-class "due" entries.

Why a module of its own: testbed.sim.network keeps a single heap of (earliest time a class's first flow
counts as drained, class version, class, its drain end) -- one push per rescheduled class instead of one
into each of two heaps (one sorted by due time for the drain check, one by drain end for the next event),
which was a measured share of the network's CPU (issue 27 item 4).  The heap is sorted by due time, so the
next drain end is not always the head's: an entry due later can drain earlier (its early margin is wider).
It is still due no later than it drains, so it lies in the part of the heap due by the head's drain end,
and only that part is walked -- in practice the head's two children, or a few ties.
"""

from __future__ import annotations

from collections.abc import Sequence

from testbed.sim.flow_class import FlowClass

DueEntry = tuple[float, int, int, float]
"""(due time, class version, class, drain end); an entry retires when its class's version moves on."""


def earliest_drain_s(due: Sequence[DueEntry], classes: Sequence[FlowClass], end_s: float) -> float:
    """The earliest drain end of a live entry of the heap ``due``, given its live head's drain end ``end_s``."""
    n, stack = len(due), [1, 2]
    while stack:
        i = stack.pop()
        if i < n and due[i][0] <= end_s:
            _, version, cls_id, drain_s = due[i]
            if drain_s < end_s and classes[cls_id].version == version:
                end_s = drain_s
            stack += (2 * i + 1, 2 * i + 2)
    return end_s
