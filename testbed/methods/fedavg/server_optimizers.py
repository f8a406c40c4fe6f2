"""FedAvg's server optimisers: what the server does with the clients' average (FedOpt, DiLoCo).

Why: plain FedAvg replaces the global model by the clients' weighted average.  Reddi et al.
(*Adaptive Federated Optimization*, ICLR 2021) treat the difference as a gradient instead -- the
*pseudo-gradient* Delta = x - avg (global minus the weighted average of the client models) -- and
step a server optimiser on it; DiLoCo (Douillard et al. 2023) is the same with an outer Nesterov
step after H local steps (H = FedAvg's E local epochs of steps).  Each net (G and D) has its own
optimiser state; the step size is a constant ``server_lr`` -- as FedOpt's and DiLoCo's outer rates
are -- unless ``server_lr_schedule: shared`` multiplies it by the clients' schedule factor for the
round (testbed.methods.common.setup.NodeSetup.lr_scale, indexed by rounds).  A constant rate keeps
FedAvgM(momentum 0, lr 1) equal to FedAvg under any client schedule.  All in float64, cast to
float32 once.  With v and m initialised as below, for round t (Delta_t from that round):

* ``fedavg``: x <- avg (no optimiser; the default, exactly as before).
* ``fedavgm`` (Hsu et al. 2019): v <- mu v + Delta;  x <- x - lr v.  (mu = 0, lr = 1 is FedAvg.)
* ``fedadam`` (Reddi et al. 2021, Alg. 2, no bias correction): m <- b1 m + (1 - b1) Delta;
  v <- b2 v + (1 - b2) Delta^2;  x <- x - lr m / (sqrt(v) + tau);  m_0 = 0, v_0 = tau^2.
* ``nesterov`` (DiLoCo's outer step; PyTorch's SGD with ``nesterov=True``): b <- mu b + Delta;
  x <- x - lr (Delta + mu b).

BatchNorm running statistics are averaged as in plain FedAvg, never optimised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from testbed.core.registry import Registry
from testbed.gan import ParamDict


@dataclass(frozen=True)
class ServerOptimizerSpec:
    """The resolved ``server_*`` parameters (lr: the optimiser's own default already applied)."""

    name: str = "fedavg"
    lr: float = 1.0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    lr_schedule: str = "constant"
    """``constant``: ``lr`` every round; ``shared``: ``lr`` x the clients' schedule factor of the round."""

    def lr_at(self, schedule_factor: float) -> float:
        """The step size of a round whose shared schedule factor is ``schedule_factor``."""
        return self.lr * schedule_factor if self.lr_schedule == "shared" else self.lr


LR_SCHEDULES = ("constant", "shared")


class ServerOptimizer(ABC):
    """One net's server optimiser: state per parameter name, one step per round."""

    default_lr: float = 1.0
    uses: tuple[str, ...] = ()
    """The ``server_*`` parameters besides ``server_lr`` that this optimiser reads (any other one is refused)."""

    def __init__(self, spec: ServerOptimizerSpec) -> None:
        self.spec = spec
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, current: ParamDict, average: ParamDict, lr: float) -> ParamDict:
        """The new global parameters from the current ones and the clients' average, at step size ``lr``."""
        out = {}
        for name, x in current.items():
            x64 = np.asarray(x, np.float64)
            delta = x64 - np.asarray(average[name], np.float64)
            out[name] = (x64 - lr * self.direction(name, delta)).astype(np.float32)
        return out

    @abstractmethod
    def direction(self, name: str, delta: np.ndarray) -> np.ndarray:
        """The step direction for parameter ``name`` given this round's pseudo-gradient (updates state)."""


SERVER_OPTIMIZERS: Registry[type[ServerOptimizer] | None] = Registry("server optimizer")
SERVER_OPTIMIZERS.add("fedavg", None)


@SERVER_OPTIMIZERS.register("fedavgm")
class FedAvgM(ServerOptimizer):
    """Heavy-ball momentum on the pseudo-gradient."""

    uses = ("server_momentum",)

    def direction(self, name: str, delta: np.ndarray) -> np.ndarray:
        st = self.state.setdefault(name, {"v": np.zeros_like(delta)})
        st["v"] = self.spec.momentum * st["v"] + delta
        return st["v"]


@SERVER_OPTIMIZERS.register("fedadam")
class FedAdam(ServerOptimizer):
    """Adam on the pseudo-gradient, with tau the adaptivity (Reddi et al.'s epsilon)."""

    default_lr = 0.01
    uses = ("server_beta1", "server_beta2", "server_tau")

    def direction(self, name: str, delta: np.ndarray) -> np.ndarray:
        s = self.spec
        st = self.state.setdefault(name, {"m": np.zeros_like(delta), "v": np.full_like(delta, s.tau**2)})
        st["m"] = s.beta1 * st["m"] + (1 - s.beta1) * delta
        st["v"] = s.beta2 * st["v"] + (1 - s.beta2) * delta**2
        return st["m"] / (np.sqrt(st["v"]) + s.tau)


@SERVER_OPTIMIZERS.register("nesterov")
class Nesterov(ServerOptimizer):
    """DiLoCo's outer optimiser: SGD with Nesterov momentum on the pseudo-gradient."""

    default_lr = 0.7
    uses = ("server_momentum",)

    def direction(self, name: str, delta: np.ndarray) -> np.ndarray:
        st = self.state.setdefault(name, {"b": np.zeros_like(delta)})
        st["b"] = self.spec.momentum * st["b"] + delta
        return delta + self.spec.momentum * st["b"]


def build(spec: ServerOptimizerSpec) -> ServerOptimizer | None:
    """A fresh optimiser for one net (None for plain FedAvg)."""
    cls = SERVER_OPTIMIZERS[spec.name]
    return None if cls is None else cls(spec)


def settings_used(name: str) -> tuple[str, ...]:
    """The ``server_*`` parameters (besides ``server_lr``) optimiser ``name`` reads; none for plain fedavg."""
    cls = SERVER_OPTIMIZERS[name]
    return () if cls is None else cls.uses


def default_lr(name: str) -> float:
    """The step size an optimiser uses when ``server_lr`` is not given: 1 (FedAvgM), 0.01 (FedAdam), 0.7 (DiLoCo)."""
    cls = SERVER_OPTIMIZERS[name]
    return 1.0 if cls is None else cls.default_lr
