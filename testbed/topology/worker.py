"""One listed training worker of a topology, and node ids: written and read here only.

Why a module of its own: both the topology (:mod:`testbed.topology.model`, which lists workers and
re-exports these helpers) and a client population (:mod:`testbed.topology.population`, which builds
workers and their ids on demand) make them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testbed.topology.dynamics import STATIC, NodeDynamics


@dataclass(frozen=True)
class Worker:
    """One training worker: its id, where it is, how fast it computes."""

    node_id: str
    datacenter: str
    index: int
    speed: float = 1.0
    dynamics: NodeDynamics = STATIC
    """Availability, speed profile and slowdown (testbed.topology.dynamics), its datacenter's merged in."""


_WORKER_ID = re.compile(r"^w(\d+)$")


def join_node_id(datacenter: str, local: str) -> str:
    """The id of node ``local`` in ``datacenter``: ``('us-east', 'w3')`` -> ``'us-east/w3'``; a service
    node a method places (``'server'``, ``'ps0'``) is named the same way."""
    return f"{datacenter}/{local}"


def worker_id(datacenter: str, index: int) -> str:
    """Worker ``index`` of ``datacenter``: ``'us-east/w3'``."""
    return join_node_id(datacenter, f"w{index}")


def split_node_id(node: str) -> tuple[str, str]:
    """``'us-east/w3'`` -> ``('us-east', 'w3')`` (no check that either exists: :meth:`Topology.datacenter_of`)."""
    datacenter, _, local = node.partition("/")
    return datacenter, local


def worker_index(node: str) -> int | None:
    """``'us-east/w3'`` -> 3; None for a service node (``'us-east/server'``)."""
    match = _WORKER_ID.match(split_node_id(node)[1])
    return int(match.group(1)) if match else None
