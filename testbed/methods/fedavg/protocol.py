"""FedAvg's two processes: the server's rounds and a client's answer to each.

Server: pick m clients (seeded), send each the global G snapshot and D, wait for all m
replies, average weighted by n_k, count a round.  Client: wait for the weights, train E local
epochs (charged ``train_step`` x local steps), send both nets back.  Sizes: the G snapshot is
4(|G|+|G_bn|) B, D 4|D| B, each way.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testbed.methods.api import Session
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import local_steps

if TYPE_CHECKING:
    import simpy

    from testbed.engine import NodeContext


@dataclass
class FedAvgPlan:
    """What the processes need: the server node, n_k per client, B, E, m; and the last round's clients."""

    server: str
    n_k: dict[str, int]
    batch_size: int
    local_epochs: float
    clients_per_round: int
    last_clients: list[str] = field(default_factory=list)


def serve(ctx: NodeContext, s: Session, plan: FedAvgPlan) -> Generator[simpy.Event, Any, None]:
    """The server: one round per iteration until the run stops."""
    sizes = wire_sizes(s.setup)
    while not s.should_stop():
        chosen = sorted(s.rng.choice(len(s.workers), plan.clients_per_round, replace=False))
        clients = [s.workers[i] for i in chosen]
        plan.last_clients = clients
        g, d = ctx.call("params", num_returns=2)
        for client in clients:
            ctx.send(client, g, "params_g", nbytes=sizes.g_snapshot_nbytes)
            ctx.send(client, d, "params_d", nbytes=sizes.d_nbytes)
        models: list[Any] = []
        for client in clients:
            models.append((yield ctx.recv(kind="params_g", src=client)).payload)
            models.append((yield ctx.recv(kind="params_d", src=client)).payload)
        weights = [float(plan.n_k[c]) for c in clients]
        yield ctx.compute("average", "average", weights, *models, units=len(clients))
        s.complete_iteration()


def client(ctx: NodeContext, s: Session, plan: FedAvgPlan) -> Generator[simpy.Event, Any, None]:
    """A client: answer every round it is chosen for with its locally trained G and D."""
    sizes = wire_sizes(s.setup)
    steps = local_steps(plan.n_k[ctx.node_id], plan.local_epochs, plan.batch_size)
    while True:
        g = (yield ctx.recv(kind="params_g", src=plan.server)).payload
        d = (yield ctx.recv(kind="params_d", src=plan.server)).payload
        lr_factor = s.setup.lr_scale(s.iteration)  # the round being trained
        g_new, d_new = yield ctx.compute("train_step", "fedavg_round", g, d, plan.local_epochs,
                                         plan.batch_size, lr_factor, units=steps, num_returns=2)
        ctx.send(plan.server, g_new, "params_g", nbytes=sizes.g_snapshot_nbytes)
        ctx.send(plan.server, d_new, "params_d", nbytes=sizes.d_nbytes)
