"""An executor that computes nothing: its handles name a call, and the values a run read come from a log.

Why: replaying a finished run on another network (testbed.experiment.replay) re-runs every node's
protocol -- the same processes, so the same decisions at the same virtual times -- but trains nothing.
A message's size is declared by its sender from the shapes (methods/common/sizes.py), never read
from a payload, so handles that carry no value are all the engine needs; the few values control flow
does read (a data shard's size during setup, say) are served in order from the op trace the run left
(testbed.sim.optrace).  A read the log does not hold raises :class:`MissingValueError`: the run being
replayed never read it, so the replay has left the run's path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from testbed.exec.executor import Executor, Handle


@dataclass(frozen=True)
class SizeHandle(Handle):
    """A call that was not run: where, and what."""

    node: str
    method: str


class MissingValueError(LookupError):
    """A replayed process read a value the recorded run did not read."""


class SizeOnlyExecutor(Executor):
    """Hosts nothing, runs nothing; ``resolve`` answers from the recorded reads of the handle's node."""

    def __init__(self, values: Mapping[str, Iterable[float]] | None = None) -> None:
        self._values = {node: deque(seq) for node, seq in (values or {}).items()}
        self.hosted: list[str] = []

    def host(self, node_id: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.hosted.append(node_id)

    def call(self, node_id: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        handle = SizeHandle(node_id, method)
        return handle if num_returns == 1 else [handle] * num_returns

    def resolve(self, handle: Handle) -> Any:
        if not isinstance(handle, SizeHandle):
            raise TypeError(f"a size-only executor cannot resolve {handle!r}")
        return next_value(self._values.get(handle.node), f"{handle.node} ({handle.method})")

    def elapsed_s(self, handle: Handle) -> float:
        raise MissingValueError("a size-only executor measures no time (compute: measured cannot be replayed exactly)")

    def left_over(self) -> dict[str, int]:
        """Recorded reads no replayed process asked for, per node (none when the replay took the run's path)."""
        return {node: len(values) for node, values in self._values.items() if values}


def next_value(values: deque[float] | None, who: str) -> float:
    """The next recorded read of ``who`` (a number: counts and sizes); :class:`MissingValueError` when none is left."""
    if not values:
        raise MissingValueError(f"{who} read a value the recorded run did not read")
    value = values.popleft()
    if value != value:  # NaN: the run read something that was not a number
        raise MissingValueError(f"{who} read a value the op trace could not keep (not a number)")
    return int(value) if float(value).is_integer() else value
