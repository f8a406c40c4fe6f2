"""``either(env, a, b)``: an event that fires when ``a`` or ``b`` does, as ``a | b`` would, at less cost.

Why a module of its own: the engine's pump waits, at every network event, for "a new flow started or the
network's next event is due"; SimPy's ``a | b`` builds a Condition, registers its checks and builds a
ConditionValue nobody reads.  This plain event does the same scheduling step for step -- it succeeds from
the first of the two events' processing, as the Condition's check does, so every other event keeps its
place in SimPy's queue (tests/test_engine_fast_paths.py compares whole runs against ``a | b``).
"""

from __future__ import annotations

import simpy


def either(env: simpy.Environment, first: simpy.Event, second: simpy.Event) -> simpy.Event:
    """An event that succeeds (value None) when ``first`` or ``second`` is processed; both must be unprocessed."""
    fired = env.event()

    def fire(_event: simpy.Event) -> None:
        if not fired.triggered:
            fired.succeed()

    first.callbacks.append(fire)  # type: ignore[union-attr]  (unprocessed events have a callback list)
    second.callbacks.append(fire)  # type: ignore[union-attr]
    return fired
