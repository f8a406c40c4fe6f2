"""Availability traces: when each client of a real population was offline, as a plain CSV.

Why: churn drawn from an on/off model is not the churn of a real fleet; FedScale ships a trace of
136k phones (when each was charging and idle on Wi-Fi), but as a Python pickle that nothing else
reads or edits.  A topology names a trace instead of describing churn itself::

    datacenters:
      edge: {workers: 100, availability: {trace: traces/fleet.csv}}

The file is a CSV with a header and one row per down interval ``[down_start, down_end)``, in
seconds of virtual time (plain numbers)::

    client,down_start,down_end          node,down_start,down_end
    0,0,3600                            edge/w3,120.5,300
    0,7200,9000

A ``client`` trace names clients by index 0..C-1; they are mapped onto the workers that take their
availability from the same file (topology order) by :class:`~testbed.sim.node_clock.NodeClock` --
client i to worker i when there are at most as many clients as workers (a worker without a client
is always up), otherwise a seeded choice of distinct clients (the run seed and the file's name).
A ``node`` trace names workers by id.  ``python -m testbed data import-trace --fedscale`` writes
this format from FedScale's client behaviour trace (:mod:`testbed.topology.fedscale_trace`).

Loading is vectorised (one pandas parse, one sort, array checks), so a million intervals load in
about a second (``benchmarks/trace_load.py``); a file is read once per process (cached on its path,
size and modification time).  Every mistake is one ConfigError naming the file, the line and the fix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from testbed.core.errors import ConfigError

KEY_COLUMNS = ("client", "node")
TIME_COLUMNS = ("down_start", "down_end")
MAX_CLIENTS = 10_000_000
FORMAT_FIX = "write a CSV with the header client,down_start,down_end (or node,down_start,down_end), times in seconds"


@dataclass(frozen=True, eq=False)
class AvailabilityTrace:
    """A parsed trace: per owner (client index, or node id), its down intervals in time order.

    ``owners`` holds the distinct clients (ints, ascending) or node ids (in first-seen order);
    owner k's intervals are ``start_s[offsets[k]:offsets[k + 1]]`` / ``end_s[...]``.  Compared by
    identity (the arrays are large); :attr:`name` (the file's name) seeds the client mapping."""

    path: str
    keyed_by: str
    owners: tuple[int | str, ...]
    offsets: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    _index: dict[int | str, int] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The file's name (not its directory): what seeds the client-to-worker mapping."""
        return Path(self.path).name

    @property
    def num_intervals(self) -> int:
        """Down intervals in the file."""
        return int(self.start_s.shape[0])

    @property
    def num_clients(self) -> int:
        """``client`` traces: the population size C (largest index + 1); ``node`` traces: nodes named."""
        if self.keyed_by == "client":
            return int(self.owners[-1]) + 1 if self.owners else 0
        return len(self.owners)

    def down_intervals(self, owner: int | str) -> list[tuple[float, float]]:
        """``owner``'s down intervals ``(start_s, end_s)`` in time order (none: always up)."""
        k = self._index.get(owner)
        if k is None:
            return []
        lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
        return list(zip(self.start_s[lo:hi].tolist(), self.end_s[lo:hi].tolist(), strict=True))


def load_trace(path: str | Path, src: str, fieldname: str) -> AvailabilityTrace:
    """Read and check the trace at ``path`` (cached per file version); ConfigErrors name ``src`` and ``fieldname``."""
    resolved = Path(path)
    try:
        stat = resolved.stat()
    except OSError:
        raise ConfigError(src, fieldname, f"trace file {str(path)!r} not found",
                          "give a path relative to the topology file (or absolute)") from None
    if not resolved.is_file():
        raise ConfigError(src, fieldname, f"{str(path)!r} is not a file", "name a CSV file")
    try:
        return _load_cached(str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)
    except _TraceError as err:
        raise ConfigError(src, fieldname, f"{resolved.name}: {err.problem}", err.fix) from None


class _TraceError(Exception):
    def __init__(self, problem: str, fix: str = FORMAT_FIX) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, _size: int, _mtime_ns: int) -> AvailabilityTrace:
    try:
        frame = pd.read_csv(path, dtype={"node": str}, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise _TraceError(f"not a readable CSV ({' '.join(str(err).split())[:120]})") from None
    columns = [str(c).strip() for c in frame.columns]
    keys = [c for c in columns if c in KEY_COLUMNS]
    if len(keys) != 1 or sorted(columns) != sorted([keys[0], *TIME_COLUMNS]):
        raise _TraceError(f"columns {columns}, expected one of {list(KEY_COLUMNS)} with {list(TIME_COLUMNS)}")
    frame.columns = columns
    keyed_by = keys[0]
    start = _times(frame, "down_start")
    end = _times(frame, "down_end")
    bad = np.flatnonzero(~(end > start))
    if bad.size:
        i = int(bad[0])
        raise _TraceError(f"line {i + 2}: down_end ({end[i]:g}) is not after down_start ({start[i]:g})",
                          "give each row as down_start < down_end")
    owner_codes, owners = _owners(frame[keyed_by], keyed_by)
    order = np.lexsort((start, owner_codes))
    owner_codes, start, end = owner_codes[order], start[order], end[order]
    same = owner_codes[1:] == owner_codes[:-1]
    overlap = np.flatnonzero(same & (start[1:] < end[:-1]))
    if overlap.size:
        i = int(overlap[0]) + 1
        who = owners[int(owner_codes[i])]
        raise _TraceError(f"{keyed_by} {who}: down interval [{start[i]:g}, {end[i]:g}) overlaps "
                          f"[{start[i - 1]:g}, {end[i - 1]:g})", "merge overlapping intervals of one client")
    offsets = np.searchsorted(owner_codes, np.arange(len(owners) + 1))
    return AvailabilityTrace(path, keyed_by, tuple(owners), offsets, start, end,
                             {owner: k for k, owner in enumerate(owners)})


def _times(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        i = int(bad[0])
        raise _TraceError(f"line {i + 2}: {column} {frame[column].iloc[i]!r} is not a time >= 0 in seconds",
                          "write plain non-negative numbers of seconds, e.g. 3600")
    return values


def _owners(column: pd.Series, keyed_by: str) -> tuple[np.ndarray, list[int | str]]:
    """Each row's owner as a code 0..K-1, and the owners (clients ascending; nodes in first-seen order)."""
    if keyed_by == "client":
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.floor(values))
                             | (values >= MAX_CLIENTS))
        if bad.size:
            i = int(bad[0])
            raise _TraceError(f"line {i + 2}: client {column.iloc[i]!r} is not an index in [0, {MAX_CLIENTS:,})",
                              "number clients 0, 1, 2, ...")
        clients = values.astype(np.int64)
        unique, codes = np.unique(clients, return_inverse=True)
        return codes.astype(np.int64), [int(c) for c in unique]
    names = column.astype(str).str.strip()
    empty = np.flatnonzero((names == "").to_numpy() | column.isna().to_numpy())
    if empty.size:
        raise _TraceError(f"line {int(empty[0]) + 2}: empty node id", "name a worker, e.g. edge/w3")
    codes, uniques = pd.factorize(names, sort=False)
    return codes.astype(np.int64), [str(u) for u in uniques]


def check_trace_nodes(trace: AvailabilityTrace, workers: set[str], src: str, fieldname: str) -> None:
    """ConfigError unless every node a ``node`` trace names is a worker of the topology."""
    if trace.keyed_by != "node":
        return
    unknown = [n for n in trace.owners if n not in workers]
    if unknown:
        example = sorted(workers)[0] if workers else "dc/w0"
        raise ConfigError(src, fieldname, f"{trace.name}: node {unknown[0]!r} is not a worker of this topology"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                          f"name workers as <datacenter>/w<i>, e.g. {example}")


def client_assignment(num_clients: int, num_workers: int, rng: np.random.Generator) -> list[int | None]:
    """Which client each of ``num_workers`` workers takes: client i for worker i when the trace has no
    more clients than workers (None: no client, always up), else distinct clients chosen by ``rng``."""
    if num_clients <= num_workers:
        return [i if i < num_clients else None for i in range(num_workers)]
    chosen = rng.permutation(num_clients)[:num_workers]
    return [int(c) for c in chosen]
