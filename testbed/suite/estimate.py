"""``--dry-run``: each cell's cost -- exactly where it can be replayed, else estimated from a short probe.

How: the cell runs in this process (in-process executor, its own compute model, so
``calibrated`` cells time their tasks) for up to :data:`PROBE_ITERATIONS` global
iterations -- fewer if the probe's wall-clock budget runs out -- recording bytes,
WAN bytes, dollars, virtual and wall seconds after every iteration.  Then the whole
run is *replayed* (testbed.experiment.replay: every node's protocol on the engine with
nothing trained) from a synthetic op trace: the probe's setup reads (data shard sizes)
and its compute costs -- so bytes, dollars, iterations and virtual time are what the
full run will measure, to the bit, for every method whose processes read no trained
value (all but Gaia), the same numbers ``python -m testbed replay`` would give.  Where
no such trace can be built -- a method whose processes read values (Gaia's significance
filter), ``compute: measured``, or a replay longer than :data:`REPLAY_WALL_BUDGET_S` --
the cost is extrapolated from the probe and the output says so.  Extrapolation: the slope over
the probe's second half is the steady per-iteration cost; the run's total is the
probe's end plus that slope for the remaining iterations.  Its *end*, not its last
iteration: messages sent once the last iteration is complete (a worker's D swap, a push in
flight) are part of a full run's end too, and a method that knows the budget sends less in
the last iteration (a parameter server answers no pull for a step beyond it), so that
iteration is left out of the slope.  A second half, not two single iterations, because
several methods warm up or act periodically:

* Gaia's first clock ticks run ahead of its mirrors (virtual time per tick grows
  for a few ticks, then is steady);
* MD-GAN swaps discriminators every P iterations (once per local epoch), so a
  one-iteration slope missed every swap (-40 % bytes), and a slope over a window
  that happens to hold one swap counts it too often: such *periodic* message kinds
  (``swap_d``) are taken out of the slope and added back as (bytes per swap seen in
  the probe) x floor(iterations / P), the kinds and P declared by the algorithm
  (``Algorithm.periodic_kinds()``);
* one iteration's wall time is noise.

Iterations are ``max_iterations`` or, for a time or byte budget, where the slope
crosses it.  One real evaluation is timed and charged for every evaluation the run
will do.  What stays an estimate, and is marked so (``bound``):

* a method whose bytes depend on the parameter values says so (``Algorithm.value_dependent``):
  **Gaia** sends only updates above the significance threshold, fewer as training settles, so
  bytes extrapolated from early iterations are an *upper bound* (measured: WAN bytes +12 % to
  +300 %), as is virtual time on a slow WAN (+63 % at 10 Mbps);
* bytes or virtual time per iteration that are not the same every iteration of the probe's
  second half (FedAvg choosing a different client set each round, MD-GAN's swaps shifting
  the timing): extrapolated from their mean, and the note says by how much they vary;
* **wall time** is this machine, now, in process: a Ray run adds actor start-up and
  per-call overhead, and other load on the machine changes it (a rough figure).

Wall time is always the probe's extrapolation.  tests/test_conformance.py checks, for every registered
method, that the estimate of a 24-iteration run equals the run or is marked.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from testbed.exec.executor import InProcessExecutor
from testbed.exec.sizeonly import MissingValueError
from testbed.experiment.replay import ReplayRun, ReplayTooLongError
from testbed.experiment.run import Run
from testbed.experiment.spec import ExperimentSpec
from testbed.sim.compute import CostTable
from testbed.sim.optrace import recorded_reads
from testbed.suite.spec import Cell

PROBE_ITERATIONS = 16
"""Most iterations a probe runs (all of them if the cell has no more)."""
PROBE_MIN_ITERATIONS = 6
PROBE_WALL_BUDGET_S = 8.0
"""A probe stops after this much training wall time, once it has PROBE_MIN_ITERATIONS."""
KEYS = ("bytes", "wan_bytes", "egress_usd", "virtual_s", "wall_s")
REPLAY_WALL_BUDGET_S = 60.0
"""A synthetic replay that takes longer than this is abandoned for the probe's extrapolation."""


class _ProbeRun(Run):
    """A run that records its cost after every iteration and evaluates once (to time it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.points: list[dict[str, float]] = []
        self.eval_wall_s = 0.0
        self._train_start = 0.0

    def evaluate(self) -> dict[str, float]:
        if self.eval_wall_s == 0.0 and self.iteration == 0:
            start = time.perf_counter()
            result = super().evaluate()
            self.eval_wall_s = time.perf_counter() - start
            self._train_start = time.perf_counter()
            return result
        self.metrics.append({"iteration": self.iteration})
        return {}

    def complete_iteration(self) -> None:
        super().complete_iteration()
        acc = self.engine.accountant
        self.points.append({"bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes, "egress_usd": acc.egress_usd,
                            "virtual_s": self.engine.now_s, "wall_s": time.perf_counter() - self._train_start})
        if self.iteration >= PROBE_MIN_ITERATIONS and self.points[-1]["wall_s"] > PROBE_WALL_BUDGET_S:
            self._stop("probe budget")


def _probe(spec: ExperimentSpec) -> tuple[_ProbeRun, float]:
    iterations = min(spec.max_iterations or PROBE_ITERATIONS, PROBE_ITERATIONS)
    spec = dataclasses.replace(spec, max_iterations=iterations, max_virtual_time_s=None, max_bytes=None,
                               eval_every=10**9, backend="inprocess")
    executor = InProcessExecutor()
    start = time.perf_counter()
    try:
        run = _ProbeRun(spec, executor, progress=False)
        run.execute()
    finally:
        executor.shutdown()
    return run, time.perf_counter() - start


def _split_periodic(run: _ProbeRun) -> tuple[list[dict[str, float]], Any, str]:
    """Points without the periodic kinds; (events seen, cost per event, period, their totals) or None; a
    bound note."""
    periodic = run.algorithm.periodic_kinds()
    frame = run.engine.accountant.frame() if run.engine is not None and len(run.engine.accountant) else None
    if frame is None or not periodic:
        return run.points, None, ""
    kinds = sorted(periodic)
    period = min(periodic.values())
    sent = frame[frame["kind"].isin(kinds)]
    if sent.empty:
        return run.points, None, (f"sends {'/'.join(kinds)} every {period} iterations, none within the "
                                  f"probe: those bytes are left out, a lower bound")
    points = []
    for point in run.points:
        before = sent[sent["t_send_s"] <= point["virtual_s"]]
        points.append({**point, **{key: point[key] - value for key, value in _sums(before).items()}})
    events = max(1, round(len(sent) / max(1, len(run.workers))))
    total = _sums(sent)
    return points, (events, {key: value / events for key, value in total.items()}, period, total), ""


def _sums(frame: Any) -> dict[str, float]:
    """Bytes, WAN bytes and dollars of the messages in ``frame``."""
    wan = frame.loc[frame["scope"] == "wan", "nbytes"]
    return {"bytes": float(frame["nbytes"].sum()), "wan_bytes": float(wan.sum()),
            "egress_usd": float(frame["egress_usd"].sum())}


def _drained(run: _ProbeRun) -> dict[str, float]:
    """The probe's totals once its engine ran out: messages sent after its last iteration (a worker's
    swap, an in-flight push) included, as they are in a full run's -- virtual and wall time at its last."""
    acc = run.engine.accountant
    last = run.points[-1]
    return {"bytes": float(acc.total_nbytes), "wan_bytes": float(acc.wan_nbytes), "egress_usd": float(acc.egress_usd),
            "virtual_s": last["virtual_s"], "wall_s": last["wall_s"]}


def _slope(points: list[dict[str, float]]) -> tuple[dict[str, float], str]:
    """The steady cost per iteration -- over the second half of the probe, without its last iteration
    (whose messages a budget-aware method trims) -- and a note when it is not the same every iteration."""
    zero = dict.fromkeys(KEYS, 0.0)
    steady = points[:-1] if len(points) > 2 else points
    series = [zero, *steady] if len(steady) == 1 else steady
    if len(series) < 2:
        return zero, ""
    i0 = max(0, len(series) // 2 - 1)
    span = len(series) - 1 - i0
    per = {key: max(0.0, (series[-1][key] - series[i0][key]) / span) for key in KEYS}
    if len(points) > 2:  # wall time has no warm-up to skip, only noise: use every probe iteration
        per["wall_s"] = max(0.0, (points[-1]["wall_s"] - points[0]["wall_s"]) / (len(points) - 1))
    uneven = []
    for key, what, unit in (("bytes", "bytes", "B"), ("virtual_s", "virtual time", "s")):
        steps = [series[i + 1][key] - series[i][key] for i in range(i0, len(series) - 1)]
        if max(steps) - min(steps) > 1e-9 * max(abs(per[key]), 1e-12):
            uneven.append(f"{what} per iteration varies within the probe ({min(steps):.6g}-{max(steps):.6g} {unit})")
    return per, ("; ".join(uneven) + ": extrapolated from its mean") if uneven else ""


def _replayed(spec: ExperimentSpec, probe: _ProbeRun) -> tuple[ReplayRun | None, str]:
    """The whole run replayed from the probe's synthetic trace, or None and why it could not be."""
    model = probe.engine.compute_model if probe.engine is not None else None
    if probe.recorder is None:
        return None, "a client population keeps no op trace to replay: extrapolated from the probe"
    if not isinstance(model, CostTable):
        return None, "compute: measured is timed call by call: extrapolated from the probe"
    session_reads, _ = recorded_reads(probe.recorder.frame())
    replay = ReplayRun(spec, session_reads, {}, model, wall_budget_s=REPLAY_WALL_BUDGET_S)
    try:
        replay.execute()
    except MissingValueError:
        return None, probe.algorithm.value_dependent or "its processes read trained values: extrapolated"
    except ReplayTooLongError:
        return None, f"a replay of the whole run takes over {REPLAY_WALL_BUDGET_S:g} s here: extrapolated"
    return replay, ""


def estimate_cell(cell: Cell) -> dict[str, Any]:
    """Iterations, bytes, WAN bytes, egress, virtual and wall seconds of one cell (+ ``bound`` where estimated)."""
    spec = cell.spec
    run, probe_wall = _probe(spec)
    replay, why = _replayed(spec, run)
    if replay is None:
        estimate = _extrapolated(cell, run, probe_wall)
        return {**estimate, "replayed": False,
                "bound": "; ".join(dict.fromkeys(b for b in (why, estimate["bound"]) if b))}
    acc = replay.engine.accountant
    iterations = replay.iteration
    estimate = _extrapolated(cell, run, probe_wall, iterations)
    return {**estimate, "iterations": iterations, "bytes_per_iteration": acc.total_nbytes / max(iterations, 1),
            "bound": "", "replayed": True, "est_bytes": float(acc.total_nbytes), "est_wan_bytes": float(acc.wan_nbytes),
            "est_egress_usd": acc.egress_usd, "est_virtual_s": replay.virtual_time_s}


def _extrapolated(cell: Cell, run: _ProbeRun, probe_wall: float, iterations: int | None = None) -> dict[str, Any]:
    """The probe's extrapolation (wall time always comes from here; ``iterations``: known from a replay)."""
    spec = cell.spec
    points, periodic, bound = _split_periodic(run)
    k = len(points)
    per, uneven = _slope(points)
    last = points[-1] if k else dict.fromkeys(KEYS, 0.0)
    whole = k > 0 and run.stop_reason == "max_iterations"  # not cut short by the probe's wall-clock budget
    end = _drained(run) if whole else dict(last)  # cut short, later iterations' messages may be in flight
    if whole and periodic is not None:  # its drained end without the periodic messages (``last`` has none)
        end.update({key: end[key] - value for key, value in periodic[3].items()})
    known = iterations
    iterations = spec.max_iterations if known is None else known
    if known is None and spec.max_virtual_time_s is not None and per["virtual_s"] > 0:
        by_time = k + int(max(0.0, spec.max_virtual_time_s - last["virtual_s"]) // per["virtual_s"])
        iterations = by_time if iterations is None else min(iterations, by_time)
    if known is None and spec.max_bytes is not None and per["bytes"] > 0:
        by_bytes = k + int(max(0.0, spec.max_bytes - last["bytes"]) // per["bytes"]) + 1
        iterations = by_bytes if iterations is None else min(iterations, by_bytes)
    n = iterations or 0
    total = {key: end[key] + per[key] * (n - k) for key in KEYS}
    if periodic is not None:  # add back the periodic messages at their own rate
        _, each, period, _ = periodic
        for key in ("bytes", "wan_bytes", "egress_usd"):
            total[key] += each[key] * (n // period)
    if n <= k:
        bound = ""  # nothing periodic was missed, nothing extrapolated
    else:
        bound = "; ".join(note for note in (bound, uneven) if note)
    if n <= k and k:  # the probe was the whole run
        exact = _drained(run) if n == k else run.points[n - 1]
        total.update({key: exact[key] for key in ("bytes", "wan_bytes", "egress_usd", "virtual_s")})
    evaluations = 1 + n // spec.eval_every + (1 if n % spec.eval_every else 0)
    setup_wall = max(0.0, probe_wall - last["wall_s"] - run.eval_wall_s)
    total["wall_s"] = setup_wall + total["wall_s"] + evaluations * run.eval_wall_s
    return {"cell": cell.id, "algorithm": spec.algorithm, "iterations": iterations,
            "bytes_per_iteration": per["bytes"], "probe_iterations": k,
            "bound": run.algorithm.value_dependent or bound,
            **{f"est_{key}": total[key] for key in KEYS}}
