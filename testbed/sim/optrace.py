"""The op trace: what every node did, as the engine saw it, kept beside the traffic log as ``ops.parquet``.

Why: a finished run can then be re-costed on another network or compute profile without training
again (``python -m testbed replay``, testbed.experiment.replay).  The trace holds, per node and in
the node's own order: every ``compute`` (task kind, units), every ``send`` (destination, kind, tag,
payload bytes, and the message's position in its sender's stream to that destination and kind),
every ``recv`` (the message it matched -- sender, kind, stream position -- or none: a deadline or a
crash), every ``wait``, and every value a process or the method's setup *read* from an executor
(``resolve``: data-set sizes, say -- the only values a replay needs, since it trains nothing).  The
session's own rows (node ``(session)``) hold those setup reads and where iterations completed, where
evaluations happened (with the *cut*: how many computations each node had started by then) and
why the run stopped.

Cheap by construction: one tuple appended per operation (the strings are shared, not copied);
the frame is built once, at the end, grouped by node, and written with dictionary encoding and
zstd.  A message is identified by (sender, destination, kind, position in that stream) rather than by
the run's global sequence number, because the global order of two senders' messages changes with
the network while each stream's order does not.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.core.fileio import atomic_write

OPS_FILE = "ops.parquet"
FORMAT = "testbed-ops/1"
"""Written into the file's metadata; a file without it is not an op trace."""
SESSION = "(session)"
"""The pseudo-node of the session's rows (setup reads, iterations, evaluations, the stop)."""

COMPUTE, SEND, RECV, WAIT, RESOLVE, ITERATION, EVALUATE, CUT, STOP = range(9)
OP_NAMES = ("compute", "send", "recv", "wait", "resolve", "iteration", "evaluate", "cut", "stop")
COLUMNS = ("node", "op", "kind", "peer", "index", "nbytes", "amount", "tag")
"""``kind``: task or message kind; ``peer``: destination (send), sender (recv) or the node a cut counts;
``index``: stream position (send, recv; -1 for a recv that got no message), iteration (evaluate) or
computations started (cut); ``nbytes``: payload bytes (send); ``amount``: units (compute), seconds
(wait) or the value read (resolve); ``tag``: the message's tag (send) or the stop reason."""

Op = tuple[int, Any, Any, int, int, float, Any]


def fingerprint(config_text: str) -> str:
    """What ties an op trace to its run: a hash of the run's resolved ``config.yaml``."""
    return hashlib.sha256(config_text.encode()).hexdigest()[:16]


class OpRecorder:
    """Collects the op trace while a run (or a replay) is in progress; the engine and contexts call it."""

    def __init__(self) -> None:
        self._ops: dict[str, list[Op]] = {SESSION: []}
        self._streams: dict[tuple[str, str, str], int] = {}
        self._position: list[int] = []
        """Stream position of every message, by the run's sequence number."""
        self._computes: dict[str, int] = {}

    def node(self, node_id: str) -> list[Op]:
        """Node ``node_id``'s list of operations (created on first use)."""
        ops = self._ops.get(node_id)
        if ops is None:
            ops = self._ops[node_id] = []
        return ops

    # -- what a node's process does (testbed.sim.context, testbed.sim.engine) -------------------------
    def compute(self, node_id: str, kind: str, units: float) -> None:
        self.node(node_id).append((COMPUTE, kind, None, -1, 0, float(units), None))
        self._computes[node_id] = self._computes.get(node_id, 0) + 1

    def sent(self, seq: int, src: str, dst: str, kind: str, nbytes: int, tag: Any) -> None:
        """Message ``seq`` left ``src``: ``nbytes`` payload bytes, as the traffic log counts them."""
        if seq != len(self._position):
            raise RuntimeError(f"op trace out of step: message {seq} after {len(self._position)} messages")
        key = (src, dst, kind)
        position = self._streams.get(key, 0)
        self._streams[key] = position + 1
        self._position.append(position)
        self.node(src).append((SEND, kind, dst, position, int(nbytes), 0.0, tag))

    def received(self, node_id: str, src: str | None, kind: str | None, seq: int | None) -> None:
        """A ``recv`` of ``node_id`` ended: with message ``seq`` (from ``src``, of ``kind``) or None."""
        position = -1 if seq is None else self._position[seq]
        self.node(node_id).append((RECV, kind, src, position, 0, 0.0, None))

    def wait(self, node_id: str, seconds: float) -> None:
        self.node(node_id).append((WAIT, None, None, -1, 0, float(seconds), None))

    def resolved(self, node_id: str, value: Any) -> None:
        """A value read from an executor (``node_id``'s process, or :data:`SESSION` during setup)."""
        self.node(node_id).append((RESOLVE, None, None, -1, 0, _number(value), None))

    # -- what the session records --------------------------------------------------------------------
    def iteration(self) -> None:
        self._ops[SESSION].append((ITERATION, None, None, -1, 0, 0.0, None))

    def evaluate(self, iteration: int) -> None:
        """An evaluation at ``iteration``, with the cut: computations every node had started by now."""
        ops = self._ops[SESSION]
        ops.append((EVALUATE, None, None, int(iteration), 0, 0.0, None))
        ops.extend((CUT, None, node, count, 0, 0.0, None) for node, count in sorted(self._computes.items()))

    def stop(self, reason: str) -> None:
        self._ops[SESSION].append((STOP, None, None, -1, 0, 0.0, reason))

    # -- the trace ------------------------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """Every operation as a DataFrame with :data:`COLUMNS`, grouped by node (session first)."""
        return ops_frame((node, ops) for node, ops in self._ops.items() if ops)

    def write(self, run_dir: str | Path, config_text: str, frame: pd.DataFrame | None = None) -> Path:
        """Write ``ops.parquet`` atomically (``frame``: this recorder's, if already built), tied to the run by
        :func:`fingerprint` of its config."""
        frame = self.frame() if frame is None else frame
        return write_ops(frame, Path(run_dir) / OPS_FILE, fingerprint(config_text))


def _number(value: Any) -> float:
    """A read value as the trace stores it: a number, or NaN where it is not one (then not replayable)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def ops_frame(groups: Iterable[tuple[str, list[Op]]]) -> pd.DataFrame:
    """The trace of ``(node, operations)`` groups as a DataFrame with :data:`COLUMNS`."""
    nodes: list[str] = []
    rows: list[Op] = []
    for node, ops in groups:
        nodes.extend([node] * len(ops))
        rows.extend(ops)
    codes, kinds, peers, index, nbytes, amount, tags = (list(c) for c in zip(*rows, strict=True)) if rows \
        else ([], [], [], [], [], [], [])
    return pd.DataFrame({
        "node": pd.Categorical(nodes),
        "op": pd.Categorical.from_codes(codes, categories=list(OP_NAMES)),
        "kind": pd.Categorical(kinds),
        "peer": pd.Categorical(peers),
        "index": pd.array(index, dtype="int64"),
        "nbytes": pd.array(nbytes, dtype="int64"),
        "amount": pd.array(amount, dtype="float64"),
        "tag": pd.Categorical([None if t is None else str(t) for t in tags]),
    }, columns=list(COLUMNS))


def write_ops(frame: pd.DataFrame, path: Path, run_fingerprint: str) -> Path:
    """``frame`` as parquet with the format and the run's fingerprint in its metadata (atomic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b"testbed_ops": FORMAT.encode(), b"run": run_fingerprint.encode()}  # pandas' own metadata: not needed
    table = table.replace_schema_metadata(meta)
    return atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"))


class OpTraceError(ValueError):
    """ops.parquet cannot be used: ``problem`` says what, ``fix`` what to do."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem} (fix: {fix})")


def read_ops(path: str | Path, run_fingerprint: str | None = None) -> pd.DataFrame:
    """The op trace in ``path``; :class:`OpTraceError` if it is missing, unreadable, not an op trace, or
    (given ``run_fingerprint``) another run's."""
    import pyarrow.parquet as pq

    path = Path(path)
    rerun = "re-run the experiment with this testbed version (older runs have no op trace)"
    if not path.is_file():
        raise OpTraceError("missing", rerun)
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow says "Parquet magic bytes not found", "Couldn't deserialize thrift", ...
        raise OpTraceError(f"not a readable parquet file ({type(err).__name__}; truncated?)", rerun) from None
    meta = table.schema.metadata or {}
    if meta.get(b"testbed_ops") != FORMAT.encode() or list(table.column_names) != list(COLUMNS):
        raise OpTraceError("is not an op trace of this testbed version", rerun)
    if run_fingerprint is not None and meta.get(b"run") != run_fingerprint.encode():
        raise OpTraceError("belongs to another run (its config.yaml differs)",
                           "copy the run directory whole, or re-run the experiment")
    return table.to_pandas()


def recorded_reads(frame: pd.DataFrame) -> tuple[list[float], dict[str, list[float]]]:
    """The values the run read from executors, in order: the session's (setup) and each node's process's."""
    reads = frame[frame["op"] == "resolve"]
    session = reads[reads["node"] == SESSION]["amount"].tolist()
    by_node = {str(node): group["amount"].tolist()
               for node, group in reads[reads["node"] != SESSION].groupby("node", observed=True, sort=False)}
    return session, by_node
