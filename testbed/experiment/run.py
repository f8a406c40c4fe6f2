"""One experiment end to end: build, calibrate, train in virtual time, evaluate, write.

:class:`Run` implements the :class:`~testbed.methods.api.Session` a method talks to (host a
node state, call a node, spawn a process, ``should_stop()``, ``complete_iteration()``, the
seeded ``rng``) and owns everything a method may not touch -- the wall clock, the evaluator,
the progress bar, files.  Evaluation happens every ``eval_every`` iterations, outside virtual time.
The public entry -- spec in, run directory out -- is :func:`testbed.experiment.launch.run_experiment`.

Finite or stopped: a NaN or infinity in a message (checked per send, testbed.core.finite) or in a
generator (checked per evaluation) stops the run with ``stop_reason: diverged: <where> at iteration N``;
a clock that cannot go on (testbed.sim.engine.ClockError) stops it with its reason.  Either way the
run is ``failed`` (:attr:`Run.failure`) and keeps what it measured up to there.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from tqdm import tqdm

from testbed.core.finite import NonFiniteError
from testbed.exec.executor import Executor
from testbed.experiment.session import ExecutorSession, StopRules
from testbed.experiment.spec import ExperimentSpec
from testbed.methods import algorithm_class
from testbed.methods.common.evaluator import EVAL_SEED_OFFSET, Evaluator
from testbed.methods.common.setup import NodeSetup
from testbed.quality import headline_metric
from testbed.sim.compute import ComputeModel, CostTable
from testbed.sim.engine import ClockError, Engine
from testbed.sim.optrace import OpRecorder
from testbed.sim.tcp import TcpModel

EVALUATOR_NODE = "eval"


def node_setup(spec: ExperimentSpec) -> NodeSetup:
    """What every node state of ``spec``'s run is built from (worker i has data shard i)."""
    return NodeSetup.for_topology(
        spec.topology, dataset=spec.dataset, partition=spec.partition, model=spec.model,
        model_overrides=spec.model_overrides, training=spec.training, seed=spec.seed, dataset_n=spec.dataset_n,
        data_dir=spec.data_dir, max_iterations=spec.max_iterations,
        dataset_sha256=spec.dataset_file.sha256 if spec.dataset_file is not None else None)


def make_engine(spec: ExperimentSpec, executor: Executor, compute: ComputeModel, recorder: OpRecorder | None,
                task_kinds: tuple[str, ...] | None = None) -> Engine:
    """The virtual-time engine of ``spec``'s run (a run and its replay build it alike)."""
    tcp = TcpModel(window_nbytes=spec.tcp_window_nbytes) if spec.tcp else None
    return Engine(spec.topology, executor, compute, seed=spec.seed, tcp=tcp, run_id=spec.name,
                  header_nbytes=spec.header_nbytes, compression=spec.compression, task_kinds=task_kinds,
                  recorder=recorder, calibration_repeats=spec.compute.repeats, rate_window_s=spec.rate_window_s)


class Run(StopRules, ExecutorSession):
    """The state of one experiment while it runs."""

    def __init__(self, spec: ExperimentSpec, executor: Executor, progress: bool = True) -> None:
        self.spec = spec
        self.topology = spec.topology
        nodes = spec.topology.nodes
        self.workers = nodes if spec.topology.has_population else list(nodes)  # a population: ids on demand
        self.setup = node_setup(spec)
        self.recorder: OpRecorder | None = None if spec.topology.has_population else OpRecorder()
        """The op trace (testbed.sim.optrace); None for a client population (it would grow with the population:
        such a run keeps no ops.parquet and cannot be replayed) -- and in benchmarks/replay.py's untraced runs."""
        self.executor = executor
        self.rng = np.random.default_rng(spec.seed)
        self.iteration = 0
        self.stop_reason: str | None = None
        self.stop_time_s: float | None = None
        self.failure: dict[str, Any] | None = None
        """None for a run that ended by a stop condition; else the summary fields of its failure
        (``status: failed``, ``error``, ``diverged: true`` for a NaN or infinity)."""
        self.metrics: list[dict[str, Any]] = []
        self.final_by_generator: dict[str, dict[str, float]] = {}
        self.generators: dict[str, dict[str, Any]] = {}
        self.pictures: list[tuple[int, float, np.ndarray]] = []
        self.algorithm = algorithm_class(spec.algorithm)(self, spec.algorithm_params)
        self.engine: Engine | None = None
        self.headline, self.higher_is_better = headline_metric(spec.dataset)
        self._progress_enabled = progress
        self._bar: tqdm | None = None
        self._wall_start = 0.0
        self.wall_time_s = 0.0
        self.train_wall_s = 0.0
        self.devices: dict[str, dict[str, str]] = {}
        """Each executor process's device (summary.json and run_info.json: ``devices``)."""

    # -- the rest of the Session (host/call/resolve/spawn: ExecutorSession; stopping: StopRules) -----------
    def _progressed(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _fail(self, reason: str, **flags: Any) -> None:
        """End the run as failed with ``reason`` (replacing a stop condition met on the way)."""
        self.stop_reason = reason
        self.stop_time_s = self.engine.now_s if self.engine is not None else 0.0
        self.failure = {"status": "failed", "error": reason, **flags}

    # -- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Score the current generator(s) and log a metrics row (no virtual time passes).

        The row also holds ``lr_g`` / ``lr_d``: the learning rates read back from the optimisers
        that train G and D (the mean over the method's probes), not recomputed from the schedule."""
        result = self.executor.resolve(self.executor.call(
            EVALUATOR_NODE, "evaluate", self.spec.eval_samples, self.spec.seed + EVAL_SEED_OFFSET,
            self.algorithm.generators()))
        if result.get("non_finite"):
            raise NonFiniteError(result["non_finite"])
        if self.recorder is not None:
            self.recorder.evaluate(self.iteration)
        acc = self.engine.accountant
        row = {"iteration": self.iteration, "virtual_time_s": self.engine.now_s,
               "wall_time_s": time.perf_counter() - self._wall_start, "total_bytes": acc.total_nbytes,
               "wan_bytes": acc.wan_nbytes, "lan_bytes": acc.lan_nbytes, "egress_usd": acc.egress_usd,
               **self._lrs(), **result["metrics"]}
        self.final_by_generator = result["by_generator"]
        self.metrics.append(row)
        self.pictures.append((self.iteration, self.engine.now_s, result["samples"]))
        if self._bar is not None:
            self._bar.set_postfix_str(f"t={self.engine.now_s:.1f}s {self.headline}={row.get(self.headline, 0):.3g}")
        return result["metrics"]

    def _lrs(self) -> dict[str, float]:
        lrs = [self.executor.resolve(h) for h in self.algorithm.lr_probes()]
        out = {}
        for key in ("lr_g", "lr_d"):
            values = [lr[key] for lr in lrs if lr.get(key) is not None]
            out[key] = float(np.mean(values)) if values else float("nan")
        return out

    def final_generators(self) -> dict[str, dict[str, Any]]:
        """Each trained generator as a torch ``state_dict`` (parameters and buffers), by label."""
        return self.executor.resolve(self.executor.call(EVALUATOR_NODE, "state_dicts", self.algorithm.generators()))

    # -- the whole run ----------------------------------------------------------------------------
    def _compute_model(self) -> ComputeModel:
        cfg = self.spec.compute
        model = cfg.build()
        if isinstance(model, CostTable) and model.source == "calibrated":
            missing = [k for k in self.algorithm.task_kinds if k not in model.costs_s]
            for kind in missing:
                node = self.algorithm.calibration_node(kind)
                model.costs_s[kind] = float(self.executor.resolve(
                    self.executor.call(node, "time_task", kind, cfg.repeats)))
        return model

    def execute(self) -> None:
        """Set up, calibrate, train until a stop condition, evaluate the end state (with torch's deterministic
        algorithms in every executor process for the run if ``training.deterministic``)."""
        deterministic = self.spec.training.deterministic
        previous = self.executor.set_deterministic(True) if deterministic else None
        try:
            self._execute()
        finally:
            if deterministic:
                self.executor.set_deterministic(bool(previous))

    def _execute(self) -> None:
        spec = self.spec
        self._wall_start = time.perf_counter()
        self.algorithm.setup()
        self.devices = self.executor.devices()
        self.executor.host(EVALUATOR_NODE, Evaluator, self.setup)
        self.engine = make_engine(spec, self.executor, self._compute_model(), self.recorder,
                                  self.algorithm.task_kinds)
        self.watch_crashes(self.algorithm.node_crashed)
        self.evaluate()
        self._bar = tqdm(total=spec.max_iterations, desc=f"{spec.name}", unit="it", leave=False,
                         disable=not self._progress_enabled, dynamic_ncols=True)
        train_start = time.perf_counter()
        try:
            try:
                self.algorithm.start()
                self.engine.run(until=spec.max_virtual_time_s)
                self.executor.barrier()
            finally:
                self._bar.close()
                self.train_wall_s = time.perf_counter() - train_start
            self.finish(self.metrics[-1])
        except NonFiniteError as err:
            self._fail(f"diverged: {err.where} at iteration {self.iteration}", diverged=True)
        except ClockError as err:
            self._fail(f"{err} at iteration {self.iteration}")
        self.generators = self.final_generators()
        self.wall_time_s = time.perf_counter() - self._wall_start
