"""Streaming DiLoCo's processes: a replica's inner steps with staggered fragment exchanges, and the server.

Schedule (the same at every replica): fragment p is synchronised after inner steps t = o_p + kH,
k = 0, 1, ..., with offsets o_p = round((p + 1) H / P) -- staggered evenly, the last fragment at H, so
P = 1 is DiLoCo's "every H steps".

Replica: train inner steps (``train_step``, in runs up to the next event); after step t, for every
fragment p due at t send its outer gradient (``outer_grad``, 4 n_p bytes, tag (p, t)) and keep
training; after step t + tau (``overlap``) wait for the new global fragment (``fragment``, tag (p, t))
and merge it.  With tau = 0 the replica waits right away (no overlap): the exchange is a stall.
Nothing is sent once the run should stop.

Server: the exchanges in schedule order: for (t, p), wait for each live replica's outer gradient (a
crashed one is skipped), take one outer step on fragment p (``average``: units = replicas), send the
new fragment to every live replica.  Processing in schedule order, and averaging in replica order,
makes every node's sequence of operations independent of link and compute times.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.streaming_diloco.fragments import FragmentLayout


@dataclass
class StreamingPlan:
    """Settings, the shared step counts (iteration = the slowest live replica's inner steps), and the log of
    exchanges completed at the server as (inner step, fragment, replicas averaged)."""

    server: str
    inner_steps: int
    overlap: int
    layout: FragmentLayout
    n_k: dict[str, int]
    steps: dict[str, int] = field(default_factory=dict)
    live: list[str] = field(default_factory=list)
    exchanges: list[tuple[int, int, int]] = field(default_factory=list)
    grads_sent: dict[int, int] = field(default_factory=dict)
    """Outer gradients sent, per fragment (by all replicas)."""
    fragments_sent: dict[int, int] = field(default_factory=dict)
    """New global fragments sent, per fragment (to all replicas)."""

    def offset(self, p: int) -> int:
        """Inner step of fragment ``p``'s first exchange: round((p + 1) H / P)."""
        return max(1, round((p + 1) * self.inner_steps / self.layout.fragments))

    def due(self, t: int) -> list[int]:
        """Fragments exchanged after inner step ``t``."""
        return [p for p in range(self.layout.fragments)
                if t >= self.offset(p) and (t - self.offset(p)) % self.inner_steps == 0]

    def schedule(self) -> Iterator[tuple[int, int]]:
        """Every exchange (t, p), in time order (fragments in order within a step)."""
        t = 0
        while True:
            t += 1
            for p in self.due(t):
                yield t, p


def replica(ctx: Context, s: Session, plan: StreamingPlan) -> Generator[Event, Any, None]:
    """A replica: inner steps, outer gradients out on schedule, global fragments merged tau steps later."""
    limit = s.setup.max_iterations
    merges: dict[int, list[tuple[int, int]]] = {}
    t = 0
    while not s.should_stop() and (limit is None or t < limit):
        next_event = min([_next_due(plan, t), *merges])
        run = next_event - t if limit is None else min(next_event, limit) - t
        yield ctx.compute("train_step", "train_steps", run, units=run)
        t += run
        plan.steps[ctx.node_id] = t
        _catch_up(s, plan)
        for p in plan.due(t):
            if s.should_stop():
                return
            grad = ctx.call("outer_gradient", p)
            ctx.send(plan.server, grad, "outer_grad", nbytes=plan.layout.nbytes(p), tag=(p, t))
            plan.grads_sent[p] = plan.grads_sent.get(p, 0) + 1
            merges.setdefault(t + plan.overlap, []).append((p, t))
        for p, sent_at in merges.pop(t, []):
            message = yield ctx.recv(kind="fragment", src=plan.server, tag=(p, sent_at))
            ctx.call("merge", p, message.payload)


def _next_due(plan: StreamingPlan, t: int) -> int:
    """The next inner step after ``t`` with an exchange due."""
    step = t + 1
    while not plan.due(step):
        step += 1
    return step


def _catch_up(s: Session, plan: StreamingPlan) -> None:
    """Complete the iterations every live replica has now taken."""
    while plan.live and s.iteration < min(plan.steps.get(w, 0) for w in plan.live):
        s.complete_iteration()


def server(ctx: Context, s: Session, plan: StreamingPlan) -> Generator[Event, Any, None]:
    """The server: one outer step per exchange, in schedule order."""
    for t, p in plan.schedule():
        grads: dict[str, Message] = {}
        for worker in list(plan.live):
            message = yield ctx.recv(kind="outer_grad", src=worker, tag=(p, t), or_crash_of=worker)
            if message is not None:
                grads[worker] = message
        if s.should_stop():
            return
        kept = [w for w in s.workers if w in grads]  # replica order: the same sum on any network
        if not kept:
            continue
        new = yield ctx.compute("average", "outer_step", p, [float(plan.n_k[w]) for w in kept],
                                *[grads[w].payload for w in kept], units=len(kept))
        plan.exchanges.append((t, p, len(kept)))
        if s.should_stop():
            return
        for worker in [w for w in plan.live if s.crash_time_s(w) > ctx.now_s]:
            ctx.send(worker, new, "fragment", nbytes=plan.layout.nbytes(p), tag=(p, t))
            plan.fragments_sent[p] = plan.fragments_sent.get(p, 0) + 1
