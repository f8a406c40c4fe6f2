"""Client populations: a datacenter's ``workers: {count: N, ...}`` as N logical clients that cost a few bytes each.

Why: cross-device federated studies need 10^5-10^6 clients, and a frozen :class:`~testbed.topology.model.Worker`
per client (plus everything built per node downstream) grows memory with clients that *exist* rather than
clients that *train*.  A :class:`Population` is one record -- count, speed, GPUs, dynamics -- that behaves as
the sequence of its workers: ``population[i]`` builds worker i on demand, ``len(population)`` is the count,
so code written for listed workers still reads it (slowly, if it walks every client).  Client ``i`` of a
population is ``<datacenter>/w<i>``, as a listed worker would be; everything about it (its data shard, RNG
streams, availability) is derived from the run seed and its index when it is needed.

:class:`NodeIds` is the same idea for a topology's node ids: an indexable sequence over every datacenter's
workers without a string per client, with :meth:`NodeIds.index` the inverse.  The schema caps a population
by memory (:data:`CLIENT_NBYTES` per idle client), not by a fixed count.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from testbed.topology.dynamics import STATIC, NodeDynamics
from testbed.topology.worker import Worker, split_node_id, worker_id, worker_index

CLIENT_NBYTES = 64
"""Memory budget of one idle client, for the up-front cap: its shard's offset and size (16 B), its share of a
round's sampling permutation (8 B) and headroom.  The data set's own samples are counted apart (they exist
however the clients are represented).  benchmarks/scale.py measures the real figure."""

@dataclass(frozen=True)
class Population(Sequence[Worker]):
    """``count`` logical clients of ``datacenter`` sharing one ``speed`` and ``dynamics``."""

    datacenter: str
    count: int
    speed: float = 1.0
    dynamics: NodeDynamics = STATIC

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> Worker: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Worker]: ...

    def __getitem__(self, index: int | slice) -> Worker | Sequence[Worker]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        if index < 0:
            index += self.count
        if not 0 <= index < self.count:
            raise IndexError(f"{self.datacenter} has {self.count} clients, no client {index}")
        return Worker(worker_id(self.datacenter, index), self.datacenter, index, self.speed, self.dynamics)

    def __iter__(self) -> Iterator[Worker]:
        return (self[i] for i in range(self.count))

    def __repr__(self) -> str:
        return f"Population({self.datacenter!r}, count={self.count}, speed={self.speed:g})"


class NodeIds(Sequence[str]):
    """Every worker's node id, datacenter by datacenter, without holding them: ``ids[i]`` and ``ids.index(node)``."""

    def __init__(self, counts: Sequence[tuple[str, int]]) -> None:
        """``counts``: (datacenter, number of workers) in topology order."""
        self._names = [name for name, n in counts if n]
        self._starts: list[int] = []
        total = 0
        for _, n in counts:
            if n:
                self._starts.append(total)
                total += n
        self._offset = dict(zip(self._names, self._starts, strict=True))
        self._counts = dict(counts)
        self._len = total

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"worker index {index} out of range ({self._len} workers)")
        k = bisect.bisect_right(self._starts, index) - 1
        return worker_id(self._names[k], index - self._starts[k])

    def __iter__(self) -> Iterator[str]:
        for name in self._names:
            for i in range(self._counts[name]):
                yield worker_id(name, i)

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and self._find(node) is not None

    def index(self, node: str, start: int = 0, stop: int | None = None) -> int:  # type: ignore[override]
        """The global worker index of ``node`` (``<dc>/w<i>``), i.e. its data shard (ValueError if not a worker)."""
        found = self._find(node)
        if found is None:
            raise ValueError(f"{node!r} is not a worker")
        return found

    def _find(self, node: str) -> int | None:
        dc, local = split_node_id(node), worker_index(node)
        if local is None or dc[0] not in self._offset or local >= self._counts[dc[0]]:
            return None
        return self._offset[dc[0]] + local

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NodeIds):
            return (self._names, self._starts, self._len) == (other._names, other._starts, other._len)
        if isinstance(other, (list, tuple)):
            return len(other) == self._len and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((tuple(self._names), tuple(self._starts), self._len))

    def __repr__(self) -> str:
        return f"NodeIds({self._len} workers in {self._names})"
