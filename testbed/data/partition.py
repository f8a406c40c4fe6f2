"""Split a data set's samples across workers: iid, label skew, k classes each, or whole classes per DC.

Geo-distributed training is interesting precisely because sites hold
*different* data, so the partition is an experiment parameter, written as a
short spec string in the experiment YAML:

- ``iid``: a seeded shuffle cut into pieces;
- ``dirichlet(alpha)``: per class, worker shares ~ Dir(alpha) (small alpha = strong label skew);
- ``shards(k)``: every worker holds exactly k distinct classes (classes are dealt round-robin
  from a seeded permutation, each class split among the workers holding it), so this needs
  ``num_workers * k >= num_classes`` and ``k <= num_classes``;
- ``by_datacenter``: whole classes per region -- classes are dealt to datacenters
  (``groups[i]`` = datacenter of worker i), then spread iid over that DC's workers.

``sizes`` gives relative worker sizes (unequal partitions); every sample is
assigned to exactly one worker, and the same seed gives the same split.  Every worker holds at least
one sample: a Dirichlet split that leaves a worker empty is drawn again (up to 100 times, as
NIID-Bench's ``min_require_size`` loop), and a worker any split still leaves empty takes one sample
from the largest shard; fewer samples than workers is a ConfigError.
A data set without labels takes ``iid`` only (:func:`needs_labels` says which specs split by class).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from testbed.core.errors import ConfigError


@dataclass(frozen=True)
class _Request:
    labels: np.ndarray
    num_workers: int
    weights: np.ndarray  # relative sizes, sum 1
    rng: np.random.Generator
    groups: list[int] | None
    spec: str


def _cut(indices: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    """Cut ``indices`` into len(weights) consecutive pieces with sizes proportional to weights."""
    bounds = np.round(np.cumsum(weights) / weights.sum() * len(indices)).astype(int)
    return np.split(indices, bounds[:-1])


def _merge(pieces_per_worker: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64)
            for p in pieces_per_worker]


def _iid(req: _Request, _: str | None) -> list[np.ndarray]:
    return [np.sort(p) for p in _cut(req.rng.permutation(len(req.labels)), req.weights)]


def _dirichlet(req: _Request, arg: str | None) -> list[np.ndarray]:
    alpha = _number(arg, float, req.spec)
    for _ in range(DIRICHLET_DRAWS):  # redraw while a worker is left empty, as NIID-Bench does
        pieces: list[list[np.ndarray]] = [[] for _ in range(req.num_workers)]
        for cls in np.unique(req.labels):
            members = req.rng.permutation(np.flatnonzero(req.labels == cls))
            shares = req.rng.dirichlet(np.full(req.num_workers, alpha)) * req.weights
            for worker, piece in enumerate(_cut(members, shares / shares.sum())):
                pieces[worker].append(piece)
        parts = _merge(pieces)
        if min(len(p) for p in parts) > 0:
            break
    return parts


def _shards(req: _Request, arg: str | None) -> list[np.ndarray]:
    k = _number(arg, int, req.spec)
    classes = req.rng.permutation(np.unique(req.labels))
    if not 1 <= k <= len(classes) or req.num_workers * k < len(classes):
        raise ConfigError(None, "partition", f"{req.spec} with {req.num_workers} workers and "
                          f"{len(classes)} classes cannot give every worker {k} distinct classes "
                          "while assigning every class",
                          f"use k in 1..{len(classes)} with workers*k >= classes")
    holders: dict[int, list[int]] = {int(c): [] for c in classes}
    for worker in range(req.num_workers):
        for j in range(k):
            holders[int(classes[(worker * k + j) % len(classes)])].append(worker)
    pieces: list[list[np.ndarray]] = [[] for _ in range(req.num_workers)]
    for cls, workers in holders.items():
        members = req.rng.permutation(np.flatnonzero(req.labels == cls))
        for worker, piece in zip(workers, _cut(members, req.weights[workers]), strict=True):
            pieces[worker].append(piece)
    return _merge(pieces)


def _by_datacenter(req: _Request, _: str | None) -> list[np.ndarray]:
    if req.groups is None or len(req.groups) != req.num_workers:
        raise ConfigError(None, "partition", "by_datacenter needs groups (the datacenter of each worker)",
                          f"pass groups as a list of {req.num_workers} datacenter indices")
    groups = np.asarray(req.groups)
    dcs = np.unique(groups)
    classes = req.rng.permutation(np.unique(req.labels))
    if len(classes) < len(dcs):
        raise ConfigError(None, "partition", f"{len(dcs)} datacenters but only {len(classes)} classes",
                          "use fewer datacenters or another partition")
    pieces: list[list[np.ndarray]] = [[] for _ in range(req.num_workers)]
    for dc, dc_classes in zip(dcs, np.array_split(classes, len(dcs)), strict=True):
        members = req.rng.permutation(np.flatnonzero(np.isin(req.labels, dc_classes)))
        workers = np.flatnonzero(groups == dc)
        for worker, piece in zip(workers, _cut(members, req.weights[workers]), strict=True):
            pieces[worker].append(piece)
    return _merge(pieces)


DIRICHLET_DRAWS = 100
"""Draws of a Dirichlet split before a worker left empty is given one sample (:func:`_no_empty_shard`)."""

PARTITION_SPECS: dict[str, Callable[[_Request, str | None], list[np.ndarray]]] = {
    "iid": _iid, "dirichlet": _dirichlet, "shards": _shards, "by_datacenter": _by_datacenter,
}
LABEL_FREE = frozenset({"iid"})
"""Partitions that never read a label: the only ones an unlabelled data set can take."""
_VALID = "iid, dirichlet(alpha), shards(k), by_datacenter"
_SPEC = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


def _number(arg: str | None, kind: type, spec: str) -> float:
    try:
        value = kind(arg)
    except (TypeError, ValueError):
        raise ConfigError(None, "partition", f"{spec!r} needs a {kind.__name__} argument",
                          "write e.g. dirichlet(0.5) or shards(2)") from None
    if value <= 0:
        raise ConfigError(None, "partition", f"{spec!r}: the argument must be positive", "use e.g. 0.5 or 2")
    return value


def needs_labels(spec: str) -> bool:
    """Whether the partition ``spec`` splits by class (False for ``iid`` and for specs that do not parse)."""
    match = _SPEC.match(spec)
    return match is not None and match.group(1) in PARTITION_SPECS and match.group(1) not in LABEL_FREE


def partition(labels: np.ndarray, num_workers: int, spec: str, seed: int, groups: list[int] | None = None,
              sizes: list[float] | None = None) -> list[np.ndarray]:
    """Index arrays (sorted, int64), one per worker, covering every sample exactly once."""
    match = _SPEC.match(spec)
    if match is None or match.group(1) not in PARTITION_SPECS:
        raise ConfigError(None, "partition", f"unknown partition {spec!r}", f"use one of {_VALID}")
    if num_workers < 1:
        raise ConfigError(None, "num_workers", f"need at least one worker, got {num_workers}", "use >= 1")
    weights = np.ones(num_workers) if sizes is None else np.asarray(sizes, dtype=np.float64)
    if weights.shape != (num_workers,) or np.any(weights <= 0):
        raise ConfigError(None, "sizes", f"need {num_workers} positive relative sizes, got {sizes}",
                          "give one positive number per worker")
    if len(labels) < num_workers:
        raise ConfigError(None, "dataset.n", f"{len(labels)} samples for {num_workers} workers: some would hold "
                          "no data", f"give at least {num_workers} samples")
    name, arg = match.group(1), match.group(2)
    req = _Request(np.asarray(labels), num_workers, weights / weights.sum(), np.random.default_rng(seed),
                   groups, spec)
    return _no_empty_shard(PARTITION_SPECS[name](req, arg))


def _no_empty_shard(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Every worker gets data: a worker the split left empty takes the last sample of the largest shard
    (the first such, if several), so no worker trains on an empty batch (its gradients were NaN)."""
    for worker in range(len(parts)):
        if len(parts[worker]) == 0:
            donor = max(range(len(parts)), key=lambda i: (len(parts[i]), -i))
            parts[worker], parts[donor] = parts[donor][-1:], parts[donor][:-1]
    return parts


def partition_flat(labels: np.ndarray, num_workers: int, spec: str, seed: int,
                   groups: list[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`partition` as one flat index array and ``num_workers + 1`` offsets (worker i holds
    ``flat[offsets[i]:offsets[i + 1]]``, the same indices as ``partition(...)[i]``).

    Why: a list of a million small arrays costs ~100 B of overhead each; a client population keeps these
    two arrays instead.  ``iid`` is computed without a per-worker array at all."""
    match = _SPEC.match(spec)
    if match is not None and match.group(1) == "iid" and num_workers >= 1:
        perm = np.random.default_rng(seed).permutation(len(labels))
        weights = np.ones(num_workers) / num_workers  # as partition() and _cut() compute the cut
        bounds = np.round(np.cumsum(weights) / weights.sum() * len(perm)).astype(int)
        offsets = np.concatenate([[0], bounds[:-1], [len(perm)]]).astype(np.int64)
        owner = np.repeat(np.arange(num_workers), np.diff(offsets))
        return perm[np.lexsort((perm, owner))].astype(np.int64), offsets
    parts = partition(labels, num_workers, spec, seed, groups=None if groups is None else list(groups))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    return (np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)), offsets


def partition_summary(labels: np.ndarray, parts: list[np.ndarray]) -> pd.DataFrame:
    """One row per worker: ``samples`` and the count of every class (columns ``class_<c>``)."""
    classes = np.unique(labels)
    rows = []
    for worker, idx in enumerate(parts):
        counts = {f"class_{c}": int(np.sum(labels[idx] == c)) for c in classes}
        rows.append({"worker": worker, "samples": len(idx), **counts})
    return pd.DataFrame(rows).set_index("worker")
