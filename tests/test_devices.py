"""Where a run trains, said and honoured -- checked without a GPU.

Why: no run recorded which device it trained on, ``executors: in_task`` with ``--gpus-per-run`` trained
on the CPU without a word, the batched path made CPU tensors beside the parameters (it would fail on
CUDA), ``compute: measured`` charged the first call's start-up as virtual time, and nothing switched
torch to deterministic algorithms.  CI has no GPU, so the CUDA paths' device choices are forced here:
the batched step runs on the ``meta`` device (any tensor made elsewhere would raise), the device
decisions are pure functions of what torch and Ray report, and ``cuda:N`` naming is checked with
torch's CUDA queries stubbed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_experiment

from testbed.core.errors import ConfigError
from testbed.exec.devices import describe_device, gpu_device
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.launch import run_experiment
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import batched
from testbed.gan.state import make_gan_state
from testbed.methods.common.timing import Calibrated
from testbed.models import model_config

META = torch.device("meta")


def _meta_states(latent_dim: int, k: int = 3, model: str = "mlp2d", shape: tuple[int, ...] = (2,)) -> list:
    config = model_config(model, hidden=8, depth=2) if model == "mlp2d" else model_config(model, channels=4,
                                                                                         latent_dim=latent_dim)
    states = []
    for i in range(k):
        state = make_gan_state(config, shape, seed=0)
        state.G.to(META)
        state.D.to(META)
        state.opt_g = torch.optim.Adam(state.G.parameters(), lr=1e-3 * (i + 1))  # different rates: per-worker path
        state.opt_d = torch.optim.Adam(state.D.parameters(), lr=1e-3)
        states.append(state)
    return states


@pytest.mark.parametrize("r1_gamma", [0.0, 0.1])
@pytest.mark.parametrize("model", ["mlp2d", "dcgan"])
def test_the_batched_step_makes_every_tensor_on_the_parameters_device(r1_gamma: float, model: str) -> None:
    shape = (2,) if model == "mlp2d" else (1, 8, 8)
    states = _meta_states(16, model=model, shape=shape)
    latent = states[0].latent_dim
    real = torch.zeros(3, 4, *shape, device=META)
    z_d, z_g = torch.zeros(3, 4, latent, device=META), torch.zeros(3, 5, latent, device=META)
    for _ in range(2):  # the first step creates Adam's state, the second continues it
        losses = batched.step_losses(states, real, z_d, z_g, r1_gamma, simultaneous=False)
    assert losses.device == META and losses.shape == (5, 3)
    assert all(p.device == META for s in states for p in [*s.G.parameters(), *s.D.parameters()])
    assert all(st["exp_avg"].device == META for s in states for st in s.opt_g.state.values())
    grad_g, grad_d = batched.gradient_tensors(states, real, z_d, z_g, r1_gamma)
    assert all(g.device == META for g in grad_g + grad_d)


def test_devices_are_described_as_cpu_or_cuda_with_the_cards_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert describe_device("cpu") == {"device": "cpu"} and describe_device("meta") == {"device": "meta"}
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Card {i}")
    assert describe_device("cuda") == {"device": "cuda:1", "name": "Card 1"}
    assert describe_device("cuda:0") == {"device": "cuda:0", "name": "Card 0"}


def test_a_gpu_asked_for_is_used_or_refused_in_one_line() -> None:
    assert gpu_device(0, cuda_available=False, gpu_ids=[]) == "cpu"
    assert gpu_device(1, cuda_available=True, gpu_ids=[0]) == "cuda"
    with pytest.raises(ConfigError, match=r"--gpus-per-run.*has no CUDA") as err:
        gpu_device(1, cuda_available=False, gpu_ids=[0])
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(ConfigError, match=r"executors\.num_gpus.*gave actor a no GPU"):
        gpu_device(0.5, cuda_available=True, gpu_ids=[], field="executors.num_gpus", who="actor a")


def test_summary_and_run_info_record_every_executors_device(tmp_path: Path) -> None:
    out = run_experiment(load_experiment(tiny_experiment("ps", max_iterations=2)), tmp_path / "run", progress=False)
    summary = json.loads((out / "summary.json").read_text())
    info = json.loads((out / "run_info.json").read_text())
    assert summary["devices"] == info["devices"] == {"inprocess": {"device": "cpu"}}


def test_deterministic_training_switches_torch_for_the_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from testbed.methods.gaia.state import GaiaServer

    seen, original = [], GaiaServer.apply_mirror

    def apply_mirror(self, update):  # Gaia's index_add_ runs under the run's setting
        seen.append(torch.are_deterministic_algorithms_enabled())
        return original(self, update)

    monkeypatch.setattr(GaiaServer, "apply_mirror", apply_mirror)
    assert not torch.are_deterministic_algorithms_enabled()
    spec = tiny_experiment({"name": "gaia", "threshold": 0.0}, max_iterations=3,
                           training={"batch_size": 16, "deterministic": True})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run
    assert load_experiment(spec).resolved()["training"]["deterministic"] is True


def test_measured_compute_warms_each_kind_up_once_before_timing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from testbed.methods.common.worker import GanWorker

    events: list[str] = []
    warm, steps = Calibrated.warm_up, GanWorker.train_steps

    def recording_warm_up(self, kind):
        events.append(f"warm {kind}")
        return warm(self, kind)

    def recording_steps(self, *args, **kwargs):
        events.append("train_steps")
        return steps(self, *args, **kwargs)

    monkeypatch.setattr(Calibrated, "warm_up", recording_warm_up)
    monkeypatch.setattr(GanWorker, "train_steps", recording_steps)
    spec = tiny_experiment("local", max_iterations=2, compute={"model": "measured"})
    Run(load_experiment(spec), InProcessExecutor(), progress=False).execute()
    assert events.count("warm train_step") == 1  # once per executor process and kind
    assert events.index("warm train_step") < events.index("train_steps")


def test_gpu_check_without_cuda_says_so_in_one_line_and_never_imports_ray() -> None:
    import os
    import subprocess
    import sys

    code = ("import runpy, sys\n"
            "sys.argv = ['gpu_check.py']\n"
            "try:\n    runpy.run_path('benchmarks/gpu_check.py', run_name='__main__')\n"
            "except SystemExit as stop:\n    assert stop.code == 0, stop.code\n"
            "import testbed.experiment.run, testbed.exec.batching, testbed.gan.losses, testbed.models, testbed.data\n"
            "print('ray imported:', 'ray' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("gpu_check: no CUDA device") and lines[1] == "ray imported: False"
