"""FedSGD is an honest FedSGD: one gradient per chosen client, averaged, applied by a persistent server Adam.

Why: the earlier "FedSGD" (FedAvg with one local step and a fresh Adam) took averaged sign steps.
With every client chosen every round and equal n_k, FedSGD computes exactly what the BSP parameter
server does -- each worker's gradients from the same global weights, their mean, one Adam step whose
moments persist -- so the two must agree to the bit (both average in worker order).  A fresh server
Adam each round would not.
"""

from __future__ import annotations

import numpy as np
from conftest import tiny_experiment, tiny_topology

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import flatten, get_params

ROUNDS = 4


def _run(algorithm: dict) -> Run:
    spec = tiny_experiment(algorithm, topology=tiny_topology((2,)), max_iterations=ROUNDS,
                           training={"batch_size": 16, "lr_final_fraction": 0.5})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def test_fedsgd_with_every_client_is_the_bsp_parameter_server_to_the_bit() -> None:
    ps = _run({"name": "ps", "server_at": "a"})
    fedsgd = _run({"name": "fedsgd", "client_fraction": 1.0, "server_at": "a"})
    shard = ps.executor.state(ps.algorithm.shards[0].node)
    server = fedsgd.executor.state(fedsgd.algorithm.server)
    g_ps, d_ps = shard.segments()
    g_sgd, d_sgd = flatten(get_params(server.state.G)), flatten(get_params(server.state.D))
    assert np.array_equal(g_ps, g_sgd) and np.array_equal(d_ps, d_sgd)
    assert fedsgd.iteration == ROUNDS and server.state.opt_g.state  # one Adam, kept across the rounds
    steps = {float(s["step"]) for s in server.state.opt_g.state.values()}
    assert steps == {float(ROUNDS)}
    assert server.current_lrs()["lr_g"] == ps.executor.state(ps.algorithm.shards[0].node).current_lrs()["lr_g"]
