"""Where the real compute happens: the executor interface and its in-process form.

An executor hosts the state (models, optimiser state, data shard, RNG) of many
logical nodes and runs method calls on it.  The engine dispatches a call and gets
a :class:`Handle` back at once; it only asks for the value (:meth:`Executor.resolve`)
when control flow needs it.  Handles can be passed as arguments to later calls,
on any node: the executor resolves them where the call runs.  That is all an
algorithm sees, so it runs unchanged on :class:`InProcessExecutor` (unit tests,
one process) and on the Ray executor in ``testbed.runtime`` (real actors, possibly
GPUs), which implements the same interface.
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from testbed.core.finite import first_non_finite, require_finite
from testbed.core.payload import payload_nbytes
from testbed.core.tree import map_leaves
from testbed.exec.devices import describe_device, use_deterministic


class Handle:
    """A reference to a value produced on an executor (opaque to algorithms)."""


@dataclass
class LocalHandle(Handle):
    """In-process handle: the value itself and how long the call took (wall seconds).

    A handle's value is what its call returned (on Ray, an immutable object), so its size and its
    finite check are worked out once, at its first send, however many nodes it is then sent to (a
    shard's segments go to every worker, a FedAvg server's model to every chosen client).  A numpy
    array, or a dict of them at any depth, is checked as soon as its call returns, while it is still in
    the caches (at its send, after other nodes' training steps, the same dot product costs ~1.5x as
    much: benchmarks/finite_checks.py --when); a NaN is still raised at its send."""

    value: Any
    elapsed_s: float
    nbytes: int | None = field(default=None, compare=False)
    """The value's payload bytes, once asked (testbed.core.payload.payload_nbytes)."""
    finite: bool = field(default=False, compare=False)
    """True once the value was checked to hold no NaN or infinity (testbed.core.finite)."""


class Executor(ABC):
    """Runs method calls on the state of logical nodes."""

    @abstractmethod
    def host(self, node_id: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Create node ``node_id``'s state object as ``factory(*args, **kwargs)``."""

    def host_population(self, datacenter: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Host the clients ``<datacenter>/w<i>`` of a population as one object, ``factory(*args, **kwargs)``,
        whose ``client(i)`` gives client i's state when a call reaches it (built on demand, not kept)."""
        raise NotImplementedError(f"{type(self).__name__} does not host client populations")

    @abstractmethod
    def call(self, node_id: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Run ``state.method(*args, **kwargs)``; handles among args are resolved first.

        Returns one :class:`Handle`, or a list of ``num_returns`` handles when the method
        returns that many values (so each can be sent to a different node).
        """

    @abstractmethod
    def resolve(self, handle: Handle) -> Any:
        """The value behind a handle (blocks until it is computed)."""

    def known_nbytes(self, handle: Handle) -> int | None:
        """Payload bytes of the value behind ``handle`` if known without waiting for it, else None.

        The engine sizes a message the moment it is sent; it must never block on a computation
        to do so (on Ray that would be a driver-side get per message)."""
        return None

    def check_nbytes(self, handle: Handle, nbytes: int, kind: str) -> None:  # noqa: B027 - optional check
        """Verify a sender's declared size where that costs nothing (the in-process executor)."""

    def check_finite(self, payload: Any, kind: str, src: str, dst: str) -> None:  # noqa: B027 - optional check
        """Raise :class:`~testbed.core.finite.NonFiniteError` if a message's payload holds NaN or infinity,
        where the value is at hand without waiting (in process); Ray actors keep their values, and a run
        on them is checked at every evaluation instead (testbed.core.finite)."""

    @abstractmethod
    def elapsed_s(self, handle: Handle) -> float:
        """Measured wall seconds of the call that produced ``handle`` (blocks)."""

    def barrier(self) -> None:  # noqa: B027 - in-process calls are already done
        """Block until every call dispatched so far has finished."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release resources (actors, GPUs)."""

    def devices(self) -> dict[str, dict[str, str]]:
        """Each executor process's device, by name (testbed.exec.devices.describe_device)."""
        return {"inprocess": describe_device(getattr(self, "device", "cpu"))}

    def process_of(self, node_id: str) -> str:
        """The name of the process that hosts ``node_id`` (one per executor process)."""
        return "inprocess"

    def set_deterministic(self, flag: bool) -> bool:
        """Torch's deterministic algorithms on or off in every executor process; returns the previous setting."""
        return use_deterministic(flag)


def set_torch_threads(threads: int) -> None:
    """Pin torch's intra-op threads for this process.

    Tiny GAN models gain nothing from more threads, and on a loaded machine torch's
    default (one per core) oversubscribes the CPU: measured here, a ps step on ring8
    ran 10x slower with 2 threads than with 1 while other work shared the 2 cores.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))


def construct(factory: Callable[..., Any], device: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Build a node state, passing ``device=`` if the factory takes it (executors share this)."""
    try:
        wants_device = "device" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        wants_device = False
    return factory(*args, **({"device": device} if wants_device else {}), **kwargs)


class InProcessExecutor(Executor):
    """Runs every call eagerly in this process (tests; small experiments)."""

    def __init__(self, device: str = "cpu", torch_threads: int | None = 1) -> None:
        self.device = device
        self._states: dict[str, Any] = {}
        self._populations: dict[str, Any] = {}
        if torch_threads:
            set_torch_threads(torch_threads)

    def host(self, node_id: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if node_id in self._states:
            raise ValueError(f"node {node_id!r} is already hosted")
        self._states[node_id] = construct(factory, self.device, args, kwargs)

    def host_population(self, datacenter: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if datacenter in self._populations:
            raise ValueError(f"the population of {datacenter!r} is already hosted")
        self._populations[datacenter] = construct(factory, self.device, args, kwargs)

    def state(self, node_id: str) -> Any:
        """The state object of a node (for tests and inspection; a population's client is built anew)."""
        state = self._states.get(node_id)
        if state is None:
            datacenter, _, local = node_id.partition("/")
            population = self._populations.get(datacenter)
            if population is None or not local.startswith("w"):
                raise KeyError(f"node {node_id!r} is not hosted")
            return population.client(int(local[1:]))
        return state

    def call(self, node_id: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        target = getattr(InProcessExecutor.state(self, node_id), method)
        args = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        start = time.perf_counter()
        value = target(*args, **kwargs)
        elapsed = time.perf_counter() - start
        handles = [LocalHandle(v, elapsed) for v in split_returns(value, num_returns, method)]
        for handle in handles:
            if _arrays(handle.value):  # checked now, while it is in the caches (see LocalHandle)
                handle.finite = first_non_finite(handle.value) is None
        return handles[0] if num_returns == 1 else handles

    def resolve(self, handle: Handle) -> Any:
        return _unwrap(handle)

    def known_nbytes(self, handle: Handle) -> int | None:
        return _handle_nbytes(handle)  # the value is already here

    def check_nbytes(self, handle: Handle, nbytes: int, kind: str) -> None:
        check_declared_nbytes(nbytes, _handle_nbytes(handle), kind)

    def check_finite(self, payload: Any, kind: str, src: str, dst: str) -> None:
        if isinstance(payload, LocalHandle):
            if not payload.finite:
                require_finite(payload.value, f"a {kind} message from {src} to {dst}")
                payload.finite = True
            return
        require_finite(_unwrap(payload), f"a {kind} message from {src} to {dst}")

    def elapsed_s(self, handle: Handle) -> float:
        assert isinstance(handle, LocalHandle)
        return handle.elapsed_s


def map_handles(value: Any, fn: Callable[[Handle], Any]) -> Any:
    """``value`` with every handle in it replaced by ``fn(handle)``: handles may sit at any depth of
    lists, tuples and mappings (e.g. an evaluation's snapshots; testbed.core.tree)."""
    return map_leaves(value, fn, lambda v: isinstance(v, Handle))


def split_returns(value: Any, num_returns: int, method: str) -> list[Any]:
    """A call's value as the list of its ``num_returns`` values (every executor, in process or on an actor)."""
    values = [value] if num_returns == 1 else list(value)
    if len(values) != num_returns:
        raise ValueError(f"{method} returned {len(values)} values, expected {num_returns}")
    return values


def check_declared_nbytes(declared: int, actual: int, kind: str) -> None:
    """A sender's declared message size against its payload's real size (every executor, whenever it can)."""
    if actual != declared:
        raise ValueError(f"a {kind!r} message was declared {declared} B but its payload is {actual} B: "
                         "the method's size formula is wrong")


def _handle_nbytes(handle: Handle) -> int:
    if isinstance(handle, LocalHandle):
        if handle.nbytes is None:
            handle.nbytes = payload_nbytes(handle.value)
        return handle.nbytes
    return payload_nbytes(_unwrap(handle))


def _arrays(value: Any) -> bool:
    """Whether ``value`` is a numpy array or a non-empty dict of them at any depth (what messages carry)."""
    if type(value) is np.ndarray:
        return True
    return type(value) is dict and bool(value) and all(_arrays(v) for v in value.values())


def _unwrap(value: Any) -> Any:
    return map_handles(value, lambda h: h.value if isinstance(h, LocalHandle) else h)
