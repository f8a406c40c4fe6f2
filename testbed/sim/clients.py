"""The engine's side of a client population: a client's node is let go when its process ends.

Why a module of its own: a population of a million clients must not leave a mailbox, a context and a
stats record per client it ever chose (testbed.topology.population).  :class:`ClientRetirement` (mixed
into testbed.sim.engine.Engine) wraps a population client's process: when the last process of that
client ends with nothing in its mailbox, its mailbox and context go and its stats are added to its
datacenter's (:meth:`ClientRetirement.node_stats` reports them as one node, ``<dc>/*``).  A later
message or process builds the node anew (the engine registers nodes lazily).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from testbed.sim.context import NodeContext, NodeStats
from testbed.sim.mailbox import Mailbox
from testbed.topology.model import Topology


class ClientRetirement:
    """Lets population clients' nodes go when their processes end (mixed into the engine)."""

    topology: Topology
    stats: dict[str, NodeStats]
    _mailboxes: dict[str, Mailbox]
    _contexts: dict[str, NodeContext]

    def _init_clients(self) -> None:
        self.population_stats: dict[str, NodeStats] = {}
        """Per population datacenter: the summed stats of its clients whose processes have ended."""
        self._live: dict[str, int] = {}  # population clients: processes running

    def _retiring(self, node_id: str, gen: Generator[simpy.Event, Any, Any]) -> Generator[simpy.Event, Any, Any]:
        self._live[node_id] = self._live.get(node_id, 0) + 1
        try:
            return (yield from gen)
        finally:
            self._live[node_id] -= 1
            if not self._live[node_id]:
                del self._live[node_id]
            mailbox = self._mailboxes.get(node_id)
            if mailbox is not None and not len(mailbox) and node_id not in self._live:
                stats = self.stats.pop(node_id)
                del self._mailboxes[node_id], self._contexts[node_id]
                self.population_stats.setdefault(self.topology.datacenter_of(node_id), NodeStats()).add(stats)

    def node_stats(self) -> dict[str, NodeStats]:
        """Where each node's virtual time went; a population's clients summed into one entry, ``<dc>/*``."""
        out = {f"{dc}/*": NodeStats().add(stats) for dc, stats in self.population_stats.items()}
        for node, stats in self.stats.items():
            if self.topology.is_client(node):
                out.setdefault(f"{self.topology.datacenter_of(node)}/*", NodeStats()).add(stats)
            else:
                out[node] = stats
        return out
