"""The Ray executor: the :class:`~testbed.exec.executor.Executor` interface over NodeHost actors.

Placement (which actor hosts which logical node):

* ``per_datacenter`` (default) -- one actor per datacenter, hosting its workers and
  any service nodes placed there;
* ``per_worker`` -- one actor per worker; service nodes share their datacenter's first;
* ``pool: N`` -- N actors, nodes dealt round-robin (for 1,000s of logical clients).

Each actor asks Ray for ``num_cpus`` / ``num_gpus`` (fractions allowed; by default an
even share of what the cluster has) and runs on ``cuda`` when Ray gave it a GPU,
else on the CPU.  Handles are ObjectRefs, so tensors travel actor to actor as Ray
objects and the driver only ``ray.get``s what control flow needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from testbed.exec.executor import Executor, Handle, check_declared_nbytes, map_handles
from testbed.exec.spec import ExecutorsSpec, parse_executors
from testbed.runtime.actor import NodeHost
from testbed.topology.model import split_node_id, worker_id, worker_index

SIZE_CHECK_BATCH = 4096
"""Declared message sizes are checked against the actors' counts in batches of this many."""


@dataclass
class RayHandle(Handle):
    """A value on an actor: its ObjectRef, its size's ObjectRef, the call's timing ObjectRef."""

    ref: ray.ObjectRef
    nbytes_ref: ray.ObjectRef
    elapsed_ref: ray.ObjectRef


@dataclass(frozen=True)
class Placement:
    """How logical nodes map to actors and what each actor asks of Ray."""

    kind: str = "per_datacenter"
    pool_size: int = 0
    num_cpus: float | None = None
    num_gpus: float | None = None
    torch_threads: int | None = None

    @classmethod
    def parse(cls, spec: ExecutorsSpec | str | dict[str, Any] | None) -> Placement:
        """From the ``executors`` setting, parsed or as written: ``'per_worker'``, ``{'pool': 4, 'num_cpus': 0.5}``."""
        if not isinstance(spec, ExecutorsSpec):
            spec = parse_executors(spec, "executors")
        return cls(spec.kind, spec.pool_size or 0, spec.num_cpus, spec.num_gpus, spec.torch_threads)

    def groups(self, nodes: Sequence[str]) -> dict[str, list[str]]:
        """Actor name -> the node ids it hosts (service nodes included in ``nodes``)."""
        groups: dict[str, list[str]] = {}
        if self.kind == "per_datacenter":
            for node in nodes:
                groups.setdefault(split_node_id(node)[0], []).append(node)
        elif self.kind == "per_worker":
            for node in nodes:
                key = node if worker_index(node) is not None else worker_id(split_node_id(node)[0], 0)
                groups.setdefault(key, []).append(node)
        elif self.kind == "pool":
            size = max(1, self.pool_size)
            for i, node in enumerate(nodes):
                groups.setdefault(f"pool{i % size}", []).append(node)
        else:
            raise ValueError(f"unknown placement {self.kind!r}; use per_datacenter, per_worker or pool: N")
        return groups


class RayExecutor(Executor):
    """Hosts logical nodes on NodeHost actors according to a :class:`Placement`."""

    def __init__(self, nodes: Sequence[str], placement: Placement | None = None) -> None:
        if not ray.is_initialized():
            raise RuntimeError("start Ray first (testbed.runtime.cluster.ensure_ray)")
        self.placement = placement or Placement()
        self._size_checks: list[tuple[ray.ObjectRef, int, str]] = []
        self._next_size_check = SIZE_CHECK_BATCH
        groups = self.placement.groups(list(nodes))
        resources = ray.cluster_resources()
        n = len(groups)
        num_cpus = self.placement.num_cpus
        if num_cpus is None:
            num_cpus = min(1.0, resources.get("CPU", 1.0) / n)
        num_gpus = self.placement.num_gpus
        if num_gpus is None:
            num_gpus = min(1.0, resources.get("GPU", 0.0) / n)
        self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
        self._actors: dict[str, Any] = {}
        self._actor_of: dict[str, Any] = {}
        for name, members in groups.items():
            threads = self.placement.torch_threads or max(1, int(self.num_cpus))
            actor = NodeHost.options(num_cpus=self.num_cpus, num_gpus=self.num_gpus).remote(
                name, threads, self.placement.num_gpus or 0.0)  # only GPUs asked for must be usable
            self._actors[name] = actor
            for node in members:
                self._actor_of[node] = actor

    def _actor(self, node_id: str) -> Any:
        actor = self._actor_of.get(node_id)
        if actor is None:  # a node not known up front: its datacenter's actor, else the first
            dc = split_node_id(node_id)[0]
            same_dc = [a for n, a in self._actor_of.items() if split_node_id(n)[0] == dc]
            actor = same_dc[0] if same_dc else next(iter(self._actors.values()))
            self._actor_of[node_id] = actor
        return actor

    def host(self, node_id: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        ray.get(self._actor(node_id).host.remote(node_id, factory, _refs(args), _refs(kwargs)))

    def call(self, node_id: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        refs = self._actor(node_id).call.options(num_returns=2 * num_returns + 1).remote(
            node_id, method, num_returns, _refs(args), _refs(kwargs))
        values, sizes, elapsed = refs[:num_returns], refs[num_returns:-1], refs[-1]
        handles = [RayHandle(v, s, elapsed) for v, s in zip(values, sizes, strict=True)]
        return handles[0] if num_returns == 1 else handles

    def resolve(self, handle: Handle) -> Any:
        assert isinstance(handle, RayHandle)
        return ray.get(handle.ref)

    def check_nbytes(self, handle: Handle, nbytes: int, kind: str) -> None:
        """Queue the check of a declared size against the actor's count; checked in batches of
        finished calls and at :meth:`barrier`, so a send never waits for its payload."""
        assert isinstance(handle, RayHandle)
        self._size_checks.append((handle.nbytes_ref, int(nbytes), kind))
        if len(self._size_checks) >= self._next_size_check:  # every SIZE_CHECK_BATCH sends, not every send
            refs = list({ref.hex(): ref for ref, _, _ in self._size_checks}.values())  # one payload, many sends
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            self._check_sizes({r.hex() for r in ready})
            self._next_size_check = len(self._size_checks) + SIZE_CHECK_BATCH

    def _check_sizes(self, ready: set[str] | None) -> None:
        done = [c for c in self._size_checks if ready is None or c[0].hex() in ready]
        self._size_checks = [c for c in self._size_checks if not (ready is None or c[0].hex() in ready)]
        for (_, declared, kind), actual in zip(done, ray.get([ref for ref, _, _ in done]), strict=True):
            check_declared_nbytes(declared, actual, kind)

    def elapsed_s(self, handle: Handle) -> float:
        assert isinstance(handle, RayHandle)
        return float(ray.get(handle.elapsed_ref))

    def actor_info(self) -> list[dict[str, Any]]:
        """Each actor's name, device, Ray node id, GPU ids and hosted nodes."""
        return ray.get([a.info.remote() for a in self._actors.values()])

    def devices(self) -> dict[str, dict[str, str]]:
        """Each actor's device, by actor name (``cpu``, or ``cuda:N`` and the card's name)."""
        return {info["name"]: info["device_info"] for info in self.actor_info()}

    def process_of(self, node_id: str) -> str:
        return next(name for name, actor in self._actors.items() if actor is self._actor(node_id))

    def set_deterministic(self, flag: bool) -> bool:
        return any(ray.get([actor.set_deterministic.remote(flag) for actor in self._actors.values()]))

    def barrier(self) -> None:
        # Actor calls run in submission order, so a trivial call returning means all before it ran.
        ray.get([actor.info.remote() for actor in self._actors.values()])
        self._check_sizes(None)

    def shutdown(self) -> None:
        for actor in self._actors.values():
            ray.kill(actor)
        self._actors.clear()
        self._actor_of.clear()


def _refs(value: Any) -> Any:
    """Replace handles by their ObjectRefs, so Ray moves the data actor to actor."""
    return map_handles(value, lambda handle: handle.ref if isinstance(handle, RayHandle) else handle)
