"""What lives on an executor for buffered asynchronous FedAvg: the server's model pair and a client.

Both reuse FedAvg's classes (testbed.methods.fedavg.state) rather than copying them: a
:class:`FedBuffClient` is a :class:`~testbed.methods.fedavg.state.FedAvgClient` (a round from the
weights it downloaded, a fresh Adam, E local epochs) that returns its update Delta = downloaded -
trained (FedBuff; G's BatchNorm statistics as trained, since a difference of statistics taken against a
stale version could step them below zero) or its trained model (FedAsync); the :class:`BufferedAggregator` is FedAvg's
:class:`~testbed.methods.fedavg.state.Aggregator` (global G snapshot and D, calibration) with two more
ways to change the global model:

* :meth:`BufferedAggregator.apply_buffer` (FedBuff, Nguyen et al. 2022, Alg. 1): x <- x - eta_g *
  (1/K) sum_k s(tau_k) Delta_k over the K buffered updates, per parameter, in float64 cast to float32
  once; G's BatchNorm statistics b <- (1 - mean_k s_k) b + (1/K) sum_k s_k b_k, a convex mix of the
  current ones and the clients' (with s = 1: their mean, as FedAvg takes it).
* :meth:`BufferedAggregator.mix` (FedAsync, Xie et al. 2019): x <- (1 - alpha_t) x + alpha_t x_new with
  alpha_t = alpha s(tau), parameters and BatchNorm statistics alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.gan import ParamDict
from testbed.methods.common.population import ClientPopulation
from testbed.methods.fedavg.state import Aggregator, FedAvgClient

Snapshot = dict[str, ParamDict]
"""G as it travels: ``{"params": ..., "buffers": ...}``."""


def _difference(a: ParamDict, b: ParamDict) -> ParamDict:
    return {name: (np.asarray(a[name], np.float32) - np.asarray(b[name], np.float32)) for name in a}


class FedBuffClient(FedAvgClient):
    """A FedAvg client whose answer is its update Delta (FedBuff) or its model (FedAsync)."""

    def fedbuff_round(self, g: Snapshot, d: ParamDict, epochs: float, batch_size: int, lr_factor: float,
                      send_model: bool, round_id: int) -> tuple[Snapshot, ParamDict]:
        """One FedAvg client round from ``(g, d)``, its batch and noise streams seeded by ``round_id`` (the
        dispatch id: unique per handed-out model); returns Delta = downloaded - trained for G's parameters
        (with G's trained BatchNorm statistics) and D, or the trained G snapshot and D when ``send_model``
        (FedAsync)."""
        g_new, d_new = self.fedavg_round(g, d, epochs, batch_size, lr_factor, round_id)
        if send_model:
            return g_new, d_new
        return {"params": _difference(g["params"], g_new["params"]), "buffers": g_new["buffers"]}, _difference(d, d_new)


class FedBuffPopulation(ClientPopulation):
    """A population datacenter's FedBuff clients, each built when it is handed a model."""

    client_type = FedBuffClient


class BufferedAggregator(Aggregator):
    """FedAvg's aggregator that applies buffered, staleness-weighted updates (or FedAsync's mixing)."""

    def __init__(self, setup: Any, server_lr: float = 1.0, device: str = "cpu") -> None:
        super().__init__(setup, None, device)
        self.server_lr = server_lr

    def apply_buffer(self, weights: list[float], *updates: Any) -> int:
        """x <- x - eta_g mean_k(s_k Delta_k) for ``updates`` = ``[dg_0, dd_0, dg_1, dd_1, ...]`` with
        ``weights`` s_k; BatchNorm statistics mixed in with the same weights.  Returns the buffer size K."""
        k = len(weights)
        g_updates, d_updates = updates[0::2], updates[1::2]
        keep = 1.0 - sum(weights) / k
        self.g = {"params": _step(self.g["params"], [u["params"] for u in g_updates], weights, self.server_lr / k),
                  "buffers": _mix(self.g["buffers"], [u["buffers"] for u in g_updates], weights, keep, k)}
        self.d = _step(self.d, list(d_updates), weights, self.server_lr / k)
        self.rounds += 1
        return k

    def mix(self, alpha: float, g_new: Snapshot, d_new: ParamDict) -> int:
        """FedAsync: x <- (1 - alpha) x + alpha x_new for G (parameters and statistics) and D."""
        self.g = {part: _blend(self.g[part], g_new[part], alpha) for part in ("params", "buffers")}
        self.d = _blend(self.d, d_new, alpha)
        self.rounds += 1
        return 1

    def calibration_tasks(self) -> dict[str, Any]:
        zero_g = {"params": {n: np.zeros_like(v) for n, v in self.g["params"].items()}, "buffers": self.g["buffers"]}
        zero_d = {n: np.zeros_like(v) for n, v in self.d.items()}
        # one two-update buffer (``calibration_units``: 2); timed on a copy of this state (Calibrated)
        return {"average": lambda: self.apply_buffer([1.0, 1.0], zero_g, zero_d, zero_g, zero_d)}


def _step(current: ParamDict, updates: list[ParamDict], weights: list[float], scale: float) -> ParamDict:
    out = {}
    for name, x in current.items():
        total = np.zeros(np.shape(x), np.float64)
        for weight, update in zip(weights, updates, strict=True):
            total += weight * np.asarray(update[name], np.float64)
        out[name] = (np.asarray(x, np.float64) - scale * total).astype(np.float32)
    return out


def _mix(current: ParamDict, trained: list[ParamDict], weights: list[float], keep: float, k: int) -> ParamDict:
    out = {}
    for name, x in current.items():
        total = keep * np.asarray(x, np.float64)
        for weight, values in zip(weights, trained, strict=True):
            total += weight / k * np.asarray(values[name], np.float64)
        out[name] = total.astype(np.float32)
    return out


def _blend(current: ParamDict, new: ParamDict, alpha: float) -> ParamDict:
    return {name: ((1.0 - alpha) * np.asarray(x, np.float64) + alpha * np.asarray(new[name], np.float64)
                   ).astype(np.float32) for name, x in current.items()}
