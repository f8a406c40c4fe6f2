"""The network core's fast paths against the general code they stand in for, bit for bit.

Why: issue 27 item 4 sped the core up with shortcuts that must not change a single result --
``MaxMinRates._fill_one`` (one class re-solved, no dicts) stands in for the general progressive filling
``MaxMinRates._fill``, and ``testbed.sim.drain_heap.earliest_drain_s`` reads the next drain end from the one
event heap that replaced a second heap sorted by drain end.  The randomised reference test checks results to a
tolerance; these check that the shortcut and the general path agree exactly (floats compared with ``==``),
on random small instances where ties, caps, zero capacities and out-rating classes all occur.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from testbed.sim.drain_heap import DueEntry, earliest_drain_s
from testbed.sim.flow_class import FlowClass
from testbed.sim.maxmin import MaxMinRates


def _random_solver(rng: np.random.Generator) -> MaxMinRates:
    """A solved random problem: 1-6 links (some with equal or zero capacity), 1-9 classes, some capped."""
    solver = MaxMinRates()
    n_links = int(rng.integers(1, 7))
    levels = rng.uniform(0.5, 10, size=3)  # few distinct capacities: ties between links are common
    for _ in range(n_links):
        solver.add_link(0.0 if rng.random() < 0.05 else float(rng.choice(levels)))
    for _ in range(int(rng.integers(1, 10))):
        links = tuple(int(link) for link in rng.permutation(n_links)[:int(rng.integers(1, n_links + 1))])
        solver.add_class(links, float(rng.uniform(0.2, 4)) if rng.random() < 0.3 else math.inf)
    for cls in range(len(solver.links)):
        solver.set_count(cls, int(rng.integers(0, 4)))
    solver.update(0.0)
    return solver


def test_one_class_fill_equals_the_general_fill_bit_for_bit() -> None:
    rng = np.random.default_rng(27)
    compared = grew = 0
    for _ in range(400):
        solver = _random_solver(rng)
        for step in range(3):  # perturb the solved state so that outside classes may out-rate the re-solved one
            if step:
                cls = int(rng.integers(len(solver.links)))
                solver.set_count(cls, int(rng.integers(0, 4)))
                solver.update(float(step))
            for cls in range(len(solver.links)):
                if solver.count[cls] == 0:
                    continue
                rates, bottlenecks, grow = solver._fill({cls})
                level, bottleneck, grow_one = solver._fill_one(cls)
                assert (level, bottleneck) == (rates[cls], bottlenecks[cls])
                assert (grow_one or set()) == grow
                compared += 1
                grew += bool(grow)
    assert compared > 1000 and grew > 10  # both outcomes of the out-rating check were exercised


def test_next_drain_end_is_the_earliest_live_drain_end_in_the_heap() -> None:
    rng = np.random.default_rng(11)
    walked = 0
    for _ in range(300):
        n_classes = int(rng.integers(1, 12))
        classes = [FlowClass((), 0.0) for _ in range(n_classes)]
        for cls in classes:
            cls.version = int(rng.integers(0, 3))
        heap: list[DueEntry] = []
        for _ in range(int(rng.integers(1, 40))):
            cls_id = int(rng.integers(n_classes))
            drain_s = float(rng.choice([1.0, 1.5, 2.0]) + rng.integers(0, 3) * 1e-9)  # ties and near-ties
            early_s = float(rng.choice([0.0, 1e-9, 1e-6, 0.7]))  # a wide margin: due early, drains late
            version = classes[cls_id].version - int(rng.random() < 0.4)  # some retired entries
            heapq.heappush(heap, (drain_s - early_s, version, cls_id, drain_s))
        live = [entry for entry in heap if classes[entry[2]].version == entry[1]]
        if not live or classes[heap[0][2]].version != heap[0][1]:
            continue  # the caller pops retired heads first
        got = earliest_drain_s(heap, classes, heap[0][3])
        assert got == min(entry[3] for entry in live)
        walked += got < heap[0][3]
    assert walked > 10  # the head was not always the earliest drain end
