"""Every registered method keeps the method contract -- driven by the registry, so one added tomorrow is in it.

Why: each promise a method makes (declared kinds, byte formula, in-process = Ray, the generator as
trained, the fused-Adam switch, churn, the dry-run estimate) used to be tested over hand-typed lists of
methods, and a new method was in none of them without anything saying so.  Here every check runs for
every name in ``testbed.methods.ALGORITHMS``, from the ``example_params`` the method declares
(testbed.methods.api.Algorithm), on datacenters a, b, c with 2, 1 and 2 workers (ring8, a 16-unit
MLP, batch 16).  A method that cannot pass a check names it in ``conformance_skips`` with why, and
the check skips with that reason.  The checks (:data:`CHECKS`):

* (always) the example parses, and every key of the method's YAML block refuses a wrong value in one line;
* ``kinds``: every task kind charged is in ``task_kinds`` (the fake session has no default cost), and the
  state of every node that charged a kind -- and the method's ``calibration_node`` -- can time it;
* ``bytes``: the accountant's payload bytes per kind equal ``expected_payload_nbytes()``, the method's
  formula (every computed payload declared its size, checked against the payload) -- also once with a
  researcher's own G/D classes on their own images (``model: custom``, an ``.npz``);
* ``hash_seed``: the traffic log is the same in two processes with different ``PYTHONHASHSEED``;
* ``ray``: the traffic log and every node's time breakdown are identical in process and on Ray (one
  local Ray with 2 CPUs for the module, one actor per run: values still travel as Ray objects);
* ``generator_as_trained``: on a BatchNorm generator (digits, DCGAN) the reported FID is that of the
  generator rebuilt from the node states (tests/test_generator_as_trained.py's second path) -- or, for a
  method that path does not know, of the snapshots the method names, whose BatchNorm statistics must be
  trained ones -- and the statistics matter;
* ``fused_adam``: every Adam the method builds takes ``training.fused_adam``'s kernel, and only then;
* ``crash``: a worker crashing mid-run ends the run with the reason ``node_crashed`` gives, or the
  method goes on to its budget -- never a hang;
* ``down``: a worker that is down for a while pauses the run but never stops it, and the interval is
  silent in the traffic log (nothing sent by it, delivered to it or carried for it: offline means offline);
* ``estimate``: the dry-run estimate (testbed.suite.estimate) of a 24-iteration run equals the run's
  bytes and virtual time, or is marked ``~`` (``bound``).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from conftest import executed, tiny_experiment, tiny_topology
from fake_session import FakeSession, fake_method
from test_generator_as_trained import direct_fid, image_experiment, run_in_process, where_generators_live
from test_offline import assert_silent

from testbed.core.errors import ConfigError
from testbed.exec.executor import Executor, InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import get_buffers, get_params, set_buffers, unflatten
from testbed.methods import algorithm_class, algorithm_names
from testbed.methods.api import Algorithm
from testbed.suite.estimate import estimate_cell
from testbed.suite.spec import Cell

CHECKS = ("kinds", "bytes", "hash_seed", "ray", "generator_as_trained", "fused_adam", "crash", "down", "estimate")
NAMES = algorithm_names()
WORKERS = (2, 1, 2)
BUDGET = 6


def _method(name: str, check: str) -> type[Algorithm]:
    """The registered class, or a skip with the reason it declares for ``check``."""
    cls = algorithm_class(name)
    if check in cls.conformance_skips:
        pytest.skip(f"{name}: {cls.conformance_skips[check]}")
    return cls


def _fake(cls: type[Algorithm], budget: int = BUDGET, **kwargs: Any) -> tuple[Algorithm, FakeSession]:
    return fake_method({"name": cls.name, **cls.example_params}, workers=WORKERS, budget=budget,
                       update_order=cls.update_orders[0], **kwargs)


def _experiment(cls: type[Algorithm], **overrides: Any) -> dict[str, Any]:
    """The example as an experiment: fixed costs for the declared kinds only (no default)."""
    return tiny_experiment({"name": cls.name, **cls.example_params},
                           topology=tiny_topology(WORKERS, latency="15ms"),
                           compute={"model": "fixed", "costs": dict.fromkeys(cls.task_kinds, "2ms")}, **overrides)


def test_every_method_declares_an_example_and_only_known_skips() -> None:
    for name in NAMES:
        cls = algorithm_class(name)
        assert set(cls.conformance_skips) <= set(CHECKS), f"{name}: unknown checks {set(cls.conformance_skips)}"
        assert all(why.strip() for why in cls.conformance_skips.values()), f"{name}: a skip must say why"
        load_experiment(_experiment(cls))  # the example parses (names, types, validate) on a, b, c


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_refuses_a_wrong_value_naming_itself(name: str) -> None:
    """Each key of the method's YAML block, given a mapping where a value belongs: one ConfigError line
    naming ``algorithm.<key>`` (the bad-input tables hold the method-specific ranges)."""
    cls = algorithm_class(name)
    for field in dataclasses.fields(cls.Params):
        experiment = _experiment(cls)
        experiment["algorithm"] = {**experiment["algorithm"], field.name: {"not": "a value"}}
        with pytest.raises(ConfigError) as err:
            load_experiment(experiment)
        assert err.value.field == f"algorithm.{field.name}" and "\n" not in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_every_charged_kind_is_declared_and_calibrated(name: str) -> None:
    cls = _method(name, "kinds")
    method, session = _fake(cls, budget=3)
    engine = session.drive(method)  # an undeclared kind raises here, naming task_kinds
    charged: dict[str, str] = {}
    for node, stats in engine.stats.items():
        for kind in stats.tasks:
            charged.setdefault(kind, node)
    assert set(charged) <= set(cls.task_kinds)
    for kind in cls.task_kinds:
        for node in {method.calibration_node(kind), charged.get(kind, method.calibration_node(kind))}:
            seconds = session.resolve(session.call(node, "time_task", kind, 1))
            assert seconds > 0, f"{node} timed {kind!r} as {seconds}"


@pytest.mark.parametrize("name", NAMES)
def test_bytes_equal_the_declared_formula(name: str) -> None:
    _check_bytes(_method(name, "bytes"))


@pytest.fixture(scope="module")
def own_gan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The researcher's own data and model (tests/own_files.py): 8x8 colour shapes in an .npz, a tiny G/D."""
    from own_files import write_model, write_npz

    from testbed.data import parse_file_dataset

    folder = tmp_path_factory.mktemp("own")
    write_npz(folder / "shapes.npz", n=120, labels=False)
    dataset, _ = parse_file_dataset({"name": "npz", "path": "shapes.npz", "key": "x"}, folder)
    settings = {"generator": "confgan:Gen", "discriminator": "confgan:Disc", "kwargs": '{"width": 8}',
                "latent_dim": 4, "import_dir": str(folder)}
    write_model(folder, "confgan")
    return {"dataset": dataset, "model": ("custom", settings)}


@pytest.mark.parametrize("name", NAMES)
def test_bytes_equal_the_declared_formula_with_a_custom_model(name: str, own_gan: dict[str, Any]) -> None:
    """The byte check once more with the researcher's own G and D (BatchNorm in G) on their own images:
    every formula counts |G|, |D| and G's BatchNorm buffers from the modules actually built."""
    _check_bytes(_method(name, "bytes"), **own_gan)


def _check_bytes(cls: type[Algorithm], **data_and_model: Any) -> None:
    name = cls.name
    method, session = _fake(cls, budget=3, **data_and_model)
    engine = session.drive(method)
    assert session.stop_reason is None and session.iteration == 3
    expected = method.expected_payload_nbytes()
    if expected is None:
        assert cls.value_dependent, f"{name} gives no byte formula: declare why (value_dependent or conformance_skips)"
        pytest.skip(f"{name}: {cls.value_dependent}")
    got = {kind: n for kind, n in engine.accountant.bytes_by_kind().items() if n}
    assert got == {kind: n for kind, n in expected.items() if n}


HASHED_RUN = """
import hashlib, sys
sys.path[:0] = ["tests", "."]
from test_conformance import NAMES, _fake, _method_or_none
for name in NAMES:
    cls = _method_or_none(name, "hash_seed")
    if cls is None:
        continue
    method, session = _fake(cls, budget=3)
    frame = session.drive(method).accountant.frame()
    rows = frame[["kind", "src", "dst", "nbytes", "t_send_s", "t_arrive_s"]].to_csv(index=False)
    print(name, hashlib.sha256(rows.encode()).hexdigest())
"""


def _method_or_none(name: str, check: str) -> type[Algorithm] | None:
    cls = algorithm_class(name)
    return None if check in cls.conformance_skips else cls


def test_traffic_does_not_depend_on_string_hashing() -> None:
    """Python salts ``hash(str)`` per process, so iterating a set of node ids orders sends differently in
    the driver of each run: two processes with different ``PYTHONHASHSEED`` must log the same traffic for
    every method (the Ray check cannot see this: its driver is this one process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    logs = [subprocess.run([sys.executable, "-c", HASHED_RUN], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300).stdout.splitlines()
            for seed in ("1", "2")]
    assert len(logs[0]) == len(NAMES) - sum("hash_seed" in algorithm_class(n).conformance_skips for n in NAMES)
    differ = [a.split()[0] for a, b in zip(*logs, strict=True) if a != b]
    assert differ == [], f"traffic depends on string hashing: {differ}"


def _log(spec: Any, executor: Executor) -> tuple[Any, list]:
    with executed(spec, executor) as run:
        stats = [(node, st.compute_s, st.communication_s, st.waiting_s, sorted(st.tasks.items()))
                 for node, st in sorted(run.engine.stats.items())]
        return run.engine.accountant.frame(), [*stats, run.iteration, run.virtual_time_s]


@pytest.mark.parametrize("name", NAMES)
def test_inprocess_and_ray_logs_are_identical(name: str, ray_cluster: Any) -> None:
    import pandas as pd

    from testbed.runtime.ray_executor import Placement, RayExecutor

    cls = _method(name, "ray")
    spec = load_experiment(_experiment(cls, max_iterations=3))
    local_frame, local_stats = _log(spec, InProcessExecutor())
    ray_frame, ray_stats = _log(spec, RayExecutor(list(spec.topology.nodes), Placement("pool", 1)))
    pd.testing.assert_frame_equal(ray_frame, local_frame)
    assert ray_stats == local_stats


def _snapshots(run: Run) -> dict[str, tuple[dict, torch.nn.Module]]:
    """label -> (G parameters, a module holding the snapshot's BatchNorm statistics), from the snapshots the
    method names (``generators()``), for a method the second path does not know."""
    out = {}
    for label, handle in run.algorithm.generators().items():
        snapshot = run.executor.resolve(handle)
        module = run.setup.gan_state().G
        params = (unflatten(np.concatenate(list(snapshot["segments"])), get_params(module))
                  if "segments" in snapshot else snapshot["params"])
        fresh = get_buffers(module)
        set_buffers(module, snapshot.get("buffers") or {})
        trained = get_buffers(module)
        assert any(not np.array_equal(fresh[k], trained[k]) for k in fresh if "running" in k), \
            f"{label}: the snapshot's BatchNorm statistics are a fresh G's, not the trained ones"
        out[label] = (params, module)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_reported_fid_is_the_trained_generators(name: str) -> None:
    cls = _method(name, "generator_as_trained")
    run = run_in_process(image_experiment({"name": name, **cls.example_params}, topology=tiny_topology(WORKERS),
                                          max_iterations=4))
    live = where_generators_live(run) or _snapshots(run)
    direct = {label: direct_fid(run, params, module) for label, (params, module) in live.items()}
    assert set(run.final_by_generator) == set(direct)
    for label, fid in direct.items():
        assert run.final_by_generator[label]["fid"] == pytest.approx(fid, rel=1e-9), label
    assert run.metrics[-1]["fid"] == pytest.approx(np.mean(list(direct.values())), rel=1e-9)
    if len(direct) > 1:
        assert run.metrics[-1]["fid_std"] == pytest.approx(np.std(list(direct.values()), ddof=1), rel=1e-6)
    label, (params, module) = next(iter(live.items()))  # the BatchNorm statistics matter
    reset = copy.deepcopy(module)
    for m in reset.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
    assert direct_fid(run, params, reset) != pytest.approx(direct[label], rel=1e-3)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_every_adam_takes_the_chosen_kernel(name: str, fused: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = _method(name, "fused_adam")
    built: list[torch.optim.Adam] = []
    original = torch.optim.Adam.__init__

    def recording(self: torch.optim.Adam, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(torch.optim.Adam, "__init__", recording)
    method, session = _fake(cls, budget=2, training={"fused_adam": fused})
    session.drive(method)
    assert built, f"{name} built no Adam"
    assert {bool(opt.defaults["fused"]) for opt in built} == {fused}
    if not fused:  # the default kernel, as every recorded run used it
        assert {opt.defaults["foreach"] for opt in built} == {None}


def _churned(availability: dict[str, Any]) -> dict[str, Any]:
    """The conformance topology with worker c/w1 given ``availability``."""
    topology = tiny_topology(WORKERS, latency="15ms")
    topology["datacenters"]["c"] = {"workers": [{}, {"availability": availability}]}
    return topology


def _undisturbed_s(cls: type[Algorithm]) -> float:
    method, session = _fake(cls)
    return session.drive(method).now_s


@pytest.mark.parametrize("name", NAMES)
def test_a_worker_crash_mid_run_is_handled_as_declared(name: str) -> None:
    cls = _method(name, "crash")
    crash_s = _undisturbed_s(cls) / 2
    method, session = _fake(cls, topology_dict=_churned({"crash_at": f"{crash_s!r}s"}))
    answers: list[str | None] = []
    declared = method.node_crashed

    def recording(node: str, t_s: float) -> str | None:
        answers.append(declared(node, t_s))
        return answers[-1]

    method.node_crashed = recording  # type: ignore[method-assign]
    session.drive(method)
    assert len(answers) == 1, "c/w1's crash was not reported"
    if answers[0] is None:  # the method goes on without the worker
        assert session.stop_reason is None and session.iteration == BUDGET
    else:
        assert answers[0].startswith("crashed: c/w1 at ") and session.stop_reason == answers[0]
        assert 0 < session.iteration < BUDGET


@pytest.mark.parametrize("name", NAMES)
def test_a_down_interval_pauses_but_never_stops_the_run_and_is_silent(name: str) -> None:
    cls = _method(name, "down")
    total_s = _undisturbed_s(cls)
    method, session = _fake(cls, topology_dict=_churned(
        {"down": [[f"{total_s / 4!r}s", f"{total_s / 2!r}s"]]}))
    engine = session.drive(method)
    assert session.stop_reason is None and session.iteration == BUDGET
    assert engine.now_s > total_s / 2  # the run outlived the interval: it was really down mid-run
    assert_silent(engine, "c/w1", total_s / 4, total_s / 2)


@pytest.mark.parametrize("name", NAMES)
def test_the_dry_run_estimate_is_exact_or_marked(name: str) -> None:
    cls = _method(name, "estimate")
    experiment = _experiment(cls, max_iterations=24)
    spec = load_experiment(experiment)
    estimate = estimate_cell(Cell(name, experiment, {}, spec))
    if estimate["bound"]:
        pytest.skip(f"{name}: marked ~ ({estimate['bound']})")
    run = Run(spec, InProcessExecutor(), progress=False)
    run.execute()
    acc = run.engine.accountant
    assert estimate["iterations"] == run.iteration == 24
    assert estimate["est_bytes"] == pytest.approx(acc.total_nbytes, rel=1e-9)
    assert estimate["est_wan_bytes"] == pytest.approx(acc.wan_nbytes, rel=1e-9)
    assert estimate["est_virtual_s"] == pytest.approx(run.virtual_time_s, rel=1e-9)
