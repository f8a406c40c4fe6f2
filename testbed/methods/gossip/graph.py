"""Who averages with whom: the gossip graphs over the workers, and their mixing weights.

Why a module of its own: the graph is the one design choice of decentralised training (Lian et al.,
NeurIPS 2017: D-PSGD converges like centralised SGD when the mixing matrix is symmetric and doubly
stochastic and the graph connected; how fast depends on its spectral gap), and on a WAN it is also what
decides the bytes per link.  Three graphs, by name (``algorithm.graph``):

* ``ring`` -- one ring over every worker in topology order, datacenter by datacenter, so it crosses the
  WAN only where one datacenter's block meets the next (K WAN edges for K >= 3 datacenters); degree 2.
* ``datacenter-ring`` -- every datacenter's workers fully connected over the LAN, and the datacenters in
  a ring joined by one WAN edge between their first workers: the same K WAN edges, faster mixing inside.
* ``random-matching`` -- every round a fresh, seeded, uniformly random perfect matching of the workers
  (one sits out when N is odd): the topology-blind baseline (most random pairs cross the WAN).

Weights are Metropolis-Hastings (Xiao & Boyd 2004): w_ij = 1 / (1 + max(deg_i, deg_j)) on an edge,
w_ii = 1 - sum_j w_ij -- symmetric and doubly stochastic on any undirected graph (1/3 each on a ring,
1/2 on a matching).  A neighbour that crashes is dropped and its weight goes to the worker itself, which
keeps the matrix over the live workers symmetric and doubly stochastic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

GRAPHS = ("ring", "datacenter-ring", "random-matching")


def _ring_edges(nodes: list[str]) -> set[frozenset[str]]:
    """A ring over ``nodes`` in order: n edges (n >= 3), one (n = 2), none (n < 2)."""
    if len(nodes) < 2:
        return set()
    return {frozenset((a, b)) for a, b in zip(nodes, [*nodes[1:], nodes[0]], strict=True) if a != b}


def static_edges(graph: str, groups: dict[str, list[str]]) -> set[frozenset[str]]:
    """The undirected edges of a fixed graph over the workers, grouped by datacenter in topology order."""
    if graph == "ring":
        return _ring_edges([w for workers in groups.values() for w in workers])
    if graph == "datacenter-ring":
        inside = {frozenset(pair) for workers in groups.values() for pair in itertools.combinations(workers, 2)}
        return inside | _ring_edges([workers[0] for workers in groups.values()])
    raise ValueError(f"{graph!r} is not a fixed graph")


def random_matching(workers: list[str], rng: np.random.Generator) -> set[frozenset[str]]:
    """A uniformly random perfect matching of ``workers`` (the last of a random order sits out if odd)."""
    order = [workers[i] for i in rng.permutation(len(workers))]
    return {frozenset(order[i:i + 2]) for i in range(0, len(order) - 1, 2)}


def metropolis_weights(edges: set[frozenset[str]]) -> dict[str, dict[str, float]]:
    """Node -> neighbour -> w_ij = 1 / (1 + max(deg_i, deg_j)) (each node's own weight is what is left)."""
    degree: dict[str, int] = {}
    for edge in edges:
        for node in edge:
            degree[node] = degree.get(node, 0) + 1
    weights: dict[str, dict[str, float]] = {}
    for edge in sorted(edges, key=sorted):  # a set's order follows string hashes, which differ per process
        a, b = sorted(edge)
        w = 1.0 / (1 + max(degree[a], degree[b]))
        weights.setdefault(a, {})[b] = w
        weights.setdefault(b, {})[a] = w
    return weights


@dataclass
class GossipGraph:
    """The graph of each averaging round (0, 1, ...): fixed, or a seeded matching drawn in round order."""

    graph: str
    groups: dict[str, list[str]]
    rng: np.random.Generator
    rounds: list[dict[str, dict[str, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workers = [w for workers in self.groups.values() for w in workers]
        self.fixed = None if self.graph == "random-matching" else metropolis_weights(
            static_edges(self.graph, self.groups))

    def neighbours(self, round_index: int, node: str) -> dict[str, float]:
        """``node``'s neighbours in round ``round_index``, in topology order, and their weights (the same for
        any caller order: a process sends in this order, so it must not depend on the process's hashing)."""
        if self.fixed is None:
            while len(self.rounds) <= round_index:
                self.rounds.append(metropolis_weights(random_matching(self.workers, self.rng)))
        weights = (self.fixed if self.fixed is not None else self.rounds[round_index]).get(node, {})
        return {n: weights[n] for n in self.workers if n in weights}

    def messages_per_round(self) -> int:
        """Models sent per averaging round without churn: twice the round's edges (one each way)."""
        if self.fixed is not None:
            return sum(len(n) for n in self.fixed.values())
        return 2 * (len(self.workers) // 2)
