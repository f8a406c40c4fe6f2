"""Statistical-query learning: exact WAN and LAN bytes per DC, no data on the WAN, the learner's update, bad params.

Three datacenters a (2 workers, the learner), b (1 worker), c (3 workers).
Per step: each DC exchanges one 4|D| B ``params_d`` and one 4|D| B ``sq_answer``
with the learner (WAN for b and c, LAN for a); a DC with W workers adds
2(W-1) x 4|D| B inside itself.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import tiny_topology

from testbed.core.errors import ConfigError
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import add_grads, apply_d_grads, get_params
from testbed.models import build_models, model_config

COSTS = {"sq_query": "10ms", "sq_fake": "2ms", "sq_step": "3ms"}
WORKERS = (2, 1, 3)


def run_sqm(experiment, steps: int, **overrides) -> Run:
    spec = experiment({"name": "sqm", "server_at": "a"}, topology=tiny_topology(WORKERS), max_iterations=steps,
                      compute={"model": "fixed", "costs": COSTS}, **overrides)
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def d_bytes() -> int:
    _, d = build_models(model_config("mlp2d", hidden=16, depth=2), (2,), seed=0)
    return 4 * sum(p.numel() for p in d.parameters())


def test_bytes_per_datacenter_per_step(experiment) -> None:
    steps, nd = 5, d_bytes()
    run = run_sqm(experiment, steps)
    frame = run.engine.accountant.frame()
    wan = frame[frame.scope == "wan"]
    down = wan[wan.kind == "params_d"].groupby("dst_dc").payload_nbytes.sum().to_dict()
    up = wan[wan.kind == "sq_answer"].groupby("src_dc").payload_nbytes.sum().to_dict()
    assert down == up == {"b": steps * nd, "c": steps * nd}
    assert run.engine.accountant.bytes_by_kind(scope="wan") == {"params_d": 2 * steps * nd,
                                                                 "sq_answer": 2 * steps * nd}
    # The learner's own DC answers over the LAN, once per step each way.
    at_learner = frame[(frame.src == "a/learner") | (frame.dst == "a/learner")]
    assert at_learner.groupby(["kind", "src_dc", "dst_dc"]).payload_nbytes.sum().to_dict() == {
        ("params_d", "a", "a"): steps * nd, ("params_d", "a", "b"): steps * nd, ("params_d", "a", "c"): steps * nd,
        ("sq_answer", "a", "a"): steps * nd, ("sq_answer", "b", "a"): steps * nd, ("sq_answer", "c", "a"): steps * nd}
    # Inside each DC, 2(W-1) x 4|D| per step (the head forwards the query, the others answer).
    inside = frame[(frame.scope == "lan") & (frame.src != "a/learner") & (frame.dst != "a/learner")]
    assert inside.groupby("src_dc").payload_nbytes.sum().to_dict() == {
        "a": steps * 2 * (2 - 1) * nd, "c": steps * 2 * (3 - 1) * nd}
    assert run.iteration == steps
    assert run.engine.stats["c/w2"].tasks == {"sq_query": steps}


def test_no_data_crosses_the_wan(experiment) -> None:
    run = run_sqm(experiment, 3, partition="by_datacenter")
    frame = run.engine.accountant.frame()
    assert set(frame.kind) == {"params_d", "sq_answer"}
    wan = frame[frame.scope == "wan"]
    assert len(wan) == 2 * 2 * 3  # b and c, both directions, 3 steps
    assert not wan.kind.isin(["raw_data", "samples"]).any()


def test_learner_step_uses_data_weighted_answers(experiment) -> None:
    spec = load_experiment(experiment({"name": "sqm", "server_at": "a"}, topology=tiny_topology(WORKERS),
                                      max_iterations=1, compute={"model": "fixed", "costs": COSTS}))
    run = Run(spec, InProcessExecutor(), progress=False)
    run.algorithm.setup()
    ex = run.executor
    n_k = {w: ex.state(w).num_samples() for w in run.workers}
    total = sum(n_k.values())
    assert run.algorithm.dc_weights == pytest.approx([(n_k["a/w0"] + n_k["a/w1"]) / total, n_k["b/w0"] / total,
                                                      sum(n_k[f"c/w{i}"] for i in range(3)) / total])
    # By hand, on copies: every worker's answer on its own next batch, weighted by n_k / n
    # (the two-level DC weighting must reduce to this), plus the learner's fake term.
    learner = copy.deepcopy(ex.state("a/learner"))
    d = learner.get_d()
    answers = [copy.deepcopy(ex.state(w)).sq_answer(d) for w in run.workers]
    real = add_grads(*answers, weights=[n_k[w] / total for w in run.workers])
    apply_d_grads(learner.state, add_grads(real, learner.fake_grad()))
    expected = get_params(learner.state.D)
    # The nodes' own methods, as the algorithm chains them: heads combine, the learner steps.
    dc_answers = [ex.state(ws[0]).combine([n_k[w] for w in ws], *[ex.state(w).sq_answer(d) for w in ws])
                  for ws in run.algorithm.members.values()]
    state = ex.state("a/learner")
    state.step(run.algorithm.dc_weights, state.fake_grad(), *dc_answers)
    got = get_params(state.state.D)
    assert all(np.allclose(got[k], expected[k], atol=1e-6) for k in expected)
    assert any(not np.allclose(got[k], d[k]) for k in d)  # D did move


@pytest.mark.parametrize(("params", "field"), [
    ({"server_at": "mars"}, "algorithm.server_at"),
    ({"batch_size": -1}, "algorithm.batch_size"),
    ({"k": 2}, "algorithm.k"),
])
def test_bad_params_name_the_field(experiment, params: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(experiment({"name": "sqm", **params}))
    assert err.value.field == field
