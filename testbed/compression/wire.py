"""The engine's side of compression: swap a message for its compressed packet, and back on arrival.

Why here and not in each method: compression is a property of the wire, configured per message kind
(testbed.compression.spec), and every method sends through ``ctx.send``.  When a kind is compressed,
the send dispatches ``wire_compress`` on the *sender's* executor (non-blocking; the payload stays
there) and the message carries the packet, whose size is the transform's formula in the entry count
n = declared bytes / 4 -- known from the shapes, so the engine never waits for a value -- and, for a
transform that changes over messages (top-k's warm-up), of the message's index, which this module counts.  On arrival
``wire_decompress`` is dispatched on the *receiver's* executor, and the receiver's process gets a
handle to the dense payload.  Both are compute tasks in virtual time (kinds ``encode`` and
``decode``): the engine prices them (testbed.sim.codec) from the entry count this module reports.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from testbed.compression.base import Transform
from testbed.compression.spec import CompressionSpec
from testbed.core.payload import payload_nbytes
from testbed.exec.executor import Executor, Handle

FLOAT_NBYTES = 4


class Outgoing(NamedTuple):
    """What travels for one send: the payload (or its packet), the declared bytes, and -- for a compressed
    kind -- the transform and the entry count it encoded (what the encode and decode are priced on)."""

    payload: Any
    nbytes: int | None
    transform: Transform | None = None
    numel: int = 0


class Wire:
    """Applies a :class:`CompressionSpec` to the messages an engine sends."""

    def __init__(self, spec: CompressionSpec, executor: Executor, seed: int = 0) -> None:
        self.spec = spec
        self.executor = executor
        self.seed = seed
        """The run's seed: with (sender, kind, destination) it seeds each stochastic-rounding stream."""
        self.sent: dict[tuple[str, tuple[Any, ...]], int] = {}
        """Messages sent so far per (sender, key): the index a transform that changes over messages (top-k's
        warm-up: ``Transform.at_message``) is taken at, counted here so each size is known at the send."""

    def outgoing(self, src: str, dst: str, kind: str, payload: Any, nbytes: int | None, tag: Any = None) -> Outgoing:
        """The (payload, declared bytes) that travel: unchanged, or the packet and its formula's bytes.  The
        sender's error feedback and rounding stream are kept per (kind, destination), and per ``tag[0]`` as
        well for the spec's tagged kinds (one per parameter vector: testbed.compression.spec)."""
        transform = self.spec.get(kind)
        if transform is None:
            return Outgoing(payload, nbytes)
        if nbytes is None:
            if isinstance(payload, Handle):
                raise TypeError(f"a compressed {kind!r} message needs nbytes= (4 per float32 entry)")
            nbytes = payload_nbytes(payload)
        elif isinstance(payload, Handle):
            self.executor.check_nbytes(payload, nbytes, kind)  # the uncompressed formula still holds
        if nbytes % FLOAT_NBYTES:
            raise ValueError(f"a compressed {kind!r} message must be float32 entries, but is declared {nbytes} B")
        numel = nbytes // FLOAT_NBYTES
        key = (kind, dst, tag[0]) if kind in self.spec.tagged and isinstance(tag, tuple) else (kind, dst)
        index = self.sent.get((src, key), 0)
        self.sent[(src, key)] = index + 1
        transform = transform.at_message(index)
        packet = self.executor.call(src, "wire_compress", transform, key, payload, self.seed, src)
        return Outgoing(packet, transform.nbytes(numel), transform, numel)

    def incoming(self, dst: str, kind: str, payload: Any) -> Any:
        """What the receiver gets: the decompressed payload (a handle on its executor), or ``payload``."""
        if self.spec.get(kind) is None:
            return payload
        return self.executor.call(dst, "wire_decompress", payload)
