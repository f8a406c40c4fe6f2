"""The two calls a node state answers for the wire: compress what it sends, decompress what it gets.

Why on the node state: the payload is there (on its executor: a Ray actor, or this process), so the
transform runs where the data is and the engine never waits for a value; and top-k's error-feedback
residual is the sender's own state, kept beside its model -- one residual per (message kind,
destination), so a worker pushing gradient slices to several shards keeps one per shard.  Every
method's node states inherit :class:`WireEndpoint`; the engine dispatches the calls
(testbed.compression.wire).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.compression.base import Packet, Transform
from testbed.compression.tree import flatten, unflatten


class WireEndpoint:
    """Mixin for node states: ``wire_compress`` (sender, keeps residuals) and ``wire_decompress`` (receiver)."""

    def wire_compress(self, transform: Transform, key: tuple[str, str], payload: Any) -> Packet:
        """``payload`` encoded by ``transform``; with error feedback, what this node did not send to
        ``key`` = (kind, destination) last time is added first, and what it does not send now is kept."""
        flat, tree = flatten(payload)
        if transform.error_feedback:
            residuals = self.wire_residuals()
            carried = residuals.get(key)
            if carried is not None:
                if carried.shape != flat.shape:
                    raise ValueError(f"a {key[0]!r} message to {key[1]!r} changed size from {carried.size} to "
                                     f"{flat.size} entries; error feedback needs a fixed shape")
                flat = flat + carried
            parts = transform.encode(flat)
            residuals[key] = (flat - transform.decode(parts, len(flat))).astype(np.float32)
        else:
            parts = transform.encode(flat)
        return Packet(transform, parts, len(flat), tree)

    def wire_decompress(self, packet: Packet) -> Any:
        """The payload the sender compressed, as the receiver reconstructs it."""
        return unflatten(packet.transform.decode(packet.parts, packet.numel), packet.tree)

    def wire_residuals(self) -> dict[tuple[str, str], np.ndarray]:
        """Error-feedback residuals by (kind, destination) (created on first use)."""
        residuals = self.__dict__.get("_wire_residuals")
        if residuals is None:
            residuals = self.__dict__["_wire_residuals"] = {}
        return residuals
