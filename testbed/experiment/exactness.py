"""When a replay is exact, and the check that it was: the exactness contract of ``testbed replay``.

Why two halves.  Before a replay (:func:`replay_blockers`): a replay copies the recorded run's quality,
which is right only if the run on the new setting would have computed the same values.  Each method
declares that for its parameters on a topology (``Algorithm.timing_dependence``, beside its byte
formula); conditions that no method controls are checked here, once: ``compute: measured`` (every call
charged its own wall time: a full run would measure anew), nodes that go down or crash (when depends
on timing, and so does what a method does about it), and a training configuration that is not the
recorded one.  After a replay (:func:`first_divergence`): the replay's own op trace must follow the
recorded one -- every node's computations and every stream of messages (sender, destination, kind) with
their sizes and tags as a prefix, every stream's receptions as a subset (jitter may swap two messages of a
stream; a method that tells them apart does so by sequence number, as MD-GAN does) -- and its evaluations must
be the recorded ones, in order, each at the same iteration and seeing every node
after the same number of computations as the recorded evaluation at that iteration did.  A declaration
that is wrong for some configuration then shows up as a refusal, not as a silently wrong number.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pandas as pd

from testbed.core.errors import ConfigError
from testbed.experiment.spec import ExperimentSpec
from testbed.methods import algorithm_class
from testbed.sim.optrace import SESSION
from testbed.topology.model import Topology


class ReplayRefusedError(ConfigError):
    """A replay that would not equal a full run of the new setting (one line: why, and ``--approximate``)."""


NOT_TRAINING = ("name", "description", "topology", "compute", "backend", "executors", "data_dir")
"""Experiment fields that change when things happen, or where, never what is trained -- besides the nodes and
their order, which the topology also fixes (compared apart), and ``network`` but for its compression."""


def training_key(spec: ExperimentSpec) -> str:
    """What must be equal for one run to be replayed as another: everything but :data:`NOT_TRAINING` and the
    network's timing (TCP, headers), plus the workers in order (worker i has data shard i) and the datacenters."""
    resolved = {k: v for k, v in spec.resolved().items() if k not in NOT_TRAINING}
    resolved["network"] = {"compression": resolved["network"]["compression"]}
    resolved["nodes"] = list(spec.topology.nodes)
    resolved["datacenters"] = [dc.name for dc in spec.topology.datacenters]
    return json.dumps(resolved, sort_keys=True, default=str)


def training_difference(source: ExperimentSpec, target: ExperimentSpec) -> str | None:
    """Why ``target`` does not train what ``source`` trained (None: it does)."""
    if list(source.topology.nodes) != list(target.topology.nodes):
        missing = [n for n in source.topology.nodes if n not in set(target.topology.nodes)]
        if missing:
            return f"the topology lacks node {missing[0]}, which the recorded run used"
        return (f"the topology's workers are not the recorded run's, in its order "
                f"({', '.join(target.topology.nodes[:4])}... vs {', '.join(source.topology.nodes[:4])}...)")
    if training_key(source) != training_key(target):
        a, b = json.loads(training_key(source)), json.loads(training_key(target))
        field = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        return f"{field} differs from the recorded run's ({b.get(field)!r} vs {a.get(field)!r})"
    return None


def _availability(topology: Topology) -> str | None:
    for dc in topology.datacenters:
        for dynamics, who in [(dc.dynamics, dc.name), *((w.dynamics, w.node_id) for w in dc.workers)]:
            if dynamics.availability is not None:
                return (f"{who} has an availability (down times or a crash) on topology {topology.name!r}: "
                        "when a node is down, and what the method does about it, depends on timing")
    return None


def replay_blockers(source: ExperimentSpec, target: ExperimentSpec, source_compute_model: str) -> list[str]:
    """Why replaying ``source``'s recorded run as ``target`` would not equal a full run of ``target``
    (empty: it would, as far as can be told before replaying)."""
    reasons = []
    if source_compute_model == "measured":
        reasons.append("the recorded run charged each computation its measured wall time (compute: measured), "
                       "which a full run would measure anew; give fixed costs with --compute FILE")
    if target.compute.model == "measured":
        reasons.append("the new setting measures compute (compute: measured), which a replay cannot")
    for topology in dict.fromkeys([source.topology, target.topology]):
        if (why := _availability(topology)) is not None:
            reasons.append(why)
    cls = algorithm_class(target.algorithm)
    for topology in dict.fromkeys([source.topology, target.topology]):
        why = cls.timing_dependence(target.algorithm_params, topology)
        if why is not None and why not in reasons:
            reasons.append(why)
    return reasons


# -- after the replay: did it follow the recorded run? ---------------------------------------------------
Streams = dict[tuple[Any, ...], list[Any]]


def streams(frame: pd.DataFrame) -> tuple[Streams, list[tuple[int, dict[str, int]]]]:
    """A trace as per-node streams -- computations (kind, units); messages per (sender, destination, kind):
    (position, bytes, tag); receptions per (receiver, sender, kind): position; waits; reads -- and its
    evaluations as (iteration, cut)."""
    out: Streams = defaultdict(list)
    evaluations: list[tuple[int, dict[str, int]]] = []
    columns = [frame[c].tolist() for c in ("node", "op", "kind", "peer", "index", "nbytes", "amount", "tag")]
    for node, op, kind, peer, index, nbytes, amount, tag in zip(*columns, strict=True):
        if node == SESSION:
            if op == "evaluate":
                evaluations.append((int(index), {}))
            elif op == "cut" and evaluations:
                evaluations[-1][1][str(peer)] = int(index)
            elif op == "resolve":
                out[(SESSION, "resolve")].append(amount)
            continue
        if op == "compute":
            out[(node, "compute")].append((kind, amount))
        elif op == "send":
            out[(node, "send", peer, kind)].append((int(index), int(nbytes), _str(tag)))
        elif op == "recv":
            out[(node, "recv", peer if index >= 0 else None, kind if index >= 0 else None)].append(int(index))
        elif op == "wait":
            out[(node, "wait")].append(None)
        elif op == "resolve":
            out[(node, "resolve")].append(amount)
    return out, evaluations


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def first_divergence(recorded: pd.DataFrame, replayed: pd.DataFrame) -> str | None:
    """The first way the replay left the recorded run's path (None: every stream a prefix of the recorded
    one, every evaluation at a recorded iteration with the recorded cut)."""
    before, before_evals = streams(recorded)
    after, after_evals = streams(replayed)
    for key, ops in after.items():
        seen = before.get(key, [])
        if key[1] == "recv":  # jitter may swap two messages of one stream: which arrived is what counts
            ops, seen = sorted(ops), sorted(seen)
            if set(ops) <= set(seen) and len(ops) <= len(seen):
                continue
        if ops != seen[:len(ops)]:
            i = next((i for i, (a, b) in enumerate(zip(ops, seen, strict=False)) if a != b), len(seen))
            got = ops[i] if i < len(ops) else None
            want = seen[i] if i < len(seen) else "nothing more"
            return f"{_describe(key)}: operation {i + 1} is {got!r} where the recorded run had {want!r}"
    for i, (iteration, cut) in enumerate(after_evals):
        if i >= len(before_evals) or before_evals[i][0] != iteration:
            return (f"the new setting's evaluation {i + 1} is at iteration {iteration}, the recorded run's at "
                    f"{before_evals[i][0] if i < len(before_evals) else 'none'}")
        recorded = before_evals[i][1]
        if cut != recorded:
            node = next(n for n in sorted(set(cut) | set(recorded)) if cut.get(n) != recorded.get(n))
            return (f"at iteration {iteration}'s evaluation {node} had started {cut.get(node, 0)} computations, "
                    f"{recorded.get(node, 0)} in the recorded run")
    return None


def _describe(key: tuple[Any, ...]) -> str:
    node, what, *rest = key
    if what == "send":
        return f"{node}'s {rest[1]} messages to {rest[0]}"
    if what == "recv":
        return f"{node}'s receptions of {rest[1]} from {rest[0]}" if rest[0] else f"{node}'s timed-out receptions"
    return f"{node}'s {'computations' if what == 'compute' else what + 's'}"
