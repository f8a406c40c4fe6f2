"""The engine's event-saving paths against SimPy's own, run for run: same traffic, times and op trace.

Why: a delivery nobody waits for is marked processed without a SimPy event, a mailbox skips the put
event that would do nothing, and the pump waits on a plain event instead of a Condition
(testbed.sim.messages, testbed.sim.mailbox, testbed.sim.engine).  Each is meant to leave the order in
which processes resume unchanged, so every message's sequence number, time and byte count, every
node's time breakdown and the op trace must be those of the SimPy path they replace.  Here each run
is repeated with the old path patched back in and compared row for row (churn, availability and
jitter included, where same-instant ties and late deliveries are most common).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import tiny_experiment, tiny_topology

import testbed.sim.engine as engine_module
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.sim.mailbox import Mailbox
from testbed.sim.messages import Delivery


def _topology() -> dict[str, Any]:
    topo = tiny_topology((2, 2, 1), latency="15ms")
    topo["datacenters"]["b"]["workers"] = [{}, {"availability": {"down": [["20ms", "45ms"]]}}]
    topo["datacenters"]["c"]["workers"] = [{"availability": {"crash_at": "70ms"}}]
    topo["links"][0]["jitter"] = "2ms"
    return topo


CASES = {
    "ps-bsp-2shards": {"name": "ps", "servers": 2, "server_at": ["a", "c"]},
    "ps-async": {"name": "ps", "consistency": "eventual"},
    "fedavg": {"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1},
    "mdgan": {"name": "mdgan", "server_at": "a", "swap_every_epochs": 1},
    "gaia": {"name": "gaia"},
}


def _run(case: dict[str, Any]) -> tuple[list, list, list, int]:
    spec = tiny_experiment(case, max_iterations=4, topology=_topology(),
                           compute={"model": "fixed", "default": "3ms", "costs": {"train_step": "10ms"}})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    frame = run.engine.accountant.frame()
    stats = [(node, st.compute_s, st.communication_s, st.waiting_s, sorted(st.tasks.items()))
             for node, st in sorted(run.engine.stats.items())]
    ops = run.recorder.frame().astype(str).values.tolist() if run.recorder is not None else []
    return frame.astype(str).values.tolist(), stats, ops, run.iteration


def _simpy_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Mailbox, "deliver", lambda self, message: self.put(message))
    monkeypatch.setattr(Delivery, "arrive", lambda self, message: self.succeed(message))
    monkeypatch.setattr(engine_module, "either", lambda env, first, second: first | second)


@pytest.mark.parametrize("name", sorted(CASES))
def test_runs_equal_simpys_event_paths(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _run(CASES[name])
    _simpy_paths(monkeypatch)
    slow = _run(CASES[name])
    assert fast[0] and fast == slow


def test_a_delivery_yielded_after_it_arrived_returns_the_message_at_once() -> None:
    import simpy

    from testbed.sim.messages import Message

    env = simpy.Environment()
    delivery = Delivery(env, 0, 0.0, 10)
    message = Message(0, "a", "b", "k", None, 0, 0.0, 1.0)
    delivery.arrive(message)
    assert delivery.triggered and delivery.processed and delivery.value is message
    got: list[Any] = []

    def waiter() -> Any:
        got.append((yield delivery))

    env.process(waiter())
    env.run()
    assert got == [message]
