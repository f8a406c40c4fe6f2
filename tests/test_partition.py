"""Partitions assign every sample once, are seeded, and have the promised label structure."""

import numpy as np
import pytest

from testbed.core.errors import ConfigError
from testbed.data import partition, partition_summary

LABELS = np.random.default_rng(0).integers(0, 10, 3000)
GROUPS = [0, 0, 0, 1, 1, 2, 2, 2]
SPECS = ["iid", "dirichlet(0.1)", "dirichlet(100)", "shards(2)", "shards(3)", "by_datacenter"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("sizes", [None, [1, 2, 3, 4, 1, 2, 3, 4]])
def test_every_sample_exactly_once_and_seeded(spec: str, sizes: list[float] | None) -> None:
    parts = partition(LABELS, 8, spec, seed=1, groups=GROUPS, sizes=sizes)
    assert len(parts) == 8
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(LABELS)))
    again = partition(LABELS, 8, spec, seed=1, groups=GROUPS, sizes=sizes)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_unequal_sizes_for_iid() -> None:
    parts = partition(LABELS, 4, "iid", seed=0, sizes=[1, 1, 1, 3])
    assert [len(p) for p in parts] == [500, 500, 500, 1500]


def test_dirichlet_small_alpha_is_skewed() -> None:
    summary = partition_summary(LABELS, partition(LABELS, 8, "dirichlet(0.05)", seed=0))
    counts = summary.filter(like="class_").to_numpy()
    max_share = counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)
    assert np.median(max_share) > 0.5
    iid = partition_summary(LABELS, partition(LABELS, 8, "iid", seed=0)).filter(like="class_").to_numpy()
    assert np.median(iid.max(axis=1) / iid.sum(axis=1)) < 0.2


def test_shards_gives_exactly_k_classes() -> None:
    for k in (1, 2, 3):
        parts = partition(LABELS, 10, f"shards({k})", seed=2)
        assert all(len(np.unique(LABELS[p])) == k for p in parts)


def test_by_datacenter_class_sets_are_disjoint() -> None:
    parts = partition(LABELS, 8, "by_datacenter", seed=0, groups=GROUPS)
    per_dc = {dc: set() for dc in set(GROUPS)}
    for worker, idx in enumerate(parts):
        per_dc[GROUPS[worker]] |= set(LABELS[idx].tolist())
    dcs = list(per_dc.values())
    assert all(not (a & b) for i, a in enumerate(dcs) for b in dcs[i + 1:])
    assert set().union(*dcs) == set(range(10))


def test_bad_specs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"partition.*iid, dirichlet"):
        partition(LABELS, 4, "label_flip", seed=0)
    with pytest.raises(ConfigError, match="partition"):
        partition(LABELS, 2, "shards(2)", seed=0)  # 2 workers x 2 classes cannot cover 10 classes
    with pytest.raises(ConfigError, match="groups"):
        partition(LABELS, 4, "by_datacenter", seed=0)
