"""What a node's process runs inside: paused while its node is down, stopped when it crashes.

Why a module of its own: these two generator wrappers are the whole of how availability and crashes
reach a node's process (testbed.sim.engine.Engine.spawn applies them); apart from the engine's
message and flow bookkeeping they read as one rule each.  Offline means offline: an event a process
waits for that fires while its node is down resumes it only when the node is back.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from testbed.sim.context import NodeStats
from testbed.sim.node_clock import NodeClock


def while_up(env: simpy.Environment, clock: NodeClock, stats: NodeStats, node_id: str,
             gen: Generator[simpy.Event, Any, Any]) -> Generator[simpy.Event, Any, Any]:
    """``gen`` (a node's process) run only while the node is up: every event it waits for that fires
    while the node is down resumes it when the node is back (the wait counted as ``stats``' waiting)."""
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            while not clock.available(node_id, env.now) and error is None:
                back_s, start_s = clock.next_change_s(node_id, env.now), env.now
                if not math.isfinite(back_s):
                    return None  # crashed: nothing of it runs again
                try:
                    yield env.timeout(back_s - start_s)
                except Exception as exc:  # an interrupt (its crash) goes to the process
                    error = exc
                stats.waiting_s += env.now - start_s
            try:
                event = gen.throw(error) if error is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            try:
                value, error = (yield event), None
            except Exception as exc:
                value, error = None, exc
    finally:
        gen.close()


def until_interrupted(gen: Generator[simpy.Event, Any, Any]) -> Generator[simpy.Event, Any, Any]:
    """Run a node's process until it ends or its node crashes (an Interrupt): then it just stops."""
    try:
        return (yield from gen)
    except simpy.Interrupt:
        gen.close()
        return None
