"""Everything a node needs to build its data shard and models, as one picklable value.

Every executor (a Ray actor, or this process) rebuilds data and models from this
spec rather than receiving them, so nothing large crosses Ray at start-up, and
all nodes start from the same initial G and D (seeded by the experiment seed) --
what parameter-server and federated training assume.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from testbed.data import Dataset, dataset_spec, load_dataset
from testbed.data.files import check_fingerprint
from testbed.data.partition import partition_flat
from testbed.gan import GanState, make_gan_state
from testbed.methods.common.training import Training
from testbed.models import ModelConfig, model_config
from testbed.topology.model import Topology


@dataclass(frozen=True)
class NodeSetup:
    """Data set, partition, model and optimiser settings of one run."""

    dataset: str
    partition: str
    num_workers: int
    groups: tuple[int, ...] | tuple[tuple[int, int], ...]
    """The datacenter index of each worker, kept as runs ``((index, count), ...)`` so that a setup with a
    million clients stays small to pickle and to hash; a flat tuple is accepted and compacted."""
    model: str
    model_overrides: tuple[tuple[str, object], ...]
    training: Training
    seed: int
    dataset_n: int | None = None
    data_dir: str | None = None
    max_iterations: int | None = None
    dataset_sha256: str | None = None  # a file data set's bytes, as parsed: every node checks what it reads

    @classmethod
    def for_topology(cls, topology: Topology, *, dataset: str, partition: str, model: str,
                     model_overrides: Mapping[str, object], training: Training, seed: int,
                     dataset_n: int | None = None, data_dir: str | None = None,
                     max_iterations: int | None = None, dataset_sha256: str | None = None) -> NodeSetup:
        """The setup of a run on ``topology``: one shard per worker, in topology order, each grouped by the
        index of its datacenter (what ``by_datacenter`` partitions by)."""
        return cls(dataset=dataset, partition=partition, num_workers=len(topology.nodes),
                   groups=topology.worker_groups, model=model,
                   model_overrides=tuple(sorted(model_overrides.items())), training=training, seed=seed,
                   dataset_n=dataset_n, data_dir=data_dir, max_iterations=max_iterations,
                   dataset_sha256=dataset_sha256)

    def __post_init__(self) -> None:
        if self.groups and not isinstance(self.groups[0], tuple):
            object.__setattr__(self, "groups", _runs(self.groups))

    def group_of_workers(self) -> np.ndarray:
        """The datacenter index of every worker, one entry each."""
        return np.repeat([g for g, _ in self.groups], [n for _, n in self.groups]).astype(np.int64)

    def lr_scale(self, step: int) -> float:
        """Learning-rate factor after ``step`` updates: linear decay to ``lr_final_fraction`` at
        ``max_iterations`` (constant when there is no iteration budget)."""
        final = self.training.lr_final_fraction
        if final >= 1.0 or not self.max_iterations:
            return 1.0
        return 1.0 - (1.0 - final) * min(step, self.max_iterations) / self.max_iterations

    def data(self) -> Dataset:
        """The training split (cached per process)."""
        return _load(self.dataset, self.data_dir, self.seed, self.dataset_n, self.dataset_sha256)

    def shard(self, index: int) -> np.ndarray:
        """Indices of worker ``index``'s partition (the partition is cached per process, as two flat arrays)."""
        flat, offsets = _partition(self, self.dataset, self.data_dir, self.seed, self.dataset_n, self.dataset_sha256)
        return flat[offsets[index]:offsets[index + 1]]

    def shard_sizes(self) -> np.ndarray:
        """Every worker's n_k, in worker order."""
        return np.diff(_partition(self, self.dataset, self.data_dir, self.seed, self.dataset_n,
                                  self.dataset_sha256)[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape, from the data set's registration (no data is loaded: a replay has none)."""
        return dataset_spec(self.dataset).sample_shape

    def model_config(self) -> ModelConfig:
        """The resolved model preset."""
        return model_config(self.model, **dict(self.model_overrides))

    def gan_state(self, device: str = "cpu") -> GanState:
        """G and D with Adam, identical on every node (seeded by the run seed), on ``device``."""
        t = self.training
        state = make_gan_state(self.model_config(), self.sample_shape, self.seed,
                               lr_g=t.lr_g, lr_d=t.lr_d, betas=(t.beta1, t.beta2), fused=t.fused_adam)
        if device != "cpu":
            state.G.to(device)
            state.D.to(device)
        return state

    def torch_generator(self, stream: int, device: str = "cpu") -> torch.Generator:
        """A seeded torch RNG for one node (``stream`` keeps nodes' noise independent)."""
        return torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + stream)


def scale_lr(optimizer: torch.optim.Optimizer, base_lrs: list[float], factor: float) -> None:
    """Set each parameter group's lr to its base lr times ``factor``."""
    for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = base * factor


def optimizer_lr(optimizer: torch.optim.Optimizer, group: int = 0) -> float:
    """The learning rate an optimiser's parameter group steps with now (read back, not recomputed)."""
    return float(optimizer.param_groups[group]["lr"])


@functools.lru_cache(maxsize=4)
def _load(name: str, data_dir: str | None, seed: int, n: int | None, sha256: str | None) -> Dataset:
    if sha256 is not None:
        check_fingerprint(name, sha256)
    return load_dataset(name, "train", data_dir=data_dir, seed=seed, n=n)


@functools.lru_cache(maxsize=4)
def _partition(setup: NodeSetup, *_key: object) -> tuple[np.ndarray, np.ndarray]:
    labels = setup.data().y
    return partition_flat(labels, setup.num_workers, setup.partition, setup.seed, groups=setup.group_of_workers())


def _runs(values: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    runs: list[list[int]] = []
    for value in values:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([int(value), 1])
    return tuple((g, n) for g, n in runs)
