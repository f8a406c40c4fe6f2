"""What every federated method does the same way on a client population (``workers: {count: N}``).

Why shared: FedAvg, FedSGD, FedBuff and HierFAVG all run stateless clients (a round from the weights they are
sent), so on a population each builds a client's state when work reaches it and gives its process up when
that work is answered -- and each must do so without a record per idle client.  The rules live here once:

* :func:`host_clients` -- host listed workers one by one (as before) and each population datacenter as one
  object (``Session.host_population``); n_k comes from the partition's sizes for a population
  (:class:`ClientSizes`, no call per client), from each listed worker otherwise.
* :class:`ClientPopulation` -- the hosted object: ``client(i)`` builds client ``first_index + i`` anew; the
  learning rates a client's latest round trained with are kept in two float arrays (:class:`ClientLrs`,
  16 B per client) so the lr columns read exactly what a listed client would report.
* :class:`OnDemand` -- a population client's process exists while work handed to it is unanswered: the
  aggregator spawns it with its first due work, and the process ends when nothing is due (a listed client's
  process runs for the whole run, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from testbed.core.errors import ConfigError
from testbed.methods.api import Process, Session
from testbed.methods.common.setup import NodeSetup


class ClientSizes(Mapping[str, int]):
    """n_k by worker id, read from the partition's sizes (one int per client, no dict of a million entries)."""

    def __init__(self, workers: Sequence[str], sizes: np.ndarray) -> None:
        self.workers, self.sizes = workers, sizes

    def __getitem__(self, node: str) -> int:
        return int(self.sizes[self.workers.index(node)])

    def __iter__(self) -> Iterator[str]:
        return iter(self.workers)

    def __len__(self) -> int:
        return len(self.sizes)

    def values(self) -> Any:  # the sizes array itself: footing() reads every client's
        return self.sizes


def host_clients(s: Session, client: Callable[..., Any], population: Callable[..., Any],
                 **kwargs: Any) -> Mapping[str, int]:
    """Host every worker -- listed worker i as ``client(s.setup, i, **kwargs)``, a population datacenter whose
    first worker is i as ``population(s.setup, i, count, **kwargs)`` -- and return n_k by worker id."""
    if not s.topology.has_population:
        for i, worker in enumerate(s.workers):
            s.host(worker, client, s.setup, i, **kwargs)
        sizes = [s.call(w, "num_samples") for w in s.workers]
        return {w: int(s.resolve(h)) for w, h in zip(s.workers, sizes, strict=True)}
    first = 0
    for dc in s.topology.datacenters:
        count = len(dc.workers)
        if dc.population is not None:
            s.host_population(dc.name, population, s.setup, first, count, **kwargs)
        else:
            for i in range(count):
                s.host(s.workers[first + i], client, s.setup, first + i, **kwargs)
        first += count
    return ClientSizes(s.workers, s.setup.shard_sizes())


def refuse_kept_on_population(topology: Any, src: str, field: str, value: Any, keeps: str, what: str,
                              instead: str) -> None:
    """A setting that keeps ``what`` per client between rounds (``field: keeps``) cannot run on a population,
    whose clients are built anew for every round: one line naming the field and the two ways out."""
    if value == keeps and topology.has_population:
        raise ConfigError(src, field, f"{keeps} needs {what} between rounds, and a population's clients are "
                          "built anew for every round",
                          f"use {instead}, or list the workers instead of workers: {{count: N}}")


class LrsSink(Protocol):
    """Where a client built anew records the learning rates its round trained with (for the lr columns)."""

    def record(self, index: int, lrs: dict[str, float | None]) -> None: ...


class ClientLrs:
    """The learning rates each client's latest round trained with, as two float64 arrays (NaN: none yet),
    so a client built anew reports what a listed one would: 16 B per client, allocated at the first record."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.rates: np.ndarray | None = None  # (count, 2): lr_g, lr_d

    def record(self, index: int, lrs: dict[str, float | None]) -> None:
        """Client ``index`` (within the population) finished a round with ``lrs``."""
        if self.rates is None:
            self.rates = np.full((self.count, 2), np.nan)
        self.rates[index] = [np.nan if lrs[k] is None else lrs[k] for k in ("lr_g", "lr_d")]

    def get(self, index: int) -> dict[str, float | None] | None:
        """Client ``index``'s latest rates (None before its first round)."""
        if self.rates is None or np.isnan(self.rates[index]).all():
            return None
        return {k: None if np.isnan(v) else float(v) for k, v in zip(("lr_g", "lr_d"), self.rates[index], strict=True)}


class ClientPopulation:
    """One population datacenter's clients, built when a call reaches one (``Session.host_population``):
    client ``i`` is worker ``first_index + i`` (its data shard), a ``client_type(setup, index, device,
    **kwargs)``.  With ``keeps_lrs`` its rounds' learning rates are kept (:class:`ClientLrs`) for the lr columns."""

    client_type: ClassVar[Callable[..., Any]]
    keeps_lrs: ClassVar[bool] = True

    def __init__(self, setup: NodeSetup, first_index: int, count: int, device: str = "cpu", **kwargs: Any) -> None:
        self.setup, self.first_index, self.device, self.kwargs = setup, first_index, device, kwargs
        self.lrs = ClientLrs(count) if self.keeps_lrs else None

    def client(self, i: int) -> Any:
        """Client ``i``'s state, built anew."""
        if self.lrs is None:
            return type(self).client_type(self.setup, self.first_index + i, self.device, **self.kwargs)
        client = type(self).client_type(self.setup, self.first_index + i, self.device, **self.kwargs,
                                        lrs_sink=_Shifted(self.lrs, self.first_index))
        client.last_lrs = self.lrs.get(i)
        return client


@dataclass(frozen=True)
class _Shifted:
    """A :class:`ClientLrs` addressed by global worker index (what a client knows itself by)."""

    lrs: ClientLrs
    first_index: int

    def record(self, index: int, lrs: dict[str, float | None]) -> None:
        """Record for global worker ``index``."""
        self.lrs.record(index - self.first_index, lrs)


@dataclass
class OnDemand:
    """Population clients' processes: spawned with a client's first due piece of work, ended when none is left."""

    due: dict[str, int] = field(default_factory=dict)
    """Population clients: work handed to each and not yet answered or abandoned (its process lives while > 0)."""

    def handed(self, s: Session, client: str, process: Process) -> None:
        """Work is being handed to ``client``: a population client's ``process`` is spawned if it has none."""
        if not s.topology.is_client(client):
            return
        self.due[client] = self.due.get(client, 0) + 1
        if self.due[client] == 1:
            s.spawn(client, process)

    def settled(self, client: str) -> bool:
        """One piece of ``client``'s work was answered or abandoned: True when its process should end (a
        population client with nothing left due; never a listed client)."""
        left = self.due.get(client)
        if left is None:
            return False
        if left == 1:
            del self.due[client]
            return True
        self.due[client] = left - 1
        return False


def spawn_listed(s: Session, process: Process) -> None:
    """Spawn ``process`` for every listed worker, in topology order (a population's clients are spawned with
    their work: :class:`OnDemand`)."""
    for dc in s.topology.datacenters:
        if dc.population is None:
            for worker in dc.workers:
                s.spawn(worker.node_id, process)
