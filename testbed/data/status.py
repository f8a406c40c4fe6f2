"""Which data sets can be loaded on this machine, and from where (for ``data status``)."""

from __future__ import annotations

from dataclasses import dataclass

from testbed.core.errors import ConfigError
from testbed.data.dataset import DATASETS


@dataclass(frozen=True)
class DatasetStatus:
    """One row of ``data status``: available or not, and the source or the fix."""

    name: str
    kind: str
    available: bool
    where: str


def dataset_status(data_dir: str | None = None) -> list[DatasetStatus]:
    """One status per registered data set, without loading any of them."""
    rows = []
    for spec in DATASETS.values():
        try:
            rows.append(DatasetStatus(spec.name, spec.kind, True, spec.locate(data_dir)))
        except ConfigError as err:
            rows.append(DatasetStatus(spec.name, spec.kind, False, f"not available; fix: {err.fix}"))
    return rows
