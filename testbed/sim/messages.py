"""What travels and what a sender holds: the delivered :class:`Message` and the :class:`Delivery` event.

Why a module of its own: the method contract (testbed.methods.api) re-exports these two types; they
are all a method needs of the engine's vocabulary, so the methods never import the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import simpy


@dataclass(frozen=True)
class Message:
    """A delivered message."""

    seq: int
    src: str
    dst: str
    kind: str
    payload: Any
    payload_nbytes: int
    t_send_s: float
    t_arrive_s: float
    tag: Any = None
    """Protocol metadata the sender attaches (e.g. the round a reply answers); not counted as bytes,
    like the other header fields (``network.header_nbytes`` stands for all of them)."""


class Delivery(simpy.Event):
    """Fires with the :class:`Message` when it arrives; knows the message's sequence number at once."""

    def __init__(self, env: simpy.Environment, seq: int, t_send_s: float, wire_nbytes: int) -> None:
        super().__init__(env)
        self.seq = seq
        self.t_send_s = t_send_s
        self.wire_nbytes = wire_nbytes
        """Payload plus header: the bytes the flow carries."""

    def arrive(self, message: Message) -> None:
        """The message is delivered: fire with it.  A delivery that nobody waits for (no callbacks yet: most
        sends are never yielded) is marked processed at once instead of going through SimPy's queue, where
        it would have been popped with nothing to call; the other events keep their order.  Yielding it
        later returns the message at once, as yielding any processed event does."""
        if self.callbacks:
            self.succeed(message)
        else:
            self._ok, self._value, self.callbacks = True, message, None  # type: ignore[assignment]
