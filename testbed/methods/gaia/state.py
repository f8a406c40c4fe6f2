"""A Gaia datacenter parameter server: full G and D, the update accumulator, the significance filter.

Gaia (Hsieh et al., NSDI 2017) keeps one parameter server per datacenter holding
the whole model.  It applies its own workers' gradients (Adam) and, separately,
remembers *how much it changed each parameter* since it last told the other
datacenters (``accumulated``).  The Approximate Synchronous Parallel filter picks
the parameters whose accumulated change is significant relative to their current
value, ``|accumulated| > v_t * |w|`` (the multiplicative form of
``|accumulated / w| > v_t``, so that a zero weight with a non-zero update counts as
significant rather than dividing by zero), hands out ``(index, value)`` pairs as
int32 + float32 arrays (8 B per entry, what crosses the WAN) and zeroes those
entries of the accumulator.  Updates received from mirrors are added to the
parameters but never to the accumulator: a DC only forwards its own updates.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from testbed.methods.common.setup import NodeSetup
from testbed.methods.ps.state import ParamShard


def significance_threshold(threshold: float, clock: int, decay: bool) -> float:
    """v_t: ``threshold / sqrt(clock)`` with decay (clock >= 1), else ``threshold``."""
    return threshold / math.sqrt(max(clock, 1)) if decay else threshold


def select_significant(accumulated: np.ndarray, weights: np.ndarray, v_t: float) -> np.ndarray:
    """Indexes (int32, ascending) of the entries with ``|accumulated| > v_t * |weights|``."""
    return np.flatnonzero(np.abs(accumulated) > v_t * np.abs(weights)).astype(np.int32)


class GaiaServer(ParamShard):
    """The whole flat ``[G; D]`` vector of one datacenter, with Adam and the ASP filter."""

    def __init__(self, setup: NodeSetup, total: int, threshold: float, decay: bool, device: str = "cpu") -> None:
        super().__init__(setup, 0, total, device=device)
        self.threshold = threshold
        self.decay = decay
        self.accumulated = np.zeros(total, dtype=np.float32)
        self.sent_entries: list[tuple[int, int]] = []
        """(clock, number of significant entries selected) per filter call: the replay the tests check."""

    def _flat(self) -> np.ndarray:
        g, d = self.segments()
        return np.concatenate([g, d])

    def _add(self, index: np.ndarray, value: np.ndarray) -> None:
        """Add ``value`` at ``index`` of the flat [G; D] vector, in place (no optimiser step)."""
        with torch.no_grad():
            at = 0
            for param in (self.g, self.d):
                if param is None:
                    continue
                mask = (index >= at) & (index < at + param.numel())
                if mask.any():
                    local = torch.as_tensor(index[mask] - at, dtype=torch.long, device=param.device)
                    param.index_add_(0, local, torch.as_tensor(value[mask], device=param.device))
                at += param.numel()

    def apply(self, *pushes: np.ndarray) -> int:
        """As :meth:`apply_at` with the lr of update number ``version`` (BSP: version = clock)."""
        return self.apply_at(self.version, *pushes)

    def apply_at(self, clock: int, *pushes: np.ndarray) -> int:
        """Average the pushed gradients, take one Adam step at the learning rate of DC clock
        ``clock`` (Gaia's iteration unit: under bounded delay a clock spans one push per worker),
        and accumulate the change it made."""
        before = self._flat()
        version = self._step(clock, pushes)
        self.accumulated += self._flat() - before
        return version

    def filter_updates(self, clock: int) -> tuple[int, dict[str, np.ndarray], np.ndarray]:
        """ASP at local clock ``clock``: (count, {index, value} to send, index) of the significant
        accumulated updates; their accumulator entries restart from zero."""
        v_t = significance_threshold(self.threshold, clock, self.decay)
        index = select_significant(self.accumulated, self._flat(), v_t)
        value = self.accumulated[index].copy()
        self.accumulated[index] = 0.0
        self.sent_entries.append((int(clock), int(index.size)))
        return int(index.size), {"index": index, "value": value}, index

    def sent_log(self) -> list[tuple[int, int]]:
        """:attr:`sent_entries` (readable through any executor)."""
        return list(self.sent_entries)

    def apply_mirror(self, update: dict[str, np.ndarray]) -> int:
        """Add a mirror's significant updates to the local copy (no optimiser step, not re-forwarded)."""
        self._add(update["index"], update["value"])
        return int(update["index"].size)
