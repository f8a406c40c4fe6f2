"""The G and D a process's FedAvg clients train their rounds on, one pair shared by all of them.

A FedAvg client keeps no model between rounds (so 10,000 of them fit in memory), but building G
and D from the seeded initial weights every round -- and then overwriting them with the server's
-- costs a model build per client per round.  Rounds on one executor run one at a time, so its
clients can share one pair instead (and a batched group of K rounds, K pairs).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from testbed.gan import GanState
from testbed.methods.common.setup import NodeSetup


class ScratchModels:
    """One G and D per (run setup, device) in a process, loaded with each client's round in turn.

    Each round first resets every buffer to the freshly built model's (G's BatchNorm statistics
    are then overwritten by the server's; D's never travel, so they start each round as a fresh
    D's would), then loads the server's parameters.  Results are identical to building anew
    (tests/test_fedavg_scratch.py)."""

    _pairs: ClassVar[dict[tuple[NodeSetup, str, int], ScratchModels]] = {}

    def __init__(self, state: GanState) -> None:
        self.state = state
        self.initial_buffers = {net: [b.detach().clone() for b in module.buffers()]
                                for net, module in (("G", state.G), ("D", state.D))}

    @classmethod
    def of(cls, setup: NodeSetup, device: str, slot: int = 0) -> ScratchModels:
        """The shared pair for this setup and device (built on first use); ``slot`` > 0: further pairs, for
        batched rounds, where K clients train side by side."""
        key = (setup, device, slot)
        if key not in cls._pairs:
            if any(k[:2] != key[:2] for k in cls._pairs):
                cls._pairs.clear()  # one run's setup at a time: a process that runs another run drops the old pairs
            cls._pairs[key] = cls(setup.gan_state(device))
        return cls._pairs[key]

    def reset_buffers(self) -> None:
        """Every buffer of G and D back to the freshly built model's values."""
        with torch.no_grad():
            for net, module in (("G", self.state.G), ("D", self.state.D)):
                for buffer, initial in zip(module.buffers(), self.initial_buffers[net], strict=True):
                    buffer.copy_(initial)
