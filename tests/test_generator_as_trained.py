"""The FID a run reports is the FID of the generator it trained -- checked by a second path.

:func:`where_generators_live` is that second path for every shipped method (ps shards, the centralized
trainer's shard, the FedAvg server, each Gaia datacenter, the MD-GAN server, the SQ learner, each local
site): it rebuilds the generator straight from the node states (parameters from where they live,
BatchNorm statistics from the module that ran G forward), without the method's ``generators()``.
tests/test_conformance.py runs the check for every registered method on a tiny BatchNorm-generator run
(digits, DCGAN): the reported final FID must equal the FID of that rebuilt generator sampled in eval mode
with the same latents and n, and the statistics must matter.  Here: ``generator.pt`` and
``python -m testbed sample`` reproduce the run's final FID, and FedAvg's BatchNorm statistics travel.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_topology

from testbed.cli import main as cli_main
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.generator_file import load_generator_file, rebuild
from testbed.experiment.launch import run_experiment
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import get_params, set_params, unflatten
from testbed.methods.common.evaluator import EVAL_SEED_OFFSET
from testbed.quality import evaluate_samples, generate

EVAL_N = 200


def image_experiment(algorithm: dict | str, **overrides) -> dict:
    spec = {
        "name": "bn", "topology": tiny_topology((2, 1)), "dataset": {"name": "digits", "n": 400},
        "partition": "iid", "model": {"name": "dcgan", "channels": 8, "latent_dim": 16},
        "algorithm": algorithm, "training": {"batch_size": 32, "lr_g": 2e-3, "lr_d": 2e-3},
        "max_iterations": 6, "eval_every": 100, "eval_samples": EVAL_N, "seed": 0,
        "compute": {"model": "fixed", "default": "1ms"},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def bn_experiment():
    return lambda algorithm, **kw: image_experiment(algorithm, **kw)


def run_in_process(spec_dict: dict) -> Run:
    run = Run(load_experiment(spec_dict), InProcessExecutor(), progress=False)
    run.execute()
    return run


def direct_fid(run: Run, params: dict, bn_module: torch.nn.Module) -> float:
    """FID of ``params`` with ``bn_module``'s buffers, computed without the evaluator."""
    generator = copy.deepcopy(bn_module)
    set_params(generator, params)
    samples = generate(generator, EVAL_N, run.spec.seed + EVAL_SEED_OFFSET)
    return evaluate_samples(samples, run.spec.dataset, EVAL_N)["fid"]


def flat_g(run: Run, shard_nodes: list[str]) -> dict:
    template = get_params(run.executor.state(run.workers[0]).state.G)
    segments = [run.executor.state(node).g_segment() for node in shard_nodes]
    return unflatten(np.concatenate(segments), template)


def where_generators_live(run: Run) -> dict[str, tuple[dict, torch.nn.Module]] | None:
    """label -> (G parameters, the module whose BatchNorm statistics go with them), read from node states;
    None for a method this second path does not know (the conformance test then reads its snapshots)."""
    ex, name = run.executor, run.spec.algorithm
    first = ex.state(run.workers[0]).state.G
    if name == "ps":
        return {"ps": (flat_g(run, [s.node for s in run.algorithm.shards if s.has_g]), first)}
    if name == "centralized":
        return {"centralized": (flat_g(run, [run.algorithm.shards[0].node]),
                                ex.state(run.algorithm.central[0]).state.G)}
    if name == "gaia":
        out = {}
        for dc, node in run.algorithm.servers.items():
            worker = next(w for w in run.workers if run.topology.datacenter_of(w) == dc)
            out[dc] = (flat_g(run, [node]), ex.state(worker).state.G)
        return out
    if name == "fedavg":
        server = ex.state(run.algorithm.server)
        module = copy.deepcopy(first)
        from testbed.gan import set_buffers

        set_buffers(module, server.g["buffers"])
        return {"fedavg": (server.g["params"], module)}
    if name == "fedsgd":
        server_g = ex.state(run.algorithm.server).state.G
        return {"fedsgd": (get_params(server_g), server_g)}
    if name == "mdgan":
        server_g = ex.state(run.algorithm.server).G
        return {"mdgan": (get_params(server_g), server_g)}
    if name == "sqm":
        learner_g = ex.state(run.algorithm.learner).state.G
        return {"sqm": (get_params(learner_g), learner_g)}
    if name == "local":
        return {w: (get_params(ex.state(w).state.G), ex.state(w).state.G) for w in run.workers}
    return None


def test_saved_generator_and_sample_command_reproduce_the_final_fid(bn_experiment, tmp_path: Path) -> None:
    out = run_experiment(load_experiment(bn_experiment({"name": "ps", "server_at": "a"}, max_iterations=8)),
                         tmp_path / "run", progress=False)
    import json

    final_fid = json.loads((out / "summary.json").read_text())["final_quality"]["fid"]
    payload = load_generator_file(out)
    label, generator = rebuild(payload)
    assert label == "ps" and any("running_mean" in k for k in payload["generators"]["ps"])
    # The CLI, with the evaluator's seed (its default), gives the evaluator's samples: the same FID.
    assert cli_main(["sample", str(out), "--n", str(EVAL_N), "--out", str(tmp_path / "s.npy"),
                     "--png", str(tmp_path / "s.png")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (EVAL_N, 1, 8, 8) and (tmp_path / "s.png").stat().st_size > 0
    assert evaluate_samples(samples, "digits", EVAL_N)["fid"] == pytest.approx(final_fid, rel=1e-6)
    # Other latents: the same generator within the metric's sampling noise at equal n.
    other = generate(generator, EVAL_N, seed=12345)
    assert evaluate_samples(other, "digits", EVAL_N)["fid"] == pytest.approx(final_fid, rel=0.25)


def test_fedavg_batchnorm_statistics_travel_and_are_counted(bn_experiment) -> None:
    run = run_in_process(bn_experiment({"name": "fedavg", "client_fraction": 1.0}, max_iterations=2))
    g_module = run.executor.state(run.workers[0]).setup.gan_state().G
    n_g = sum(p.numel() for p in g_module.parameters())
    n_bn = sum(b.numel() for b in g_module.buffers() if b.is_floating_point())
    assert n_bn > 0
    kinds = run.engine.accountant.bytes_by_kind()
    clients, rounds = len(run.workers), 2
    assert kinds["params_g"] == rounds * clients * 2 * 4 * (n_g + n_bn)
