"""The run directory: every file a finished experiment leaves behind (docs/design.md §3).

``config.yaml`` (fully resolved), ``traffic.parquet`` (+ CSV), ``links.csv``, ``wan_rate.csv`` (the bits
per second every WAN link carried per ``network.rate_window``, testbed.sim.rate_meter),
``metrics.csv`` (quality, bytes and the learning rates in force at each evaluation),
``nodes.csv`` (compute / communication / waiting per node; a client population's clients summed
in one row, ``<dc>/*``, so the file does not grow with the population), ``compute_costs.json``,
``ops.parquet`` (what every node did, for ``testbed replay``: testbed.sim.optrace),
``samples/``, ``generator.pt`` (the final generator(s) with their buffers, see
testbed.experiment.generator_file), ``run_info.json`` (the command line and the machine, see
testbed.core.provenance) and ``summary.json`` (with the method's *footing*: update
order and optimiser steps per iteration; and ``quality_features``: which features the quality
metrics were computed in, testbed.quality.provenance).  Every file is written
atomically and ``summary.json`` last, so a directory whose summary says
``status: complete`` is whole; anything else is safe to re-run.  A run that diverged (a NaN or
infinity, testbed.core.finite) or whose clock could not go on writes every file too, with
``status: failed``, its ``stop_reason`` as ``error`` (and ``diverged: true``) and the metrics up to there.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write, atomic_write_text
from testbed.core.provenance import FILENAME as RUN_INFO_FILE
from testbed.core.provenance import run_info
from testbed.data import dataset_spec
from testbed.experiment.generator_file import FILENAME as GENERATOR_FILE
from testbed.experiment.generator_file import save_generators
from testbed.experiment.sample_pictures import save_samples_picture
from testbed.experiment.spec import dump_yaml
from testbed.gan import count_params
from testbed.methods.common.evaluator import EVAL_SEED_OFFSET
from testbed.quality import provenance as quality_provenance
from testbed.sim.cross_traffic import SharedNetwork
from testbed.sim.optrace import OPS_FILE

if TYPE_CHECKING:
    from testbed.experiment.replay import ReplayRun
    from testbed.experiment.run import Run

RUN_FILES = frozenset({"config.yaml", "run_info.json", "metrics.csv", "traffic.parquet", "traffic.csv", "links.csv",
                       "wan_rate.csv", "background_rate.csv", "nodes.csv", "compute_costs.json", "samples",
                       GENERATOR_FILE, "summary.json", OPS_FILE, "plots", "report.html"})
"""What a run directory may hold: the files above, and what ``plot`` and ``report`` write into it by default."""


def prepare_run_dir(out_dir: Path) -> None:
    """Empty ``out_dir`` before a run writes into it, when all it holds is a run's (an earlier run there: a
    re-run must not keep the old run's sample pictures beside its own); anything else there is refused
    with one line and left alone -- a run never removes what it did not write."""
    if not out_dir.is_dir():
        return
    entries = list(out_dir.iterdir())
    foreign = sorted(e.name for e in entries if e.name not in RUN_FILES and not _atomic_leftover(e.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ConfigError("command line", "--out", f"{out_dir} holds files that are not a run's ({shown})",
                          "give a new or empty directory, or an earlier run's directory (it is replaced)")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _atomic_leftover(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")  # testbed.core.fileio.atomic_write's temporary files


def write_run(run: Run, out_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write every file of a finished run into ``out_dir``; returns it.  ``extra``: more summary fields
    (a suite cell's ``ran_on``), written with the rest so no reader ever sees a summary without them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = run.spec
    for write in _measured(run, out_dir, run.virtual_time_s):
        write()
    _write_engine_files(run, out_dir)
    for iteration, t_s, samples in run.pictures:
        if samples is not None:
            save_samples_picture(samples, spec.dataset, out_dir / "samples" / f"iter_{iteration:06d}.png",
                                 title=f"{spec.algorithm} · iteration {iteration} · t = {t_s:.1f} s (virtual)")
    save_generators(out_dir / GENERATOR_FILE, run.generators, model=spec.model, model_overrides=spec.model_overrides,
                    dataset=spec.dataset, sample_shape=dataset_spec(spec.dataset).sample_shape, seed=spec.seed,
                    eval_seed=spec.seed + EVAL_SEED_OFFSET)
    atomic_write_text(out_dir / "summary.json", json.dumps({**summary(run), **(extra or {})}, indent=2,
                                                         default=_jsonable))
    return out_dir


def _write_engine_files(run: Run | ReplayRun, out_dir: Path) -> None:
    """``nodes.csv`` (where each node's virtual time went) and ``compute_costs.json`` (what was charged)."""
    engine = run.engine
    nodes = pd.DataFrame([{"node": node, "compute_s": s.compute_s, "communication_s": s.communication_s,
                           "waiting_s": s.waiting_s, **{f"tasks_{k}": v for k, v in s.tasks.items()}}
                          for node, s in sorted(engine.node_stats().items())])
    atomic_write(out_dir / "nodes.csv", lambda p: nodes.to_csv(p, index=False))
    costs = {"model": engine.compute_model.name, "costs_s": engine.compute_model.costs()}
    atomic_write_text(out_dir / "compute_costs.json", json.dumps(costs, indent=2))


def write_replay(replay: ReplayRun, out_dir: Path, *, config: dict[str, Any], metrics: pd.DataFrame,
                 summary_fields: dict[str, Any], trace: pd.DataFrame, generator_from: Path | None) -> Path:
    """Write a replayed run's directory: every file a run has (the final generator copied from the run it
    replays, no sample pictures: their titles carry the recorded run's times), ``summary.json`` last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = replay.engine
    config_text = dump_yaml(config)
    atomic_write_text(out_dir / "config.yaml", config_text)
    atomic_write_text(out_dir / RUN_INFO_FILE, json.dumps(run_info(), indent=2))
    atomic_write(out_dir / "metrics.csv", lambda p: metrics.to_csv(p, index=False))
    engine.accountant.write(out_dir, engine.network.link_busy_s(), replay.virtual_time_s)
    replay.recorder.write(out_dir, config_text, trace)
    _write_wan_rate(replay, out_dir, replay.virtual_time_s)
    _write_engine_files(replay, out_dir)
    if generator_from is not None and generator_from.is_file():
        data = generator_from.read_bytes()
        atomic_write(out_dir / GENERATOR_FILE, lambda p: p.write_bytes(data))
    acc = engine.accountant
    measured = {"iterations": replay.iteration, "virtual_time_s": replay.virtual_time_s,
                "total_bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes, "lan_bytes": acc.lan_nbytes,
                "egress_usd": acc.egress_usd, "messages": len(acc), "bytes_by_kind": acc.bytes_by_kind(),
                "wan_bytes_by_kind": acc.bytes_by_kind(scope="wan"), "stop_reason": replay.stop_reason,
                "wan_bandwidth": _wan_bandwidth(replay), **_background(replay),
                **({"method_results": extra} if (extra := replay.algorithm.results()) else {})}
    recorded = {k: v for k, v in summary_fields.items() if k not in ("background", "method_results")}  # ours
    atomic_write_text(out_dir / "summary.json", json.dumps({**recorded, **measured, "status": "complete"},
                                                         indent=2, default=_jsonable))
    return out_dir


def write_partial(run: Run, out_dir: Path, error: BaseException, extra: dict[str, Any] | None = None) -> Path:
    """What a run that died mid-training had measured: config, metrics and traffic so far.

    ``summary.json`` says ``status: failed`` and ``partial: true``.  Best effort: the
    run is already failing, so a file that cannot be written is skipped, never raised.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    spec, engine = run.spec, run.engine
    now = engine.now_s if engine is not None else 0.0
    for write in _measured(run, out_dir, now):
        try:
            write()
        except Exception:
            continue
    acc = engine.accountant
    fields = {
        "run_id": spec.name, "algorithm": spec.algorithm, "topology": spec.topology.name, "dataset": spec.dataset,
        "partition": spec.partition, "model": spec.model, "seed": spec.seed, "iterations": run.iteration,
        "virtual_time_s": now, "total_bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes,
        "lan_bytes": acc.lan_nbytes, "egress_usd": acc.egress_usd, "messages": len(acc),
        "status": "failed", "partial": True, "error": " ".join(f"{type(error).__name__}: {error}".split()),
        "devices": run.devices,
        **(extra or {}),
    }
    atomic_write_text(out_dir / "summary.json", json.dumps(fields, indent=2, default=_jsonable))
    return out_dir


def _measured(run: Run, out_dir: Path, duration_s: float) -> list[Callable[[], Any]]:
    """Writers of what a run measured -- ``config.yaml``, ``run_info.json``, ``metrics.csv``, the traffic
    files -- shared by a finished run (all must succeed) and one that died mid-training (each is best effort)."""
    engine, recorder = run.engine, run.recorder
    config_text = dump_yaml(run.spec.resolved())
    writers = [lambda: atomic_write_text(out_dir / "config.yaml", config_text),
               lambda: atomic_write_text(out_dir / RUN_INFO_FILE,
                                         json.dumps({**run_info(), "devices": run.devices}, indent=2)),
               lambda: atomic_write(out_dir / "metrics.csv",
                                    lambda p: pd.DataFrame(run.metrics).to_csv(p, index=False)),
               lambda: engine.accountant.write(out_dir, engine.network.link_busy_s(), duration_s),
               lambda: _write_wan_rate(run, out_dir, duration_s)]
    if recorder is not None:  # a client population keeps no op trace
        writers.append(lambda: recorder.write(out_dir, config_text))
    return writers


def _write_wan_rate(run: Run | ReplayRun, out_dir: Path, duration_s: float) -> None:
    """``wan_rate.csv``: bits per second each directed WAN link carried in each ``network.rate_window``; with
    cross-traffic, ``background_rate.csv``: the same for the background (testbed.sim.cross_traffic)."""
    network = run.engine.network
    network.freeze_meters(run.engine.now_s)  # no-op after the stop froze them
    meters = [("wan_rate.csv", network.meter)]
    if isinstance(network, SharedNetwork):
        meters.append(("background_rate.csv", network.background_meter))
    for name, meter in meters:
        width = meter.window_s * meter.merged(duration_s)
        rows = [{"t_s": i * width, "link": f"{a}->{b}", "bps": bps}
                for a, b in meter.links for i, bps in enumerate(meter.series_bps(duration_s, [(a, b)]))]
        frame = pd.DataFrame(rows, columns=["t_s", "link", "bps"])
        atomic_write(out_dir / name, lambda p, f=frame: f.to_csv(p, index=False))


BOOKKEEPING = ("iteration", "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes", "lan_bytes", "egress_usd",
               "lr_g", "lr_d")


def summary(run: Run) -> dict[str, Any]:
    """The ``summary.json`` fields."""
    spec, acc = run.spec, run.engine.accountant
    state = run.setup.gan_state("cpu")
    last = run.metrics[-1]
    final = {k: v for k, v in last.items() if k not in BOOKKEEPING and not k.endswith("_std")}
    spread = {k[:-len("_std")]: v for k, v in last.items() if k.endswith("_std")}
    return {
        "run_id": spec.name, "algorithm": spec.algorithm, "topology": spec.topology.name,
        "dataset": spec.dataset, "partition": spec.partition, "model": spec.model, "seed": spec.seed,
        "iterations": run.iteration, "virtual_time_s": run.virtual_time_s, "wall_time_s": run.wall_time_s,
        "train_wall_s": run.train_wall_s,
        "total_bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes, "lan_bytes": acc.lan_nbytes,
        "egress_usd": acc.egress_usd, "messages": len(acc),
        "bytes_by_kind": acc.bytes_by_kind(), "wan_bytes_by_kind": acc.bytes_by_kind(scope="wan"),
        "generator_params": count_params(state.G), "discriminator_params": count_params(state.D),
        "final_quality": final, "final_quality_std": spread, "final_quality_by_generator": run.final_by_generator,
        "final_lr": {"lr_g": last.get("lr_g"), "lr_d": last.get("lr_d")},
        "wan_bandwidth": _wan_bandwidth(run), **_background(run),
        "footing": run.algorithm.footing(),
        **({"method_results": extra} if (extra := run.algorithm.results()) else {}),
        "headline_metric": run.headline, "higher_is_better": run.higher_is_better,
        "quality_features": quality_provenance(spec.dataset),
        "stop_reason": run.stop_reason, "status": "complete", "devices": run.devices, **(run.failure or {}),
    }


def _wan_bandwidth(run: Run | ReplayRun) -> dict[str, Any]:
    """Mean and peak WAN bandwidth up to the stop (testbed.sim.rate_meter), summed over the WAN and per link."""
    network = run.engine.network
    network.freeze_meters(run.engine.now_s)  # no-op after the stop froze them
    return network.meter.summary(run.virtual_time_s)


def _background(run: Run | ReplayRun) -> dict[str, Any]:
    """Cross-traffic per directed link up to the stop: offered and carried (none without ``background:``)."""
    network = run.engine.network
    if not isinstance(network, SharedNetwork):
        return {}
    network.freeze_meters(run.engine.now_s)
    return {"background": network.background_summary(run.virtual_time_s)}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
