"""``mdgan``: MD-GAN (Hardy et al., IPDPS 2019) -- one generator on a server, one discriminator per worker.

Only generated samples and error feedback cross the network, never G; the
discriminators D_n stay at the workers, next to their data, and are swapped
between workers every E local epochs so none overfits its own shard.

Per iteration (one G update; ``iterations`` counts them, and index the learning-rate
schedule of G's optimiser and of every worker's D_n):

1. the server ``<server_at>/server`` draws latents and generates K batches of b
   samples (``mdgan_generate`` x K) and sends worker n two distinct ones, X(d) then
   X(g) (``samples``: two messages of b*d float32, 2*b*d*4 B per worker);
2. worker n runs L Adam steps of D_n (``mdgan_d_step`` x L), each on X(d) and a fresh
   local real batch of b, then returns F_n = dL_G/dx on X(g) (``feedback``: b*d*4 B);
3. the server back-propagates every F_n through G, averages and takes one Adam step
   (``mdgan_backprop`` x distinct X(g) batches).

Server traffic per iteration is 3*b*d*4*N B: the paper's O(bdN).

Decisions (the paper leaves them open or the design asks to fix them):

* **k and K.** ``k`` defaults to ceil(ln N) (natural log, as the paper's log N is read here),
  at least 1; k <= N.  The
  server generates K = max(k, 2) batches: exactly k as in the paper, except that
  k = 1 generates a second batch (k + 1), since X(d) and X(g) must be distinct.  Worker
  i gets X(d) = batch (s + i) mod K and X(g) = batch (s + i + 1) mod K, with s drawn
  from the run's seeded RNG each iteration -- every batch serves ~N/K workers per role.
* **L, not L + 1.** ``disc_steps`` L is the number of D steps per iteration, all on the
  same X(d) (the paper's loop reuses X(d)); no extra step.
* **1/b scaling.** F_n is the gradient of the *mean* loss over the b samples, so the
  1/b is inside F_n; the server averages over the N workers.  G's gradient is then
  that of the mean loss over all N*b samples -- the scale of an ordinary G step of
  batch b, so learning rates carry over from the other methods.
* **Swaps.** Every P = max(1, ceil(m*E/b)) iterations (m = mean local sample count,
  E = ``swap_every_epochs``; 0 = never), right after sending feedback of iteration t
  with t % P == 0, each worker sends its D's parameters (``swap_d``: 4|D| B) to its peer
  under a seeded random *derangement* (a permutation without fixed points, so every
  worker really sends and receives one D; no swap with N = 1), and waits for the D it
  receives before its next D step.  The receiver resets D's Adam state: the moments
  were estimated for another network.  BatchNorm buffers, if D had any, are not swapped.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from testbed.algorithms import register
from testbed.algorithms.base import Algorithm, check_one_datacenter, server_datacenters
from testbed.engine import NodeContext
from testbed.errors import ConfigError
from testbed.nodes.mdgan import MdganServer, MdganWorker
from testbed.topology import Topology

SWAP_RNG_SALT = 0x5A4B
"""Seeds the swap permutations apart from ``run.rng`` (batch assignment)."""


@dataclass(frozen=True)
class MdganParams:
    """``k``: generated batches per iteration (0 = ceil(ln N)); ``disc_steps`` L; ``swap_every_epochs``
    E (0 = never swap); ``batch_size`` b (0 = training.batch_size); ``server_at``: the server's datacenter."""

    k: int = 0
    disc_steps: int = 1
    swap_every_epochs: float = 1.0
    batch_size: int = 0
    server_at: Any = None


def default_k(num_workers: int) -> int:
    """ceil(ln N), at least 1."""
    return max(1, math.ceil(math.log(num_workers))) if num_workers > 1 else 1


def swap_period(mean_local_samples: float, epochs: float, batch_size: int) -> int | None:
    """Iterations between swaps, m*E/b rounded up (None when E = 0: never swap)."""
    if epochs <= 0:
        return None
    return max(1, math.ceil(mean_local_samples * epochs / batch_size))


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2), by rejection."""
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(p) for p in perm]


@register("mdgan")
class MdGan(Algorithm):
    """Server-side generator, worker-side discriminators, samples and feedback on the wire."""

    Params = MdganParams
    task_kinds = ("mdgan_generate", "mdgan_d_step", "mdgan_feedback", "mdgan_backprop")
    update_orders = ("alternating", "simultaneous")

    @classmethod
    def validate(cls, params: MdganParams, topology: Topology, src: str) -> None:
        n = len(topology.nodes)
        if params.k < 0 or params.k > n:
            raise ConfigError(src, "algorithm.k", f"k = {params.k} but the topology has N = {n} workers",
                              f"use 1 <= k <= {n}, or 0 for ceil(ln N) = {default_k(n)}")
        if not 1 <= params.disc_steps <= 1000:
            raise ConfigError(src, "algorithm.disc_steps", f"disc_steps = {params.disc_steps}", "use 1 <= L <= 1000")
        if not 0 <= params.swap_every_epochs <= 10_000:
            raise ConfigError(src, "algorithm.swap_every_epochs", f"{params.swap_every_epochs} is outside [0, 10000]",
                              "use E > 0 epochs, or 0 to never swap")
        if not 0 <= params.batch_size <= 65536:
            raise ConfigError(src, "algorithm.batch_size", f"{params.batch_size} is outside [0, 65536]",
                              "use b >= 1, or 0 for training.batch_size")
        check_one_datacenter(params.server_at, topology, src)

    def setup(self) -> None:
        run, p = self.run, self.params
        self.server = f"{server_datacenters(p.server_at, run.topology)[0]}/server"
        self.batch_size = p.batch_size or run.spec.training.batch_size
        n = len(run.workers)
        self.k = p.k or default_k(n)
        self.generated = max(self.k, 2)
        for i, worker in enumerate(run.workers):
            run.executor.host(worker, MdganWorker, run.setup, i, self.batch_size)
        run.executor.host(self.server, MdganServer, run.setup, self.batch_size)
        sizes = [int(run.executor.resolve(run.executor.call(w, "num_samples"))) for w in run.workers]
        self.period = swap_period(sum(sizes) / n, p.swap_every_epochs, self.batch_size) if n >= 2 else None
        self.simultaneous = run.setup.training.update_order == "simultaneous"
        self._swap_rng = np.random.default_rng([run.spec.seed, SWAP_RNG_SALT])
        self._perms: list[list[int]] = []

    def peers(self, swap_index: int) -> list[int]:
        """Swap number ``swap_index`` (0-based): worker i sends its D to worker ``peers[i]``."""
        while len(self._perms) <= swap_index:
            self._perms.append(derangement(len(self.run.workers), self._swap_rng))
        return self._perms[swap_index]

    def start(self) -> None:
        self.run.engine.spawn(self.server, self._serve)
        for i, worker in enumerate(self.run.workers):
            self.run.engine.spawn(worker, lambda ctx, i=i: self._work(ctx, i))

    def _serve(self, ctx: NodeContext) -> Generator[simpy.Event, Any, None]:
        run, workers, count = self.run, self.run.workers, self.generated
        while not run.should_stop():
            shift = int(run.rng.integers(count))
            batches = yield ctx.compute("mdgan_generate", "generate", count, units=count, num_returns=count)
            g_batch = []
            for i, worker in enumerate(workers):
                ctx.send(worker, batches[(shift + i) % count], "samples")  # X(d), sent first
                ctx.send(worker, batches[(shift + i + 1) % count], "samples")  # X(g)
                g_batch.append((shift + i + 1) % count)
            feedbacks = []
            for worker in workers:
                feedbacks.append((yield ctx.recv(kind="feedback", src=worker)).payload)
            yield ctx.compute("mdgan_backprop", "apply", g_batch, *feedbacks, units=len(set(g_batch)))
            run.complete_iteration()

    def _work(self, ctx: NodeContext, index: int) -> Generator[simpy.Event, Any, None]:
        workers, steps = self.run.workers, self.params.disc_steps
        iteration = 0
        while True:
            first = yield ctx.recv(kind="samples", src=self.server)
            second = yield ctx.recv(kind="samples", src=self.server)
            x_d, x_g = sorted((first, second), key=lambda m: m.seq)
            lr_factor = self.run.setup.lr_scale(iteration)
            if self.simultaneous:  # feedback from the D that has not yet seen this iteration's X(d)
                feedback = yield ctx.compute("mdgan_feedback", "feedback", x_g.payload)
                ctx.send(self.server, feedback, "feedback")
                yield ctx.compute("mdgan_d_step", "d_steps", x_d.payload, steps, lr_factor, units=steps)
            else:
                yield ctx.compute("mdgan_d_step", "d_steps", x_d.payload, steps, lr_factor, units=steps)
                feedback = yield ctx.compute("mdgan_feedback", "feedback", x_g.payload)
                ctx.send(self.server, feedback, "feedback")
            iteration += 1
            if self.period is not None and iteration % self.period == 0:
                peers = self.peers(iteration // self.period - 1)
                source = workers[peers.index(index)]
                ctx.send(workers[peers[index]], ctx.call("get_d"), "swap_d")
                incoming = yield ctx.recv(kind="swap_d", src=source)
                ctx.call("load_d", incoming.payload)

    def generators(self) -> dict[str, Any]:
        return {"mdgan": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([self.server, *self.run.workers[:1]])

    def footing(self) -> dict[str, Any]:
        n = len(self.run.workers)
        return {"update_order": self.run.setup.training.update_order,
                "iteration": "one G update from every worker's feedback",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": n * self.params.disc_steps,
                "model_copies_d": n}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind in ("mdgan_generate", "mdgan_backprop") else self.run.workers[0]
