"""The input classes of hardening round two (issue 24), each a table: path-safe ids, settings that act or
are refused, names as strings and null as the default, bounded numbers -- every case one line, run against
an existing results directory that must survive it, and caught by a suite's dry run before any cell.
"""


from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from bad_inputs_common import (
    DELETE,
    EXPERIMENT,
    RESULTS,
    SUITE,
    _changed,
    _check_one_line,
    _dump,
    _experiment_case,
    _suite_case,
    _topology_case,
    workdir,
)

__all__ = ["workdir"]  # the fixture, shared

# == the classes of issue 24: each a table; every case runs against the existing results directory ==========
def _class_case(tmp: Path, kind: str, change: Any, extra: list[str]) -> list[str]:
    """argv for a case of ``kind`` (topology | experiment | suite), writing its file; ``extra``: flags."""
    if kind == "topology":
        return _topology_case(tmp, change)
    if kind == "experiment":
        return [*_experiment_case(tmp, change)[:2], "--out", RESULTS, *extra]
    return [*_suite_case(tmp, change)[:4], "--out", RESULTS, *extra]  # "run", file, "--backend", "inprocess"


# 1. every id that becomes a path is one safe directory name (suite, cell, grid label, experiment name)
PATH_CASES: list[tuple[str, str, Any, str]] = [
    ("grid-label-dotdot", "suite", {"grid": {"seed": {"..": 0, "b": 1}}}, "grid.seed"),
    ("grid-label-dot", "suite", {"grid": {"seed": {".": 0, "b": 1}}}, "grid.seed"),
    ("grid-label-slash", "suite", {"grid": {"seed": {"../s": 0, "b": 1}}}, "grid.seed"),
    ("grid-label-absolute", "suite", {"grid": {"seed": {"/tmp": 0, "b": 1}}}, "grid.seed"),
    ("grid-label-empty", "suite", {"grid": {"seed": {"": 0, "b": 1}}}, "grid.seed"),
    ("grid-label-newline", "suite", {"grid": {"seed": {"a\nb": 0, "b": 1}}}, "grid.seed"),
    ("grid-value-dotdot", "suite", {"grid": {"partition": [".."]}}, "grid"),
    ("cell-dotdot", "suite", {"grid": {}, "cells": {"..": {"seed": 3}}}, "cells"),
    ("cell-dots", "suite", {"grid": {}, "cells": {"...": {"seed": 3}}}, "cells"),
    ("cell-backslash", "suite", {"grid": {}, "cells": {"a\\b": {"seed": 3}}}, "cells"),
    ("cell-too-long", "suite", {"grid": {}, "cells": {"x" * 300: {"seed": 3}}}, "cells"),
    ("suite-name-dotdot", "suite", {"name": ".."}, "name"),
    ("suite-name-dot", "suite", {"name": "."}, "name"),
    ("suite-name-up", "suite", {"name": "../s"}, "name"),
    ("experiment-name-up", "experiment", {"name": "../escape"}, "name"),
    ("experiment-name-absolute", "experiment", {"name": "/tmp/elsewhere"}, "name"),
    ("experiment-name-dotdot", "experiment", {"name": ".."}, "name"),
    ("experiment-name-nested", "experiment", {"name": "a/b"}, "name"),
    ("experiment-name-empty", "experiment", {"name": ""}, "name"),
]

# 3. every setting acts or is refused
INERT_CASES: list[tuple[str, str, Any, str]] = [
    ("server-momentum-plain-fedavg", "experiment", {"algorithm": {"name": "fedavg", "server_momentum": 0.9}},
     "algorithm.server_momentum"),
    ("server-beta1-fedavgm", "experiment", {"algorithm": {"name": "fedavg", "server_optimizer": "fedavgm",
                                                          "server_beta1": 0.8}}, "algorithm.server_beta1"),
    ("server-tau-nesterov", "experiment", {"algorithm": {"name": "fedavg", "server_optimizer": "nesterov",
                                                         "server_tau": 0.01}}, "algorithm.server_tau"),
    ("server-momentum-fedadam", "experiment", {"algorithm": {"name": "fedavg", "server_optimizer": "fedadam",
                                                             "server_momentum": 0.5}}, "algorithm.server_momentum"),
    ("data-dir-for-generated-data", "experiment", {"data_dir": "."}, "data_dir"),
    ("data-dir-missing", "experiment", {"data_dir": "nowhere", "dataset": "mnist", "model": "dcgan"}, "data_dir"),
    ("tcp-window-without-tcp", "experiment", {"network": {"tcp_window": "1MB"}}, "network.tcp_window"),
    ("lr-decay-without-iterations", "experiment", {"training.lr_final_fraction": 0.1, "max_iterations": DELETE,
                                                   "max_virtual_time": "10s"}, "training.lr_final_fraction"),
    ("fewer-samples-than-workers", "experiment", {"dataset.n": 3}, "dataset.n"),
    ("suite-base-is-a-suite", "suite", {"base": "suite.yaml"}, "base"),
]

# 4. YAML as users mean it: names are strings (quote them), an explicit null is the default or one line
NAME_CASES: list[tuple[str, str, Any, str]] = [
    ("datacenter-no", "topology", "datacenters:\n  no: {}\n  b: {}\nlinks: [{between: [b, 'no'], bandwidth: 1Mbps, "
                                  "latency: 1ms}]\n", "put the name in quotes"),
    ("datacenter-on", "topology", "datacenters: {on: {}, b: {}}\n", "put the name in quotes"),
    ("datacenter-number", "topology", "datacenters: {1: {}, b: {}}\n", "put the name in quotes"),
    ("datacenter-null", "topology", "datacenters: {~: {}, b: {}}\n", "datacenters"),
    ("link-end-off", "topology", "datacenters: {'off': {}, b: {}}\nlinks: [{between: [off, b], bandwidth: 1Mbps, "
                                 "latency: 1ms}]\n", "links[0].between[0]"),
    ("link-end-number", "topology", {"links.0.between": ["a", 7]}, "links[0].between[1]"),
    ("topology-name-number", "topology", {"name": 2024}, "name"),
    ("workers-null", "topology", {"datacenters.a.workers": None}, "datacenters.a.workers"),
    ("latency-null", "topology", {"links.0.latency": None}, "links[0].latency"),
    ("lan-null", "topology", {"lan": None}, "lan"),
    ("server-at-no", "experiment", {"algorithm.server_at": False}, "algorithm.server_at"),
    ("server-at-empty-list", "experiment", {"algorithm.server_at": []}, "algorithm.server_at"),
    ("server-at-list-with-yes", "experiment", {"algorithm.server_at": ["a", True]}, "algorithm.server_at"),
    ("server-at-number", "experiment", {"algorithm": {"name": "centralized", "server_at": 1}}, "algorithm.server_at"),
    ("mdgan-server-at-null-list", "experiment", {"algorithm": {"name": "mdgan", "server_at": [None]}},
     "algorithm.server_at"),
    ("algorithm-name-no", "experiment", {"algorithm": False}, "algorithm"),
    ("model-name-number", "experiment", {"model": {"name": 2}}, "model.name"),
    ("experiment-name-number", "experiment", {"name": 12}, "name"),
    ("cell-name-number", "suite", {"grid": {}, "cells": {3: {"seed": 3}}}, "cells"),
    ("grid-label-boolean", "suite", {"grid": {"seed": {True: 0, "b": 1}}}, "grid.seed"),
    ("suite-name-boolean", "suite", {"name": False}, "name"),
]

# 5. bounded everything: times the clock resolves, cell counts, numbers safe on the machine
BOUND_CASES: list[tuple[str, str, Any, str]] = [
    ("latency-beyond-the-clock", "topology", {"links.0.latency": "2e9s"}, "links[0].latency"),
    ("outage-beyond-the-clock", "topology", {"links.0.outages": [["1s", "1e10s"]]}, "links[0].outages[0][1]"),
    ("down-beyond-the-clock", "topology", {"datacenters.a.availability": {"down": [["1ms", "3e10s"]]}},
     "datacenters.a.availability.down[0][1]"),
    ("crash-beyond-the-clock", "topology", {"datacenters.a.availability": {"crash_at": "1e12s"}},
     "datacenters.a.availability.crash_at"),
    ("profile-beyond-the-clock", "topology", {"links.0.profile": [["0s", "1Mbps"], ["5e9s", "2Mbps"]]},
     "links[0].profile[1].at"),
    ("max-virtual-time-beyond-the-clock", "experiment", {"max_virtual_time": "40000000h"}, "max_virtual_time"),
    ("cost-beyond-the-clock", "experiment", {"compute.costs.train_step": "2e9s"}, "compute.costs.train_step"),
    ("deadline-beyond-the-clock", "experiment", {"algorithm": {"name": "fedavg", "round_deadline": "1e10s"}},
     "algorithm.round_deadline"),
    ("torch-threads-huge", "experiment", {"executors": {"torch_threads": 100_000}}, "executors.torch_threads"),
    ("num-cpus-negative", "experiment", {"executors": {"num_cpus": -1}}, "executors.num_cpus"),
    ("num-gpus-huge", "experiment", {"executors": {"num_gpus": 1000}}, "executors.num_gpus"),
    ("num-cpus-word", "experiment", {"executors": {"num_cpus": "lots"}}, "executors.num_cpus"),
    ("pool-huge", "experiment", {"executors": {"pool": 10**7}}, "executors.pool"),
    ("named-cells-times-repeat", "suite", {"grid": {}, "cells": {f"c{i}": {"eval_every": i + 1} for i in range(50)},
                                           "repeat": 1000}, "50,000 cells"),
    ("grid-and-cells-times-repeat", "suite", {"grid": {"eval_every": list(range(1, 11))},
                                              "cells": {"c": {"eval_every": 99}}, "repeat": 1000}, "11,000 cells"),
    ("bandwidth-scale-overflow", "suite", "name: s\nbase: exp.yaml\ngrid: {bandwidth_scale: [1e400]}\n",
     "bandwidth_scale"),
    ("bandwidth-scale-huge", "suite", {"grid": {"bandwidth_scale": [1e300]}}, "bandwidth_scale"),
    ("bandwidth-scale-tiny", "suite", {"grid": {"bandwidth_scale": [1e-9]}}, "bandwidth_scale"),
    ("bandwidth-scale-top-level", "suite", {"bandwidth_scale": "x10"}, "bandwidth_scale"),
    ("quoted-base-seed-with-repeat", "suite", {"base": {**EXPERIMENT, "seed": "3"}, "grid": {"eval_every": [5, 6]},
                                               "repeat": 2}, "base.seed"),
    ("base-seed-repeat-overflow", "suite", {"base": {**EXPERIMENT, "seed": 2**32 - 1},
                                            "grid": {"eval_every": [5, 6]}, "repeat": 2}, "base.seed"),
]
CLASS_CASES = {"paths": PATH_CASES, "inert": INERT_CASES, "names": NAME_CASES, "bounds": BOUND_CASES}
ALL_CLASS_CASES = [(cls, *case) for cls, cases in CLASS_CASES.items() for case in cases]


WITH_FLAGS = [(case, flags) for case in ALL_CLASS_CASES
              for flags in ([[], ["--resume"], ["--overwrite"]] if case[2] == "suite" else [[]])]
"""Suites also with --resume and --overwrite: the flags that wipe cell directories."""


@pytest.mark.parametrize(("kind", "change", "expected", "flags"), [(*c[2:], f) for c, f in WITH_FLAGS],
                         ids=[f"{c[0]}-{c[1]}{''.join(f)}" for c, f in WITH_FLAGS])
def test_bad_input_class(workdir: Path, kind: str, change: Any, expected: str, flags: list[str],
                         capsys: pytest.CaptureFixture[str]) -> None:
    """One line naming the field; nothing under the existing results directory (or anywhere) changes."""
    argv = _class_case(workdir, kind, change, flags)
    _check_one_line(argv, expected, workdir, capsys)


DRY_RUN_CASES = [c for c in ALL_CLASS_CASES if not (c[2] == "experiment" and c[4] == "name")]
"""Every class case, as part of a suite (an experiment's ``name`` is left out: in a suite a cell's id is its name)."""


@pytest.mark.parametrize(("kind", "change", "expected"), [c[2:] for c in DRY_RUN_CASES],
                         ids=[f"{c[0]}-{c[1]}" for c in DRY_RUN_CASES])
def test_suite_dry_run_catches_every_class_before_any_cell(workdir: Path, kind: str, change: Any, expected: str,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import testbed.suite.estimate

    monkeypatch.setattr(testbed.suite.estimate, "estimate_cell", lambda *a, **k: pytest.fail("a cell ran"))
    if kind == "suite":
        argv = _suite_case(workdir, change)[:2]
    else:
        if kind == "topology":
            _topology_case(workdir, change)
            (workdir / "bad-exp.yaml").write_text(_dump({**EXPERIMENT, "topology": "bad-topo.yaml"}))
        else:
            _experiment_case(workdir, change)
        (workdir / "wrap.yaml").write_text(_dump({"name": "w", "base": "bad-exp.yaml", "cells": {"c": {}}}))
        argv = ["run", str(workdir / "wrap.yaml")]
    _check_one_line([*argv, "--dry-run"], expected, workdir, capsys)


# 4, second half: an explicit null is the documented default (the same spec as leaving the key out)
NULL_DEFAULTS: list[str] = ["seed", "eval_every", "eval_samples", "partition", "backend", "name", "compute.repeats",
                            "max_bytes", "training.lr_g", "training.beta2", "training.batch_size",
                            "training.update_order", "network.tcp", "network.header_nbytes", "executors.torch_threads",
                            "algorithm.servers", "algorithm.server_at", "model.hidden", "dataset.n", "data_dir"]


@pytest.mark.parametrize("key", NULL_DEFAULTS)
def test_explicit_null_is_the_default(workdir: Path, key: str) -> None:
    from testbed.experiment.spec import load_experiment

    written = load_experiment(_changed(EXPERIMENT, key, None), workdir)
    left_out = copy.deepcopy(EXPERIMENT)
    *parents, last = key.split(".")
    node = left_out
    for part in parents:
        node = node.get(part, {})
    node.pop(last, None)
    assert written.resolved() == load_experiment(left_out, workdir).resolved()


def test_explicit_null_in_a_suite_is_the_default(workdir: Path) -> None:
    from testbed.suite import parse_suite

    nulls = parse_suite({**SUITE, "repeat": None, "cells": None, "grid": {"seed": [0, 1], "eval_every": [None]}},
                        "s.yaml", workdir)
    assert [c.spec.eval_every for c in nulls.cells] == [50, 50], "a null in the grid is the experiment's default"
