"""The calls a node state answers for the wire: compress what it sends, decompress what it gets, and
time both on a message's real size.

Why on the node state: the payload is there (on its executor: a Ray actor, or this process), so the
transform runs where the data is and the engine never waits for a value; and what a sender carries from
one message of a kind to the next is its own state, kept beside its model, one per (message kind,
destination) -- top-k's error-feedback residual (a worker pushing gradient slices to several shards
keeps one per shard) and, with DGC's momentum correction, its velocity, and the random stream stochastic
rounding draws from (seeded by the run's seed and the sender, kind and destination, so runs are
deterministic on any backend). A message holding NaN or infinite values is refused with
testbed.core.finite's ``NonFiniteError`` (the run stops, ``diverged``) instead of being saturated or
smeared over a bucket -- here too, since on Ray the engine cannot look at the payload, and the actor
compressing it can. :meth:`wire_time` times the real transform on a message of the real size, on this
node's device, for the calibrated ``encode`` / ``decode`` costs (testbed.sim.codec). Every method's node
states inherit :class:`WireEndpoint`; the engine dispatches the calls (testbed.compression.wire).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from testbed.compression.base import Packet, Transform
from testbed.compression.tree import flatten, unflatten
from testbed.core.finite import require_finite
from testbed.exec.timing import median_seconds

OPERATIONS = ("encode", "decode")


class WireEndpoint:
    """Mixin for node states: ``wire_compress`` (sender, keeps residuals), ``wire_decompress`` (receiver)."""

    def wire_compress(self, transform: Transform, key: tuple[Any, ...], payload: Any, seed: int = 0,
                      sender: str = "") -> Packet:
        """``payload`` encoded by ``transform`` for ``key`` = (kind, destination) or (kind, destination,
        parameter vector); with error feedback, what this node did not send to ``key`` last time is added
        first, and what it does not send now is kept."""
        flat, tree = flatten(payload)
        require_finite(flat, f"a {key[0]} message from {sender or 'a node'} to {key[1]}")
        rng = self._wire_rng(key, seed, sender)
        if transform.error_feedback:
            residuals = self.wire_residuals()
            carried = residuals.get(key)
            if carried is not None and carried.shape != flat.shape:
                raise ValueError(f"a {key[0]!r} message to {key[1]!r} changed size from {carried.size} to "
                                 f"{flat.size} entries; error feedback needs a fixed shape")
            momentum = transform.momentum_correction
            if momentum is not None:  # DGC: u <- m u + g (a new array: the payload is not touched), v <- v + u below
                velocity = self.wire_velocities().get(key)
                flat = flat.copy() if velocity is None else np.float32(momentum) * velocity + flat
                self.wire_velocities()[key] = flat
            if carried is not None:
                flat = flat + carried
            parts = transform.encode(flat, rng)
            residuals[key] = (flat - transform.decode(parts, len(flat))).astype(np.float32)
            if momentum is not None:  # momentum factor masking: the sent entries' velocity restarts from 0
                self.wire_velocities()[key][transform.sent_indices(parts)] = 0
        else:
            parts = transform.encode(flat, rng)
        return Packet(transform, parts, len(flat), tree)

    def wire_decompress(self, packet: Packet) -> Any:
        """The payload the sender compressed, as the receiver reconstructs it."""
        return unflatten(packet.transform.decode(packet.parts, packet.numel), packet.tree)

    def wire_residuals(self) -> dict[tuple[Any, ...], np.ndarray]:
        """Error-feedback residuals by (kind, destination[, parameter vector]) (created on first use)."""
        residuals = self.__dict__.get("_wire_residuals")
        if residuals is None:
            residuals = self.__dict__["_wire_residuals"] = {}
        return residuals

    def wire_velocities(self) -> dict[tuple[Any, ...], np.ndarray]:
        """DGC's momentum-corrected velocities u by (kind, destination[, parameter vector]) (top-k's
        ``momentum_correction``; created on first use)."""
        velocities = self.__dict__.get("_wire_velocities")
        if velocities is None:
            velocities = self.__dict__["_wire_velocities"] = {}
        return velocities

    def _wire_rng(self, key: tuple[Any, ...], seed: int, sender: str) -> np.random.Generator:
        """The sender's random stream for ``key``, seeded by (run seed, crc32 of sender|kind|destination[|vector])."""
        streams = self.__dict__.setdefault("_wire_rngs", {})
        if key not in streams:
            name = "|".join(str(part) for part in (sender, *key))
            streams[key] = np.random.default_rng([seed, zlib.crc32(name.encode())])
        return streams[key]

    def wire_time(self, operation: str, transform: Transform, numel: int, repeats: int = 3) -> float:
        """Median seconds to ``encode`` (flatten, error feedback, encode) or ``decode`` a message of ``numel``
        float32 entries with ``transform`` on this node's device, after a warm-up: a scratch endpoint and
        a seeded vector, so nothing of this node's wire state changes."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
        values = np.random.default_rng(numel).standard_normal(numel).astype(np.float32)
        scratch = WireEndpoint()
        key = ("calibration", "calibration")
        packet = scratch.wire_compress(transform, key, values)
        if operation == "encode":
            return median_seconds(lambda: scratch.wire_compress(transform, key, values), repeats,
                                  getattr(self, "device", "cpu"))
        return median_seconds(lambda: scratch.wire_decompress(packet), repeats, getattr(self, "device", "cpu"))
