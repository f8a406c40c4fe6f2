"""Encoding and decoding a compressed message are compute tasks: they take virtual time where they run.

Why: compression trades bytes for computation, and the computation is not free -- top-k of 1 M
entries took 12.5 ms to encode on this machine against 2.6 ms to send at 250 Mbit/s.  So a message
of a compressed kind (testbed.compression.wire) leaves its sender only when its ``encode`` task
ends, and reaches the receiver's process only when its ``decode`` task ends.

Pricing, per message, like any other task kind: the compute table's first entry among
``<op>:<kind>:<n>`` (this message kind with n float32 entries), ``<op>:<kind>`` and ``<op>`` (``op``
is ``encode`` or ``decode``); failing those, the ``calibrated`` model times the real transform on a
message of n entries on the node's own executor (testbed.compression.endpoint.WireEndpoint.wire_time,
once per (op, kind, n)) and records it as ``<op>:<kind>:<n>`` -- in ``compute_costs.json``, so a
pinned table replays the run -- and the ``fixed`` model takes ``compute.default`` (the parser refuses
a fixed table with neither).  ``measured`` takes the call's own wall time.  The cost is then divided by
the node's speed (or integrated over its speed profile and down time, with a slowdown draw, as
testbed.sim.node_clock charges compute).

Simplification: a node's encodes and decodes run one at a time, in the order they are submitted (one
codec per node), but beside the node's own compute tasks, as on a second stream: the shipped methods
wait for their messages before computing on them, so only an asynchronous shard decoding the next
push while it applies the last one overlaps.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from testbed.compression.base import Transform
from testbed.compression.spec import CompressionSpec
from testbed.compression.wire import Wire
from testbed.core.errors import ConfigError
from testbed.exec.executor import Executor
from testbed.sim.compute import ComputeModel, ComputeSpec, CostTable
from testbed.sim.context import NodeStats
from testbed.sim.messages import Message
from testbed.sim.node_clock import NodeClock
from testbed.topology.model import Topology

OPERATIONS = ("encode", "decode")


def cost_keys(operation: str, kind: str, numel: int) -> tuple[str, str, str]:
    """The compute-table keys that price ``operation`` on a ``kind`` message of ``numel`` entries, most
    specific first."""
    return f"{operation}:{kind}:{numel}", f"{operation}:{kind}", operation


def check_codec_costs(compute: ComputeSpec, compression: CompressionSpec, src: str) -> None:
    """A ``fixed`` compute table must price every compressed kind's encode and decode (or have a default)."""
    if compute.model != "fixed" or compute.default_s is not None:
        return
    priced = {key for key, _ in compute.costs_s}
    for kind, _ in compression.by_kind:
        for operation in OPERATIONS:
            if not any(key == operation or key == f"{operation}:{kind}" or key.startswith(f"{operation}:{kind}:")
                       for key in priced):
                raise ConfigError(src, "compute.costs", f"has no {operation} cost for the compressed {kind!r} "
                                  "messages (encoding and decoding take time)",
                                  f"add {operation}: 1ms (per message; or {operation}:{kind}), or compute.default")


class Codec:
    """Applies the run's :class:`Wire` to its messages and prices and schedules their encode and decode tasks."""

    def __init__(self, wire: Wire, compute: ComputeModel, clock: NodeClock, topology: Topology, executor: Executor,
                 stats: dict[str, NodeStats], repeats: int = 3) -> None:
        self.wire = wire
        self.compute = compute
        self.clock = clock
        self.topology = topology
        self.executor = executor
        self.stats = stats
        self.repeats = repeats
        self.busy_until_s: dict[str, float] = {}
        """When each node's codec is free again."""
        self.numel: dict[int, int] = {}
        """Entries of each compressed message in flight, by sequence number (what its decode is priced on)."""

    def outgoing(self, src: str, dst: str, kind: str, payload: Any, nbytes: int | None,
                 now_s: float, tag: Any = None) -> tuple[Any, int | None, int, float]:
        """(what travels, its declared bytes, the entries encoded -- 0 when ``kind`` is not compressed -- and
        when the encode ends, i.e. when the message may leave)."""
        sent = self.wire.outgoing(src, dst, kind, payload, nbytes, tag)
        if sent.transform is None:
            return sent.payload, sent.nbytes, 0, now_s
        finish_s = self.schedule(src, "encode", kind, sent.transform, sent.numel, sent.payload, now_s)
        return sent.payload, sent.nbytes, sent.numel, finish_s

    def incoming(self, message: Message, now_s: float) -> tuple[Message, float]:
        """``message`` with the receiver's payload (decoded, for a compressed kind), and when it is ready."""
        transform = self.wire.spec.get(message.kind)
        if transform is None:
            return message, now_s
        payload = self.wire.incoming(message.dst, message.kind, message.payload)
        finish_s = self.schedule(message.dst, "decode", message.kind, transform, self.numel.pop(message.seq),
                                 payload, now_s)
        return dataclasses.replace(message, payload=payload), finish_s

    def schedule(self, node: str, operation: str, kind: str, transform: Transform, numel: int, handle: Any,
                 now_s: float) -> float:
        """Queue ``operation`` on ``node``'s codec after its earlier encodes and decodes; returns when it
        ends, and charges the node's time breakdown."""
        work_s = self.work_s(node, operation, kind, transform, numel, handle)
        start_s = max(now_s, self.busy_until_s.get(node, now_s))
        dynamics = self.topology.dynamics_of(node)
        if dynamics.static:
            finish_s = start_s + work_s / self.topology.speed_of(node)
        else:
            finish_s = self.clock.finish_s(node, start_s, work_s * self.clock.slowdown_factor(node))
        self.busy_until_s[node] = finish_s
        stats = self.stats[node]
        stats.compute_s += finish_s - start_s if math.isfinite(finish_s) else 0.0
        stats.tasks[operation] = stats.tasks.get(operation, 0) + 1
        return finish_s

    def work_s(self, node: str, operation: str, kind: str, transform: Transform, numel: int, handle: Any) -> float:
        """Seconds of ``operation`` at speed 1 (see the module docstring for where they come from)."""
        model = self.compute
        if model.needs_measurement:
            return model.duration_s(operation, 1.0, self.executor.elapsed_s(handle))
        if not isinstance(model, CostTable):
            raise TypeError(f"cannot price {operation} with the {model.name} compute model")
        return self.table_s(model, node, operation, kind, transform, numel) * model.scale  # compute.scale, as tasks

    def table_s(self, model: CostTable, node: str, operation: str, kind: str, transform: Transform,
                numel: int) -> float:
        """The table's unscaled seconds for ``operation`` (calibrated once on ``node`` where it has none)."""
        keys = cost_keys(operation, kind, numel)
        for key in keys:
            if key in model.costs_s:
                return model.costs_s[key]
        if model.source == "calibrated":
            seconds = float(self.executor.resolve(self.executor.call(
                node, "wire_time", operation, transform, numel, self.repeats)))
            model.costs_s[keys[0]] = seconds
            return seconds
        if model.default_s is not None:
            return model.default_s
        raise KeyError(f"no compute cost for {operation} of {kind!r} messages: add compute.costs.{operation} "
                       f"(or {keys[1]}), or compute.default")
