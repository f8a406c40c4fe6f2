"""The whole contract between a distribution method and the testbed that runs it.

A method (Flower's ``Strategy`` spirit) only decides *who computes what and who sends what to
whom*.  Everything it may use is declared in this module, so a newcomer reads one file
(docs/adding-a-method.md walks through it):

* :class:`Session` -- the run as the method sees it: its workers and topology, the node setup, a
  seeded RNG, and the verbs (host a node state, call a node, resolve a value, spawn a process, ask
  whether to stop, complete an iteration, stop with a reason, ask whether a node is up).  Never the
  orchestrator behind it: not the wall clock, the evaluator, the progress bar, the files, the
  transport.  testbed.experiment.run implements it for real runs; tests/fake_session.py in a few lines.
* :class:`Context` -- what one node's process does, in virtual time: ``compute``, ``send``, ``recv``
  (by kind, source and tag, until a deadline or a crash), ``wait``, ``call``, ``resolve``.  The engine
  implements it (testbed.sim.context); :class:`Message`, :class:`Delivery` and :data:`Event` are its
  vocabulary, re-exported here so that no method imports the engine, the run or the experiment.
* :class:`Algorithm` -- what a method declares and does: its ``Params`` (the schema of its YAML block,
  testbed.methods.params), the compute task kinds it charges (``task_kinds``: each needs a
  calibration task on the state that runs it), the message kinds that may be compressed, its G/D
  update orders, where its generator(s) live (:meth:`Algorithm.generators`: snapshots with parameters
  *and* BatchNorm buffers, evaluated exactly as trained), which optimisers the lr columns are read
  from, its footing, what a crash does, what it measured of its own (:meth:`Algorithm.results`), what
  the dry-run estimator and replay need to know (:meth:`Algorithm.periodic_kinds`,
  :attr:`Algorithm.value_dependent`,
  :meth:`Algorithm.timing_dependence`), and what the conformance test (tests/test_conformance.py) runs it
  from and checks it against (:attr:`Algorithm.example_params`, :attr:`Algorithm.conformance_skips`,
  :meth:`Algorithm.expected_payload_nbytes`).  Methods register themselves by name (:func:`register`);
  a service node a method places is named by :func:`service_node` / :func:`server_node`.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import simpy

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_name
from testbed.core.registry import Registry
from testbed.sim.messages import Delivery, Message
from testbed.topology.model import Topology, join_node_id

if TYPE_CHECKING:
    from testbed.methods.common.setup import NodeSetup

__all__ = ["ALGORITHMS", "EMPTY", "Algorithm", "Context", "Delivery", "Event", "Message", "NoParams", "Process",
           "Session", "register"]

EMPTY = np.zeros(0, dtype=np.float32)
"""Stands in for a parameter segment a shard does not hold."""

Event = simpy.Event
"""What a node's process yields: ``yield ctx.compute(...)``, ``msg = yield ctx.recv(...)``."""


class Context(Protocol):
    """What one logical node's process may do, in virtual time (the engine's testbed.sim.context)."""

    node_id: str
    datacenter: str

    @property
    def now_s(self) -> float:
        """Current virtual time in seconds."""

    def compute(self, kind: str, method: str, *args: Any, units: float = 1.0, num_returns: int = 1,
                until_s: float = math.inf, **kwargs: Any) -> Event:
        """Run ``method`` on this node's state; completes after ``units`` x the compute model's cost of
        one task of ``kind`` (a kind the Algorithm lists in ``task_kinds``).  Value: the call's handle
        (a list of handles when ``num_returns`` > 1), or None at ``until_s`` if the task would end later
        (it is abandoned there; e.g. a FedAvg client that goes offline mid-round)."""

    def send(self, dst: str, payload: Any, kind: str, nbytes: int | None = None, tag: Any = None) -> Delivery:
        """Send ``payload`` to ``dst``; a computed payload (a handle) declares ``nbytes`` from the shapes
        (methods/common/sizes.py).  ``tag`` is header metadata (no bytes), e.g. the round a reply answers."""

    def recv(self, kind: str | tuple[str, ...] | None = None, src: str | None = None, tag: Any = None,
             until_s: float = math.inf, or_crash_of: str | Iterable[str] | None = None) -> Event:
        """Value: the next message matching ``kind``, ``src`` and ``tag`` (None matches any), or None once
        virtual time reaches ``until_s`` or a node of ``or_crash_of`` crashes (the wait is withdrawn)."""

    def wait(self, seconds: float) -> Event:
        """Idle for ``seconds`` of virtual time."""

    def call(self, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Run a cheap method (a read) on this node's state, outside virtual time; returns a handle."""

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (blocks on the executor: only where control flow needs a value)."""


Process = Callable[[Context], Generator[Event, Any, Any]]
"""A node's process: a generator over :class:`Context` events."""



class Session(Protocol):
    """What a method may use of the run it is part of -- and nothing else."""

    topology: Topology
    workers: Sequence[str]
    """The topology's worker node ids (``<dc>/w<i>``), in order; worker i has data shard i (with a client
    population, a lazy sequence: ``workers[i]`` and ``workers.index(node)`` without a string per client)."""
    setup: NodeSetup
    """Data, model, training settings and seed: what a node state is built from."""
    rng: np.random.Generator
    """The run's seeded RNG (client selection, batch assignment)."""
    iteration: int
    """Iterations completed so far."""

    def host(self, node: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Create node ``node``'s state as ``factory(*args, **kwargs)`` on its executor."""

    def host_population(self, datacenter: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Host ``datacenter``'s client population (``workers: {count: N}``) as one object, ``factory(*args,
        **kwargs)``, whose ``client(i)`` builds the state of client ``<datacenter>/w<i>`` when a call reaches it."""

    def call(self, node: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Run a cheap method (a read) on a node's state, outside virtual time; returns a handle."""

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (blocks: only for setup and control flow)."""

    def spawn(self, node: str, process: Process) -> None:
        """Start node ``node``'s process on the virtual-time engine."""

    def should_stop(self) -> bool:
        """True once a stop condition (iterations, virtual time, bytes) has been met."""

    def complete_iteration(self) -> None:
        """One iteration of the method finished (the run may evaluate or stop)."""

    def stop(self, reason: str) -> None:
        """End the run now with ``reason`` as its stop_reason (e.g. a node the method needs crashed)."""

    def available(self, node: str) -> bool:
        """Whether ``node`` is up at the current virtual time (topology ``availability``; testbed.sim.node_clock)."""

    def next_change_s(self, node: str, after_s: float | None = None) -> float:
        """The first virtual time after ``after_s`` (default: now; an earlier time asks about the past) at
        which ``node``'s availability changes (``inf``: never)."""

    def crash_time_s(self, node: str) -> float:
        """The virtual time at which ``node`` crashes for good (``inf``: never)."""


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For methods without parameters."""


class Algorithm(ABC):
    """Base class of every registered method."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    task_kinds: ClassVar[tuple[str, ...]] = ()
    """Compute task kinds this method charges (calibrated before training): every ``ctx.compute(kind, ...)``
    names one, and the state that runs it has a calibration task for it."""
    crash_note: ClassVar[str] = "it cannot go on without it"
    """Why a crash stops this method (the default :meth:`node_crashed` puts it in the stop reason)."""
    update_orders: ClassVar[tuple[str, ...]] = ("simultaneous",)
    """G/D update orders the method offers (``training.update_order``); the first is its native one."""
    compressible_kinds: ClassVar[tuple[str, ...]] = ()
    """Message kinds whose payloads are float32 tensors, so ``network.compression`` may name them."""
    supports_population: ClassVar[bool] = False
    """Whether the method runs on a client population (``workers: {count: N}``): it builds each client's state
    when the client is chosen (Session.host_population) and never walks every worker; others are refused."""
    gradient_kinds: ClassVar[tuple[str, ...]] = ()
    """Of those, the kinds whose successive messages (to one destination) are gradients of one parameter
    vector, so compression's error feedback may carry a residual from one to the next (on by default)."""
    tagged_gradient_kinds: ClassVar[tuple[str, ...]] = ()
    """Of the gradient kinds, those whose messages to one destination interleave the gradients of several
    parameter vectors, told apart by the first element of the message's tag (Streaming DiLoCo's fragment p):
    error feedback keeps one residual per (kind, destination, tag[0])."""
    value_dependent: ClassVar[str] = ""
    """Why the method's bytes depend on the trained values ('' where they do not): the dry-run estimate is
    then an upper bound, marked ``~``."""
    example_params: ClassVar[dict[str, Any]] = {}
    """A small ``algorithm:`` block (without ``name``) that exercises the method's messages: the conformance
    test (tests/test_conformance.py) runs every registered method from it, on datacenters ``a``, ``b``, ``c``
    with 2, 1 and 2 workers (ring8, a 16-unit MLP, batch 16, a few iterations)."""
    conformance_skips: ClassVar[dict[str, str]] = {}
    """Conformance checks this method cannot pass, check name -> why (the checks: tests/test_conformance.py)."""

    def __init__(self, session: Session, params: Any) -> None:
        self.session = session
        self.params = params

    @classmethod  # noqa: B027 - an optional hook, empty by default
    def validate(cls, params: Any, topology: Topology, src: str) -> None:
        """Check parameters against the topology (e.g. ``server_at``); raise ConfigError."""

    @abstractmethod
    def setup(self) -> None:
        """Host every node's state through the session."""

    @abstractmethod
    def start(self) -> None:
        """Spawn the node processes through the session."""

    @abstractmethod
    def generators(self) -> dict[str, Any]:
        """Label -> snapshot of each generator the method trains, as handles: ``{"params", "buffers"}``
        read from the node that holds G, or ``{"segments", "buffers"}`` for a G held by PS shards."""

    @abstractmethod
    def lr_probes(self) -> list[Any]:
        """Handles of ``current_lrs()`` calls on the nodes whose optimisers train G and D."""

    @abstractmethod
    def footing(self) -> dict[str, Any]:
        """``update_order``, what one ``iteration`` is, and the optimiser steps it applies to G and D
        (``g_steps_per_iteration``, ``d_steps_per_iteration``, summed over every copy of each net)."""

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Node ``node`` crashed at ``t_s`` (its process has stopped, its state is lost): return the run's
        stop reason, or None where the method goes on without it.  Default: stop, naming the node."""
        return f"crashed: {node} at {t_s:g}s ({self.name}: {self.crash_note})"

    def expected_payload_nbytes(self) -> dict[str, int] | None:
        """Payload bytes per message kind that the documented formula gives for the iterations completed so
        far (``session.iteration``), for a run without churn -- read after the run, from this method's own
        plan and the shapes (testbed.methods.common.sizes); kinds with no bytes may be left out.  None where
        the formula does not fix them in advance (value-dependent, asynchronous): then ``value_dependent``
        or ``conformance_skips["bytes"]`` says why.  The conformance test compares it with the accountant."""
        return None

    def results(self) -> dict[str, Any]:
        """What the method measured beyond the testbed's own columns (FedBuff's staleness histogram,
        HierFAVG's bytes per tier), read after the run; ``summary.json`` holds it as ``method_results``.
        Default: nothing."""
        return {}

    def periodic_kinds(self) -> dict[str, int]:
        """Message kinds sent every P iterations rather than every one, with their P (read after
        :meth:`setup`): the dry-run estimator takes them out of its slope and adds them back per period."""
        return {}

    @classmethod
    def timing_dependence(cls, params: Any, topology: Topology) -> str | None:
        """None where, for these parameters on this topology, every node computes the same things on the same
        values, sends the same messages and receives them, whatever the link and compute times -- so a finished
        run can be replayed exactly on another network (``testbed replay``, docs/design.md §7); otherwise why
        not, in one sentence.  Declare it beside the byte formula.  What no method controls -- ``compute:
        measured``, node availability, another training -- is checked by the replay itself
        (testbed.experiment.exactness), which also checks each replay's op trace against the recorded one.
        Default: not declared, so not replayable exactly."""
        return f"{cls.name} does not declare that its operations are independent of timing"

    def snapshot_of(self, node: str) -> Any:
        """The snapshot handle of a node holding a whole G (worker, server, learner)."""
        return self.session.call(node, "generator_snapshot")

    def probes_of(self, nodes: list[str]) -> list[Any]:
        """``current_lrs()`` handles of ``nodes``."""
        return [self.session.call(node, "current_lrs") for node in nodes]

    def calibration_node(self, kind: str) -> str:
        """A node whose state can time tasks of ``kind`` (default: the first worker)."""
        return self.session.workers[0]


ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm")


def register(name: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
    """Class decorator: register an algorithm under ``name`` (the YAML's ``algorithm.name``)."""

    def add(cls: type[Algorithm]) -> type[Algorithm]:
        cls.name = name
        return ALGORITHMS.add(name, cls)

    return add


def check_datacenter(value: Any, topology: Topology, src: str, fieldname: str = "algorithm.server_at") -> None:
    """ConfigError unless ``value`` (a name or a non-empty list of names; None: the default) names datacenters
    of the topology; a name YAML read as a boolean or number (``server_at: no``) is told to be quoted."""
    if value is None:
        return
    names = list(value) if isinstance(value, (list, tuple)) else [value]
    if not names:
        raise ConfigError(src, fieldname, "is an empty list", "name at least one datacenter, or leave it out")
    for name in names:
        checked_name(name, src, fieldname)
        if not topology.has_datacenter(name):
            raise ConfigError(src, fieldname, f"{name!r} is not a datacenter of topology {topology.name!r}",
                              f"use one of {[dc.name for dc in topology.datacenters]}")


def check_one_datacenter(value: Any, topology: Topology, src: str, fieldname: str = "algorithm.server_at") -> None:
    """As :func:`check_datacenter`, for parameters that take exactly one datacenter."""
    if isinstance(value, (list, tuple, dict)):
        raise ConfigError(src, fieldname, f"expected one datacenter, got {value!r}", "name a single datacenter")
    check_datacenter(value, topology, src, fieldname)


MAX_BATCH_SIZE = 65536


def check_batch_size(value: int, src: str, symbol: str = "b") -> None:
    """ConfigError unless a method's own ``batch_size`` is in [0, 65536] (0: use ``training.batch_size``)."""
    if not 0 <= value <= MAX_BATCH_SIZE:
        raise ConfigError(src, "algorithm.batch_size", f"{value} is outside [0, {MAX_BATCH_SIZE}]",
                          f"use {symbol} >= 1, or 0 for training.batch_size")


def server_datacenters(value: Any, topology: Topology) -> list[str]:
    """``server_at`` as a list of datacenters (default: the first datacenter)."""
    if value is None:
        return [topology.datacenters[0].name]
    return [value] if isinstance(value, str) else list(value)


def service_node(datacenter: str, name: str) -> str:
    """The id of a service node a method places: ``name`` (``server``, ``ps0``, ``learner``) in ``datacenter``."""
    return join_node_id(datacenter, name)


def server_node(server_at: Any, topology: Topology, name: str = "server") -> str:
    """The one service node ``name`` a method places at ``server_at`` (default: the first datacenter)."""
    return service_node(server_datacenters(server_at, topology)[0], name)


def workers_by_datacenter(session: Session) -> dict[str, list[str]]:
    """The session's workers grouped by datacenter, in topology order (datacenters without workers left out)."""
    groups: dict[str, list[str]] = {}
    for worker in session.workers:
        groups.setdefault(session.topology.datacenter_of(worker), []).append(worker)
    return groups
