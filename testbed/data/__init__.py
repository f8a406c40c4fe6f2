"""Data sets and partitions: everything about *which* samples a worker trains on.

Importing this package registers every data set (mixtures, digits, MNIST,
Fashion-MNIST) and every file format a researcher's own data can come in (``npz``, ``npy``,
``images``: :mod:`testbed.data.files`); use :func:`load_dataset` and :func:`partition`.
"""

from __future__ import annotations

from testbed.data import arrays, digits, images, mixtures, mnist  # noqa: F401  (registration side effect)
from testbed.data.dataset import (
    DATASETS,
    Dataset,
    DatasetSpec,
    canonical_dataset_name,
    dataset_spec,
    load_dataset,
)
from testbed.data.files import FORMATS, dataset_label, parse_file_dataset, yaml_form
from testbed.data.mixtures import MIXTURES, MixtureSpec
from testbed.data.partition import PARTITION_SPECS, partition, partition_summary
from testbed.data.status import DatasetStatus, dataset_status

__all__ = [
    "DATASETS", "FORMATS", "MIXTURES", "PARTITION_SPECS", "Dataset", "DatasetSpec", "DatasetStatus", "MixtureSpec",
    "canonical_dataset_name", "dataset_label", "dataset_spec", "dataset_status", "load_dataset", "parse_file_dataset",
    "partition", "partition_summary", "yaml_form",
]
