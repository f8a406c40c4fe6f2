"""Data sets and partitions: everything about *which* samples a worker trains on.

Importing this package registers every data set (mixtures, digits, MNIST,
Fashion-MNIST); use :func:`load_dataset` and :func:`partition`.
"""

from __future__ import annotations

from testbed.data import digits, mixtures, mnist  # noqa: F401  (registration side effect)
from testbed.data.dataset import DATASETS, Dataset, DatasetSpec, canonical_dataset_name, dataset_spec, load_dataset
from testbed.data.mixtures import MIXTURES, MixtureSpec
from testbed.data.partition import PARTITION_SPECS, partition, partition_summary
from testbed.data.status import DatasetStatus, dataset_status

__all__ = [
    "DATASETS", "MIXTURES", "PARTITION_SPECS", "Dataset", "DatasetSpec", "DatasetStatus", "MixtureSpec",
    "canonical_dataset_name", "dataset_spec", "dataset_status", "load_dataset", "partition", "partition_summary",
]
