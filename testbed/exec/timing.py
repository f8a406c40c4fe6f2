"""The one wall-clock timer for pricing work: median of repeated calls after a warm-up, CUDA-synchronised.

Why one helper in the executor layer: every place that turns real work into virtual time -- node
states calibrating their task kinds (testbed.methods.common.timing), the wire timing a transform on
a message's real size (testbed.compression.endpoint) -- must time it the same way: a first call to
warm up (allocator, kernels, lazy CUDA start-up), then the median of ``repeats`` calls, and on a GPU a
``torch.cuda.synchronize()`` before reading the clock, or it would time a kernel launch instead of
the kernel.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device != "cpu":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def median_seconds(task: Callable[[], Any], repeats: int, device: str = "cpu") -> float:
    """Median wall seconds of ``repeats`` calls of ``task`` after one warm-up call (CUDA-synchronised)."""
    times = []
    for _ in range(int(repeats) + 1):  # the first call warms up
        start = time.perf_counter()
        task()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])
