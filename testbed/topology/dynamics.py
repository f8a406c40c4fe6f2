"""What a node does over time, as plain data: availability, crashes, speed profile, slowdowns.

FL and geo-distributed deployments are not a fixed set of equally fast machines: clients come
and go (FedScale's availability traces), machines crash, and stragglers run slower for a while or
for one unlucky step.  The topology YAML says so per worker (or per datacenter, for its workers and
service nodes); this module holds the parsed, frozen form (:mod:`testbed.topology.dynamics_schema`
parses it, :mod:`testbed.sim.node_clock` turns it into functions of virtual time, seeded by the run).

A node without any of these keys is *static*: the engine charges it exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testbed.topology.availability_trace import AvailabilityTrace


@dataclass(frozen=True)
class Availability:
    """When a node is up: explicit ``down`` intervals ``[start, end)``, a seeded on/off model
    (exponential up and down times with means ``mean_up_s`` / ``mean_down_s``, starting up), or a
    ``trace`` of a client population (testbed.topology.availability_trace: a worker takes one client's
    intervals; service nodes stay up); and an optional ``crash_at_s`` after which the node is gone for
    good (its process stops)."""

    down_s: tuple[tuple[float, float], ...] = ()
    mean_up_s: float | None = None
    mean_down_s: float | None = None
    crash_at_s: float | None = None
    trace: AvailabilityTrace | None = None

    @property
    def on_off(self) -> bool:
        """Whether the seeded on/off model is used (else the explicit intervals)."""
        return self.mean_up_s is not None


@dataclass(frozen=True)
class Slowdown:
    """A seeded per-compute-call slowdown factor: ``lognormal`` (exp(sigma z), z ~ N(0, 1): median 1)
    or ``bernoulli`` (``factor`` with probability ``p``, else 1)."""

    kind: str
    sigma: float = 0.0
    p: float = 0.0
    factor: float = 1.0


@dataclass(frozen=True)
class NodeDynamics:
    """A node's time-varying behaviour: ``speed_profile`` steps ``(at_s, speed)`` (before the first
    step, the node's own ``speed``), a ``slowdown`` and an ``availability`` (None: always up)."""

    speed_profile: tuple[tuple[float, float], ...] = ()
    slowdown: Slowdown | None = None
    availability: Availability | None = None

    @property
    def static(self) -> bool:
        """True when nothing varies: the engine's original charge applies unchanged."""
        return not self.speed_profile and self.slowdown is None and self.availability is None

    def merged_over(self, default: NodeDynamics) -> NodeDynamics:
        """This worker's own settings, each falling back to its datacenter's ``default``."""
        return NodeDynamics(self.speed_profile or default.speed_profile, self.slowdown or default.slowdown,
                            self.availability or default.availability)


STATIC = NodeDynamics()
