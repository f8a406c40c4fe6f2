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

Server traffic per iteration is 3*b*d*4*N B: the paper's O(bdN).  The package: ``protocol.py``
(the server's and a worker's loops), ``state.py`` (the server's G, a worker's D_n).

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
  receives before its next D step.  ``swap_optimizer: reset`` (default; the paper is silent):
  the receiver starts D's Adam state afresh, the moments having been estimated for another
  network; ``carry``: the sender ships Adam's two moment tensors with D (``swap_d``: 12|D| B)
  and the receiver continues them (the step counts are equal: every D_n has taken L steps per
  iteration).  BatchNorm buffers, if D had any, are not swapped.

Churn (topology ``availability``): a node that is down is offline (testbed.sim.engine: no compute, its
messages stall until it is back), so the server waits for a down worker's feedback.
Without swaps (``swap_every_epochs: 0``) a crashed worker is skipped: the server stops waiting for its
feedback at the crash, drops it, steps G on the others' and serves only live workers from then on
(its D_n is lost).  With swaps, or when the server crashes, the run stops with ``stop_reason`` naming
the node (a swap's derangement would send a discriminator to, or wait for one from, a node that is gone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from testbed.core.errors import ConfigError
from testbed.methods.api import Algorithm, check_batch_size, check_one_datacenter, register, server_node
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.mdgan.protocol import MdganPlan, SwapSchedule, serve, work
from testbed.methods.mdgan.state import MdganServer, MdganWorker
from testbed.topology.model import Topology

SWAP_RNG_SALT = 0x5A4B
"""Seeds the swap permutations apart from the session's rng (batch assignment)."""

SWAP_OPTIMIZER = {"reset": 1, "carry": 3}
"""``swap_optimizer`` -> copies of |D| float32 a swap ships: D alone, or D and Adam's two moments."""


@dataclass(frozen=True)
class MdganParams:
    """``k``: generated batches per iteration (0 = ceil(ln N)); ``disc_steps`` L; ``swap_every_epochs``
    E (0 = never swap); ``swap_optimizer``: ``reset`` the receiver's Adam state or ``carry`` the
    sender's moments with D; ``batch_size`` b (0 = training.batch_size); ``server_at``: the server's datacenter."""

    k: int = 0
    disc_steps: int = 1
    swap_every_epochs: float = 1.0
    swap_optimizer: str = "reset"
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


@register("mdgan")
class MdGan(Algorithm):
    """Server-side generator, worker-side discriminators, samples and feedback on the wire."""

    Params = MdganParams
    crash_note = ("D swaps pass through every worker, and the server holds G")
    task_kinds = ("mdgan_generate", "mdgan_d_step", "mdgan_feedback", "mdgan_backprop")
    compressible_kinds = ("samples", "feedback", "swap_d")
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"swap_every_epochs": 0.4, "server_at": "a"}

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
        if params.swap_optimizer not in SWAP_OPTIMIZER:
            raise ConfigError(src, "algorithm.swap_optimizer", f"{params.swap_optimizer!r} is not one of "
                              f"{', '.join(SWAP_OPTIMIZER)}", "use reset (fresh Adam state on a swap) or carry")
        check_batch_size(params.batch_size, src)
        check_one_datacenter(params.server_at, topology, src)

    @classmethod
    def timing_dependence(cls, params: MdganParams, topology: Topology) -> str | None:
        """The server waits for every worker's feedback (applied in worker order), a worker for its two batches
        (told apart by sequence number) and for its swap partner's D: the same computations on any network."""
        return None

    def setup(self) -> None:
        s, p = self.session, self.params
        self.server = server_node(p.server_at, s.topology)
        self.batch_size = p.batch_size or s.setup.training.batch_size
        n = len(s.workers)
        self.k = p.k or default_k(n)
        self.generated = max(self.k, 2)
        for i, worker in enumerate(s.workers):
            s.host(worker, MdganWorker, s.setup, i, self.batch_size)
        s.host(self.server, MdganServer, s.setup, self.batch_size)
        sizes = [int(s.resolve(s.call(w, "num_samples"))) for w in s.workers]
        self.period = swap_period(sum(sizes) / n, p.swap_every_epochs, self.batch_size) if n >= 2 else None
        simultaneous = s.setup.training.update_order == "simultaneous"
        swaps = SwapSchedule(n, np.random.default_rng([s.setup.seed, SWAP_RNG_SALT]))
        self.plan = MdganPlan(self.server, self.batch_size, self.generated, p.disc_steps, self.period, simultaneous,
                              swaps, p.swap_optimizer == "carry")

    def start(self) -> None:
        s = self.session
        s.spawn(self.server, lambda ctx: serve(ctx, s, self.plan))
        for i, worker in enumerate(s.workers):
            s.spawn(worker, lambda ctx, i=i: work(ctx, s, self.plan, i))

    def periodic_kinds(self) -> dict[str, int]:
        """Discriminator swaps every P iterations (none without swaps or with one worker)."""
        return {"swap_d": self.period} if self.period else {}

    def expected_payload_nbytes(self) -> dict[str, int]:
        """Per iteration per worker 2 b d 4 (``samples``) + b d 4 (``feedback``); every P iterations each
        worker sends its D, 4|D| (``swap_d``), 12|D| with ``swap_optimizer: carry`` (D and Adam's moments)."""
        sizes = wire_sizes(self.session.setup)
        t, n = self.session.iteration, len(self.session.workers)
        batch = sizes.samples_nbytes(self.batch_size)
        swaps = t // self.period if self.period else 0
        copies = SWAP_OPTIMIZER[self.params.swap_optimizer]
        return {"samples": 2 * n * t * batch, "feedback": n * t * batch,
                "swap_d": n * swaps * copies * sizes.d_nbytes}

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Without swaps a crashed worker is skipped (the server drops its feedback); else stop."""
        if node != self.server and self.period is None:
            return None
        return super().node_crashed(node, t_s)

    def generators(self) -> dict[str, Any]:
        return {"mdgan": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([self.server, *self.session.workers[:1]])

    def footing(self) -> dict[str, Any]:
        n = len(self.session.workers)
        return {"update_order": self.session.setup.training.update_order,
                "iteration": "one G update from every worker's feedback",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": n * self.params.disc_steps,
                "model_copies_d": n}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind in ("mdgan_generate", "mdgan_backprop") else self.session.workers[0]
