"""Launching one experiment -- pick its executor, run it, write its run directory (or what it measured) -- or
one replay of a finished run on another setting (check, replay, verify, write).

Why apart from testbed.experiment.run: the Run (and the ReplayRun) is the work itself and knows nothing of
files; writing results (testbed.experiment.results) reads a finished one.  This module joins the two, so
neither imports the other's consumer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError
from testbed.exec.backends import executor_backend
from testbed.exec.executor import Executor
from testbed.exec.sizeonly import MissingValueError
from testbed.exec.spec import check_batch
from testbed.experiment.exactness import ReplayRefusedError, first_divergence, replay_blockers, training_difference
from testbed.experiment.generator_file import FILENAME as GENERATOR_FILE
from testbed.experiment.replay import BeyondSourceError, ReplayRun
from testbed.experiment.replay_source import SourceRun, fixed_compute_block, metrics_rows, replay_compute
from testbed.experiment.results import BOOKKEEPING, prepare_run_dir, write_partial, write_replay, write_run
from testbed.experiment.run import Run
from testbed.experiment.spec import ExperimentSpec, parse_experiment
from testbed.sim.compute import CostTable
from testbed.sim.engine import ClockError
from testbed.sim.optrace import OPS_FILE, recorded_reads


def make_executor(spec: ExperimentSpec, address: str | None = None) -> Executor:
    """The executor the spec asks for, from the backend registry (testbed.exec.backends: Ray registers
    itself there when testbed.runtime is imported; ``in_task`` placement runs in this process)."""
    check_batch(spec.executors, spec.backend, spec.compute.model, spec.source)  # the backend may come from the CLI
    name = "inprocess" if spec.executors.kind == "in_task" else spec.backend
    return executor_backend(name, spec.source)(spec.executors, list(spec.topology.nodes), address)


def run_experiment(spec: ExperimentSpec, out_dir: str | Path, *, executor: Executor | None = None,
                   progress: bool = True, address: str | None = None,
                   extra_summary: dict[str, Any] | None = None) -> Path:
    """Run one experiment and write its run directory; returns the directory.  ``extra_summary``:
    fields added to ``summary.json`` in the same write (e.g. where a suite cell ran).  An earlier run in
    ``out_dir`` is removed first (testbed.experiment.results.prepare_run_dir); anything else there is refused."""
    prepare_run_dir(Path(out_dir))
    own = executor is None
    executor = executor or make_executor(spec, address)
    try:
        run = Run(spec, executor, progress=progress)
        try:
            run.execute()
        except Exception as err:
            if run.engine is not None:  # training had started: keep what it measured
                write_partial(run, Path(out_dir), err, extra_summary)
            raise
        return write_run(run, Path(out_dir), extra_summary)
    finally:
        if own:
            executor.shutdown()


def replay_experiment(source: SourceRun, target: dict[str, Any], out_dir: str | Path, *, target_src: str,
                      approximate: bool = False, changes: dict[str, Any] | None = None,
                      extra_summary: dict[str, Any] | None = None) -> Path:
    """Replay the recorded run ``source`` on the setting ``target`` (an experiment dict) and write a run
    directory; returns it.  Refused in one line (:class:`ReplayRefusedError`), with nothing written, when the
    replay would not equal a full run of ``target`` and ``approximate`` is not set (docs/design.md §7)."""
    spec = parse_experiment(target, target_src, Path("."))
    if (why := training_difference(source.spec, spec)) is not None:
        raise ConfigError(target_src, "setting", why, "replay changes only the network and compute: "
                          "keep the recorded run's workers (same ids, same order) and training")
    reasons = replay_blockers(source.spec, spec, source.compute_model)
    if reasons and not approximate:
        raise ReplayRefusedError(source.run_dir, "replay", f"not exact: {reasons[0]}",
                                 "rerun with --approximate to replay it anyway (marked approximate: true)")
    compute = replay_compute(spec, source) if spec.compute.model != "measured" else CostTable(source.costs_s)
    session_reads, node_reads = recorded_reads(source.ops)
    replay = ReplayRun(spec, session_reads, node_reads, compute, max_iterations=int(source.summary["iterations"]))
    try:
        replay.execute()
    except (BeyondSourceError, MissingValueError, ClockError) as err:
        raise ReplayRefusedError(source.run_dir, "replay", f"cannot be replayed on this setting: {err}",
                                 "replay onto a setting that trains no further than the recorded run") from None
    trace = replay.recorder.frame()
    divergence = first_divergence(source.ops, trace)
    if divergence is not None and not approximate:
        raise ReplayRefusedError(source.run_dir / OPS_FILE, "replay", f"diverged from the recorded run: {divergence}",
                                 "rerun with --approximate (the method's timing independence does not hold here)")
    exact = not reasons and divergence is None
    resolved = spec.resolved()
    resolved["compute"] = fixed_compute_block(compute, spec)
    metrics = metrics_rows(source, replay.metrics)
    last = metrics.iloc[-1].to_dict()
    recorded = {k: v for k, v in source.summary.items()
                if k not in ("error", "partial", "infrastructure", "traceback", "ran_on")}  # the training's, not ours
    fields = {**recorded, "run_id": spec.name, "topology": spec.topology.name,
              "wall_time_s": replay.wall_time_s, "train_wall_s": replay.wall_time_s,
              **final_quality(last, source.summary, replay.iteration), "replayed_from": str(source.run_dir),
              "approximate": not exact,
              "replay": {"exact": exact, "approximate": not exact, "changes": changes or {}, "not_exact": reasons,
                         "divergence": divergence, "recorded_wall_time_s": source.summary.get("wall_time_s")},
              **(extra_summary or {})}
    return write_replay(replay, Path(out_dir), config=resolved, metrics=metrics, summary_fields=fields, trace=trace,
                        generator_from=source.run_dir / GENERATOR_FILE if exact else None)


def final_quality(last: dict[str, Any], recorded: dict[str, Any], iteration: int) -> dict[str, Any]:
    """The summary's final quality fields from the replay's last metrics row (the recorded run's row there)."""
    same_end = iteration == recorded.get("iterations")
    final = {k: v for k, v in last.items() if k not in BOOKKEEPING and not k.endswith("_std")}
    spread = {k[:-len("_std")]: v for k, v in last.items() if k.endswith("_std")}
    return {"final_quality": final, "final_quality_std": spread,
            "final_quality_by_generator": recorded.get("final_quality_by_generator", {}) if same_end else {},
            "final_lr": {"lr_g": last.get("lr_g"), "lr_d": last.get("lr_d")}}
