"""``centralized``: ship every site's raw data to one datacenter, then train there.

The upper bound on quality, and the cost geo-distributed methods avoid: every
worker outside ``server_at`` sends its whole partition (``raw_data``: the stored
features x -- exactly the partition's x bytes; the labels stay, since an unconditional GAN
never reads them and shipping them would double ring8's bytes) to a worker of the central
datacenter (dealt round-robin; appended in worker order, whatever order it arrives in).  Once a
central worker has all it was sent, it joins data-parallel training inside the datacenter: a synchronous parameter
server on a service node ``<dc>/ps0`` over the LAN (per step per central worker:
4(|G|+|D|) B of gradients up and of parameters down).  Iterations are training steps.
The generator evaluated is the shard's G with the first central worker's BatchNorm statistics.

Churn (topology ``availability``): a node that is down is offline (testbed.sim.engine: no compute, its
messages stall until it is back), so the step waits for it; a crashed node stops the run with
``stop_reason`` naming it (the central BSP waits for every central worker, and a crashed sender's
data never arrives).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from testbed.methods.api import Algorithm, Context, Event, check_one_datacenter, register, server_datacenters
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.ps.protocol import ShardProgress, plan_shards, ps_shard, ps_worker, shard_generator
from testbed.methods.ps.state import ParamShard, PsWorker
from testbed.topology.model import Topology


class CentralWorker(PsWorker):
    """A parameter-server worker that can ship its partition, or take in shipped ones."""

    def raw_data(self) -> dict[str, np.ndarray]:
        """The partition's features as stored (what ``centralized`` ships; the GAN is unconditional,
        so the labels are never read and stay where they are)."""
        return {"x": self.x}

    def raw_nbytes(self) -> int:
        """Bytes of :meth:`raw_data`: the stored features x."""
        return int(self.x.nbytes)

    def add_data(self, *payloads: dict[str, np.ndarray]) -> int:
        """Append shipped partitions' features to the local data; returns the new size.  ``y`` keeps
        only this worker's own labels: nothing in training reads them."""
        self.x = np.concatenate([self.x, *(p["x"] for p in payloads)])
        self._x_t = torch.as_tensor(self.x, device=self.device)
        return self.num_samples()


@dataclass(frozen=True)
class CentralizedParams:
    """``server_at``: the datacenter that receives all data (default: the first)."""

    server_at: Any = None


@register("centralized")
class Centralized(Algorithm):
    """Move the data, then train data-parallel in one datacenter."""

    Params = CentralizedParams
    crash_note = ("training waits for every central worker's gradients and for all the shipped data")
    task_kinds = ("grad_step", "server_update")
    compressible_kinds = ("params_g", "params_d", "grads_g", "grads_d")
    gradient_kinds = ("grads_g", "grads_d")
    example_params: ClassVar[dict[str, Any]] = {"server_at": "b"}

    @classmethod
    def validate(cls, params: CentralizedParams, topology: Topology, src: str) -> None:
        check_one_datacenter(params.server_at, topology, src)

    @classmethod
    def timing_dependence(cls, params: CentralizedParams, topology: Topology) -> str | None:
        """Shipped partitions are appended in worker order and the central step is BSP (worker-order
        averaging): the same computations on any network."""
        return None

    def setup(self) -> None:
        s = self.session
        center = server_datacenters(self.params.server_at, s.topology)[0]
        self.central = [w for w in s.workers if s.topology.datacenter_of(w) == center]
        remote = [w for w in s.workers if w not in self.central]
        self.destination = {w: self.central[i % len(self.central)] for i, w in enumerate(remote)}
        for i, worker in enumerate(s.workers):
            s.host(worker, CentralWorker, s.setup, i)
        self.shards = plan_shards(s, [center], 1)
        for shard in self.shards:
            s.host(shard.node, ParamShard, s.setup, shard.lo, shard.hi)
        self.raw_nbytes = {w: int(s.resolve(s.call(w, "raw_nbytes"))) for w in remote}

    def start(self) -> None:
        s = self.session
        for source, target in self.destination.items():
            s.spawn(source, lambda ctx, t=target: self._ship(ctx, t))
        for worker in self.central:
            incoming = sum(1 for t in self.destination.values() if t == worker)
            s.spawn(worker, lambda ctx, n=incoming: self._central_worker(ctx, n))
        shard = self.shards[0]
        progress = ShardProgress(s, self.shards)
        s.spawn(shard.node, lambda ctx: ps_shard(ctx, s, shard, self.central, "sequential", 0, 1.0, progress))

    def _ship(self, ctx: Context, target: str) -> Generator[Event, Any, None]:
        yield ctx.send(target, ctx.call("raw_data"), "raw_data", nbytes=self.raw_nbytes[ctx.node_id])

    def _central_worker(self, ctx: Context, incoming: int) -> Generator[Event, Any, None]:
        arrived: dict[str, Any] = {}
        for _ in range(incoming):
            msg = yield ctx.recv(kind="raw_data")
            arrived[msg.src] = msg.payload
        if arrived:  # in worker order, not arrival order: the data's order must not depend on the WAN
            ctx.call("add_data", *(arrived[w] for w in self.session.workers if w in arrived))
        yield from ps_worker(ctx, self.session, self.shards)

    def expected_payload_nbytes(self) -> dict[str, int]:
        """Every remote partition's features once (4 B per float of x); then per step per central worker
        4(|G|+|D|) each way (one shard)."""
        sizes = wire_sizes(self.session.setup)
        steps = self.session.iteration * len(self.central)
        return {"raw_data": sum(self.raw_nbytes.values()), "params_g": steps * sizes.g_nbytes,
                "params_d": steps * sizes.d_nbytes, "grads_g": steps * sizes.g_nbytes,
                "grads_d": steps * sizes.d_nbytes}

    def generators(self) -> dict[str, Any]:
        return {"centralized": shard_generator(self.session, self.shards, self.central[0])}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([self.shards[0].node])

    def footing(self) -> dict[str, Any]:
        return {"update_order": "simultaneous", "iteration": "one synchronous data-parallel step in the center",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": 1}

    def calibration_node(self, kind: str) -> str:
        return self.shards[0].node if kind == "server_update" else self.session.workers[0]
