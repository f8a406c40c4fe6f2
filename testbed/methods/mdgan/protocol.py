"""MD-GAN's two processes: the server that owns G, and a worker that owns a D_n.

Server, per iteration: draw a shift, generate K batches, send worker i X(d) then X(g), wait for
every feedback, back-propagate it through G (one G step), count the iteration.  Worker: wait for
its two batches, take L steps of D_n on X(d) and answer F_n on X(g) (in the configured update
order), and every P iterations swap D_n with its peer under the iteration's derangement.
Sizes: a batch and a feedback are 4 b d B each; a swapped D is 4|D| B (12|D| B with Adam's moments).
Churn (without swaps): the server serves only workers that have not crashed, and stops waiting for
a worker's feedback when it crashes (that feedback is dropped; G steps on the others').
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from testbed.methods.api import Context, Event, Session
from testbed.methods.common.sizes import wire_sizes


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2), by rejection."""
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(p) for p in perm]


@dataclass
class SwapSchedule:
    """The seeded derangements of the D swaps, drawn in order as the swaps happen."""

    workers: int
    rng: np.random.Generator
    perms: list[list[int]] = field(default_factory=list)

    def peers(self, swap_index: int) -> list[int]:
        """Swap number ``swap_index`` (0-based): worker i sends its D to worker ``peers[i]``."""
        while len(self.perms) <= swap_index:
            self.perms.append(derangement(self.workers, self.rng))
        return self.perms[swap_index]


@dataclass(frozen=True)
class MdganPlan:
    """What the processes need: the server node, b, K batches generated, L, the swap period P
    (None: never), the update order, the swap schedule, and whether a swap carries Adam's moments."""

    server: str
    batch_size: int
    generated: int
    disc_steps: int
    period: int | None
    simultaneous: bool
    swaps: SwapSchedule
    carry_moments: bool = False


def serve(ctx: Context, s: Session, plan: MdganPlan) -> Generator[Event, Any, None]:
    """The server: generate, hand out X(d) and X(g), apply the feedback; one G step per iteration."""
    count = plan.generated
    batch_nbytes = wire_sizes(s.setup).samples_nbytes(plan.batch_size)
    while not s.should_stop():
        workers = [w for w in s.workers if s.crash_time_s(w) > ctx.now_s]  # all, unless some crashed
        if not workers:
            s.stop("mdgan: every worker has crashed")
            return
        shift = int(s.rng.integers(count))
        batches = yield ctx.compute("mdgan_generate", "generate", count, units=count, num_returns=count)
        g_batch = []
        for i, worker in enumerate(workers):
            ctx.send(worker, batches[(shift + i) % count], "samples", nbytes=batch_nbytes)  # X(d), sent first
            ctx.send(worker, batches[(shift + i + 1) % count], "samples", nbytes=batch_nbytes)  # X(g)
            g_batch.append((shift + i + 1) % count)
        feedbacks, kept = [], []
        for worker, batch in zip(workers, g_batch, strict=True):
            message = yield ctx.recv(kind="feedback", src=worker, or_crash_of=worker)  # None: it crashed first
            if message is not None:  # None: the worker crashed first, its feedback is dropped
                feedbacks.append(message.payload)
                kept.append(batch)
        if kept:
            yield ctx.compute("mdgan_backprop", "apply", kept, *feedbacks, units=len(set(kept)))
        s.complete_iteration()


def work(ctx: Context, s: Session, plan: MdganPlan, index: int) -> Generator[Event, Any, None]:
    """Worker ``index``: D_n steps on X(d), feedback on X(g), and D swaps every ``plan.period`` iterations."""
    steps = plan.disc_steps
    workers = s.workers
    sizes = wire_sizes(s.setup)
    feedback_nbytes = sizes.samples_nbytes(plan.batch_size)
    iteration = 0
    while True:
        first = yield ctx.recv(kind="samples", src=plan.server)
        second = yield ctx.recv(kind="samples", src=plan.server)
        x_d, x_g = sorted((first, second), key=lambda m: m.seq)
        lr_factor = s.setup.lr_scale(iteration)
        if plan.simultaneous:  # feedback from the D that has not yet seen this iteration's X(d)
            feedback = yield ctx.compute("mdgan_feedback", "feedback", x_g.payload)
            ctx.send(plan.server, feedback, "feedback", nbytes=feedback_nbytes)
            yield ctx.compute("mdgan_d_step", "d_steps", x_d.payload, steps, lr_factor, units=steps)
        else:
            yield ctx.compute("mdgan_d_step", "d_steps", x_d.payload, steps, lr_factor, units=steps)
            feedback = yield ctx.compute("mdgan_feedback", "feedback", x_g.payload)
            ctx.send(plan.server, feedback, "feedback", nbytes=feedback_nbytes)
        iteration += 1
        if plan.period is not None and iteration % plan.period == 0:
            peers = plan.swaps.peers(iteration // plan.period - 1)
            source = workers[peers.index(index)]
            copies = 3 if plan.carry_moments else 1  # D, or D and Adam's two moments
            ctx.send(workers[peers[index]], ctx.call("get_d_for_swap", plan.carry_moments), "swap_d",
                     nbytes=copies * sizes.d_nbytes)
            incoming = yield ctx.recv(kind="swap_d", src=source)
            ctx.call("load_d", incoming.payload)
