"""Statistical-query learning's three processes: the learner, a datacenter's head, and its members.

Learner, per step: send D to every head, compute the fake-data term meanwhile, wait for every
head's answer, step D and G, count the step.  Head: forward the query to its DC's other workers
over the LAN, answer on its own shard, merge the answers weighted by shard size, reply.  Member:
answer the head.  Every message is D's parameters or a gradient of them: 4|D| B.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from testbed.methods.api import Context, Event, Session
from testbed.methods.common.sizes import wire_sizes


@dataclass(frozen=True)
class SqmPlan:
    """What the processes need: the learner node, each DC's workers (head first), n_k, DC weights n_dc/n."""

    learner: str
    members: dict[str, list[str]]
    n_k: dict[str, int]
    dc_weights: list[float]


def learn(ctx: Context, s: Session, plan: SqmPlan) -> Generator[Event, Any, None]:
    """The learner: one D and one G step per iteration from the datacenters' answers."""
    heads = [ws[0] for ws in plan.members.values()]
    d_nbytes = wire_sizes(s.setup).d_nbytes
    while not s.should_stop():
        d = ctx.call("get_d")
        for head in heads:
            ctx.send(head, d, "params_d", nbytes=d_nbytes)
        fake = yield ctx.compute("sq_fake", "fake_grad")
        answers = []
        for head in heads:
            answers.append((yield ctx.recv(kind="sq_answer", src=head)).payload)
        yield ctx.compute("sq_step", "step", plan.dc_weights, fake, *answers)
        s.complete_iteration()


def head(ctx: Context, s: Session, plan: SqmPlan, others: list[str]) -> Generator[Event, Any, None]:
    """A datacenter's first worker: fan the query out in its DC, merge, answer the learner."""
    weights = [float(plan.n_k[w]) for w in [ctx.node_id, *others]]
    d_nbytes = wire_sizes(s.setup).d_nbytes
    while True:
        query = (yield ctx.recv(kind="params_d", src=plan.learner)).payload
        for worker in others:
            ctx.send(worker, query, "params_d", nbytes=d_nbytes)
        answers = [(yield ctx.compute("sq_query", "sq_answer", query))]
        for worker in others:
            answers.append((yield ctx.recv(kind="sq_answer", src=worker)).payload)
        answer = ctx.call("combine", weights, *answers) if others else answers[0]
        ctx.send(plan.learner, answer, "sq_answer", nbytes=d_nbytes)


def member(ctx: Context, s: Session, head_node: str) -> Generator[Event, Any, None]:
    """Another worker of a datacenter: answer its head's queries on its own shard."""
    d_nbytes = wire_sizes(s.setup).d_nbytes
    while True:
        query = (yield ctx.recv(kind="params_d", src=head_node)).payload
        answer = yield ctx.compute("sq_query", "sq_answer", query)
        ctx.send(head_node, answer, "sq_answer", nbytes=d_nbytes)
