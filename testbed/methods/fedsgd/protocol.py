"""A FedSGD client's process: answer each round it is chosen for with one gradient.

The server is FedAvg's (testbed.methods.fedavg.protocol.serve: sampling, deadlines,
over-selection and churn, the same for both), run with FedSGD's reply kinds and its Adam step.
A client waits for the global G snapshot and D, computes one gradient of each on a local batch
(charged one ``grad_step``; offline semantics as FedAvg's client) and sends them back, tagged with
the round they answer: ``grads_g`` 4|G|, ``grads_d`` 4|D|, and ``g_buffers`` 4|G_bn| when G has
BatchNorm statistics.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.common.client_pool import abandons, work_until_s
from testbed.methods.common.sizes import FLOAT_NBYTES, wire_sizes
from testbed.methods.fedavg.protocol import FedAvgPlan

GRAD_KINDS = ("grads_g", "grads_d")
BUFFER_KIND = "g_buffers"


def reply_kinds(session: Session) -> tuple[str, ...]:
    """What a FedSGD client sends back: both gradients, and G's BatchNorm statistics if it has any."""
    return GRAD_KINDS + ((BUFFER_KIND,) if wire_sizes(session.setup).g_buffers else ())


def client(ctx: Context, s: Session, plan: FedAvgPlan) -> Generator[Event, Any, None]:
    """A client: one gradient of G and D on one local batch per round it is chosen for (under
    ``offline: drop``, abandon a round it went down in since it was chosen, as a FedAvg client does); a
    population's client ends when no round it was chosen for is left."""
    sizes = wire_sizes(s.setup)
    nbytes = {"grads_g": sizes.g_nbytes, "grads_d": sizes.d_nbytes, BUFFER_KIND: FLOAT_NBYTES * sizes.g_buffers}
    while True:
        g_message = yield ctx.recv(kind="params_g", src=plan.server)
        d_message = yield ctx.recv(kind="params_d", src=plan.server, tag=g_message.tag)
        yield from _answer(ctx, s, plan, g_message, d_message, nbytes)
        if plan.on_demand.settled(ctx.node_id):
            return


def _answer(ctx: Context, s: Session, plan: FedAvgPlan, g_message: Message, d_message: Message,
            nbytes: dict[str, int]) -> Generator[Event, Any, None]:
    """One gradient from the server's weights, sent back -- unless, under ``drop``, the client went down
    since it was chosen or while computing (the round is then lost)."""
    round_id = g_message.tag
    if abandons(s, ctx.node_id, plan.offline, g_message.t_send_s, ctx.now_s):
        return  # it went down since it was chosen: the server has dropped it
    replies = yield ctx.compute("grad_step", "fedsgd_grads", g_message.payload, d_message.payload,
                                plan.batch_size, round_id, num_returns=len(plan.reply_kinds),
                                until_s=work_until_s(s, ctx.node_id, plan.offline))
    if replies is None:
        return  # it went down while computing: the round is lost
    for kind, payload in zip(plan.reply_kinds, replies, strict=True):
        ctx.send(plan.server, payload, kind, nbytes=nbytes[kind], tag=round_id)
