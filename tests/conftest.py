"""Shared test setup: tiny models single-threaded, caches in a temp dir, tiny experiments.

Tiny models run fastest single-threaded; caches go to a temp dir (the digits
classifier is trained once per session, never into the user's ~/.cache);
:func:`tiny_experiment` builds experiments that run in a fraction of a second; and what several
modules share is written once here: one local Ray per module (:func:`ray_cluster`), a run executed to
the end with its executor shut down (:func:`executed`), a suite backend that runs each cell at once in
this process (:class:`SerialSuiteBackend`).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path_factory.getbasetemp() / "testbed-cache"))


def load_script(name: str) -> Any:
    """``scripts/<name>.py`` imported as a module (the scripts are not a package; their tests import one by
    path), with its directory importable as `python scripts/<name>.py` would make it."""
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    import sys

    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_datasets(*names: str) -> None:
    """Skip, in one line naming the install command, unless every data set in ``names`` is here.

    Under ``CI=true`` a missing data set fails the test instead: ``.ci/run`` installs MNIST and
    Fashion-MNIST (``scripts/install-data.sh``), so a skip there would hide a broken install.
    """
    from testbed.data import dataset_status

    available = {row.name for row in dataset_status() if row.available}
    missing = [name for name in names if name not in available]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed: bash scripts/install-data.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {message} (.ci/run should have installed it)", pytrace=False)
    pytest.skip(message)


FAST_LAN = {"bandwidth": "100Gbps", "latency": 0}


def tiny_topology(workers: tuple[int, ...] = (2, 2), wan_bandwidth: str = "100Mbps", latency: str = "10ms",
                  speeds: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """DCs a, b, ... in a line, each with the given worker count, joined by identical WAN links."""
    names = [chr(ord("a") + i) for i in range(len(workers))]
    dcs: dict[str, Any] = {}
    for name, count in zip(names, workers, strict=True):
        dcs[name] = {"workers": [{"speed": s} for s in speeds[name]]} if speeds and name in speeds else {
            "workers": count}
    links = [{"between": [x, y], "bandwidth": wan_bandwidth, "latency": latency, "egress_usd_per_gb": 0.02}
             for x, y in itertools.pairwise(names)]
    return {"name": "tiny", "lan": FAST_LAN, "datacenters": dcs, "links": links}


def tiny_experiment(algorithm: dict[str, Any] | str, **overrides: Any) -> dict[str, Any]:
    """An experiment dict: ring8 (400 samples), a small MLP, fixed compute costs."""
    spec: dict[str, Any] = {
        "name": "tiny",
        "topology": tiny_topology(),
        "dataset": {"name": "ring8", "n": 400},
        "partition": "iid",
        "model": {"name": "mlp2d", "hidden": 16, "depth": 2},
        "algorithm": algorithm,
        "training": {"batch_size": 16},
        "max_iterations": 3,
        "eval_every": 100,
        "eval_samples": 200,
        "seed": 0,
        "compute": {"model": "fixed", "costs": {"train_step": "10ms", "grad_step": "10ms", "server_update": "1ms",
                                                 "average": "1ms", "encode": "0.2ms", "decode": "0.1ms"}},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def experiment():
    """The :func:`tiny_experiment` factory."""
    return tiny_experiment


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray (2 CPUs) for the module that asks for it; skipped where Ray is not installed."""
    pytest.importorskip("ray")
    from testbed.runtime.cluster import ensure_ray, shutdown_ray

    ensure_ray(num_cpus=2)
    yield
    shutdown_ray()


@contextmanager
def executed(spec: Any, executor: Any) -> Iterator[Any]:
    """The ``Run`` of ``spec`` on ``executor``, executed to the end; the executor is shut down on leaving
    (read what lives on its nodes inside the ``with``)."""
    from testbed.experiment.run import Run

    run = Run(spec, executor, progress=False)
    try:
        run.execute()
        yield run
    finally:
        executor.shutdown()


class SerialSuiteBackend:
    """A suite backend that runs each cell as it is submitted, in this process: the suite's scheduler,
    index and cell code are the real ones, only the parallelism is not."""

    def __init__(self, options: Any) -> None:
        self.capacity = 1
        self._done: list[tuple[str, dict[str, Any]]] = []

    def submit(self, cell: Any, run_dir: Path) -> None:
        from testbed.suite.cell import run_cell

        self._done.append((cell.id, run_cell(cell.experiment, run_dir)))

    def wait(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        done, self._done = self._done, []
        return done

    def shutdown(self, cancel: bool) -> None:
        pass
