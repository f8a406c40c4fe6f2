"""Every setting acts or is refused: experiment settings that would do nothing in the chosen configuration.

Why: a setting that is parsed, recorded in ``config.yaml`` and then ignored is worse than an
error -- the run looks like it used it.  :func:`check_settings_act` runs after the experiment is
parsed (testbed.experiment.spec) and refuses, each with one line:

* ``data_dir`` that is not a directory, or given for a data set that is generated (``ring8``,
  ``digits``: nothing is read from disk); the loader reads a given ``data_dir`` only, never another copy;
* ``training.lr_final_fraction`` below 1 without ``max_iterations`` (the decay runs to max_iterations);
* ``dataset.n`` smaller than the number of workers (some worker would hold no data).

Method parameters that do nothing are refused by the method itself (e.g. FedAvg's server-optimiser
settings without that optimiser), and ``network.tcp_window`` without ``tcp`` by the parser.
"""

from __future__ import annotations

from pathlib import Path

from testbed.core.errors import ConfigError


def check_settings_act(src: str, *, dataset: str, data_dir: str | None, dataset_n: int | None, workers: int,
                       lr_final_fraction: float, max_iterations: int | None) -> None:
    """ConfigError for the first of an experiment's settings that would do nothing (module docstring)."""
    from testbed.data import dataset_spec

    if data_dir is not None:
        spec = dataset_spec(dataset)
        if spec.file is not None:
            raise ConfigError(src, "data_dir", "the data set names its own files (dataset.path or dataset.dir), so "
                              "data_dir would do nothing", "remove data_dir (it is for mnist and fashion_mnist)")
        if not spec.reads_files:
            raise ConfigError(src, "data_dir", f"{dataset} is generated, not read from files, so data_dir "
                              "would do nothing", "remove data_dir (it is for mnist and fashion_mnist)")
        if not Path(data_dir).is_dir():
            raise ConfigError(src, "data_dir", f"{data_dir} is not a directory",
                              "give a directory of idx files (see: python -m testbed data status), or remove it")
    if lr_final_fraction < 1 and max_iterations is None:
        raise ConfigError(src, "training.lr_final_fraction", "the lr decays linearly until max_iterations, which "
                          "is not set, so it would do nothing", "set max_iterations, or remove lr_final_fraction")
    if dataset_n is not None and dataset_n < workers:
        raise ConfigError(src, "dataset.n", f"{dataset_n} samples for {workers} workers: some would hold no data",
                          f"give n >= {workers} (the number of workers)")
