"""What lives on an executor for hierarchical FedAvg: clients, edge aggregators and the cloud.

All three are FedAvg's (testbed.methods.fedavg.state), imported rather than copied: a client is a
:class:`~testbed.methods.fedavg.state.FedAvgClient` (a round from the weights it was sent, a fresh
Adam) that trains exactly kappa_1 local steps; an edge aggregator and the cloud are FedAvg's
:class:`~testbed.methods.fedavg.state.Aggregator` (weighted average of G snapshots and D, BatchNorm
statistics included), the edge able to take the cloud's model as its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.methods.common.population import ClientPopulation
from testbed.methods.fedavg.state import Aggregator, FedAvgClient


def epochs_for_steps(steps: int, num_samples: int, batch_size: int) -> float:
    """The ``local_epochs`` E that makes a FedAvg round exactly ``steps`` local steps.

    A round is ceil(E ceil(n_k / B)) steps (testbed.methods.fedavg.state.local_steps); E = (steps - 1/2) /
    ceil(n_k / B) puts E ceil(n_k / B) half a step below ``steps``, so float rounding cannot tip the ceiling."""
    return (steps - 0.5) / max(1, -(-num_samples // batch_size))


class HierClient(FedAvgClient):
    """A FedAvg client whose round is kappa_1 local steps (the edge round of Liu et al.)."""

    def hier_round(self, g: dict[str, Any], d: dict[str, np.ndarray], steps: int, batch_size: int,
                   lr_factor: float, round_id: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``steps`` local steps from the edge's (g, d) with a fresh Adam, batch and noise streams seeded by
        ``round_id`` (the edge round: kappa_2 r + j); returns G's snapshot and D."""
        return self.fedavg_round(g, d, epochs_for_steps(steps, self.num_samples(), batch_size), batch_size,
                                 lr_factor, round_id)


class HierPopulation(ClientPopulation):
    """A population datacenter's HierFAVG clients, each built for the edge round it is handed."""

    client_type = HierClient


class EdgeAggregator(Aggregator):
    """An edge server: FedAvg's aggregator over its datacenter's clients, loaded with the cloud's model."""

    def load(self, g: dict[str, Any], d: dict[str, np.ndarray]) -> None:
        """Take the cloud's global G snapshot and D as this edge's model."""
        self.g, self.d = g, d
