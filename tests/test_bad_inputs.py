"""Every bad input is one line: non-zero exit, no traceback, the field named, nothing written.

A table of broken topology, experiment and suite YAML, command lines and results
directories, each run in-process through the CLI's ``main`` (fast: no subprocess
per case).  Each case asserts the rule a new user relies on: exit code != 0,
exactly one line of output, no traceback, the field (or flag, or file) named in
it, and no file under the working directory created or changed.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.cli import main

TOPOLOGY: dict[str, Any] = {
    "name": "t", "lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
    "datacenters": {"a": {"workers": 2}, "b": {"workers": 2}},
    "links": [{"between": ["a", "b"], "bandwidth": "100Mbps", "latency": "20ms"}],
}
EXPERIMENT: dict[str, Any] = {
    "name": "e", "topology": "topo.yaml", "dataset": {"name": "ring8", "n": 400}, "partition": "iid",
    "model": {"name": "mlp2d", "hidden": 16, "depth": 2}, "algorithm": {"name": "ps"},
    "training": {"batch_size": 16}, "max_iterations": 3, "eval_every": 10, "eval_samples": 100,
    "compute": {"model": "fixed", "costs": {"train_step": "1ms"}, "default": "1ms"},
}
SUITE: dict[str, Any] = {"name": "s", "base": "exp.yaml", "grid": {"seed": [0, 1]}}
DELETE = object()


def _changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the dotted ``path`` (``links.0.latency``) set (or deleted)."""
    out = copy.deepcopy(data)
    parts = path.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


# -- topology YAML: (case id, topology change(s) or raw text, the field the line must name) --------------
TOPOLOGY_CASES: list[tuple[str, Any, str]] = [
    ("bare-latency", {"links.0.latency": 20}, "write 20ms"),
    ("bare-bandwidth", {"links.0.bandwidth": 100}, "write 100Mbps"),
    ("bare-lan-latency", {"lan.latency": 5}, "lan.latency"),
    ("bare-lan-bandwidth", {"lan.bandwidth": 1000}, "lan.bandwidth"),
    ("bare-jitter", {"links.0.jitter": 2}, "links[0].jitter"),
    ("quoted-bare-latency", {"links.0.latency": "20"}, "links[0].latency"),
    ("word-bandwidth", {"links.0.bandwidth": "fast"}, "links[0].bandwidth"),
    ("unknown-unit", {"links.0.latency": "20parsecs"}, "links[0].latency"),
    ("negative-bandwidth", {"links.0.bandwidth": "-5Mbps"}, "links[0].bandwidth"),
    ("zero-bandwidth", {"links.0.bandwidth": "0Mbps"}, "links[0].bandwidth"),
    ("negative-latency", {"links.0.latency": "-1ms"}, "links[0].latency"),
    ("infinite-latency", {"links.0.latency": float("inf")}, "links[0].latency"),
    ("loss-above-one", {"links.0.loss": 1.5}, "links[0].loss"),
    ("loss-word", {"links.0.loss": "high"}, "links[0].loss"),
    ("negative-egress", {"links.0.egress_usd_per_gb": -1}, "links[0].egress_usd_per_gb"),
    ("word-egress", {"links.0.egress_usd_per_gb": "cheap"}, "links[0].egress_usd_per_gb"),
    ("link-to-unknown-dc", {"links.0.between": ["a", "c"]}, "links[0].between"),
    ("link-to-itself", {"links.0.between": ["a", "a"]}, "links[0].between"),
    ("link-one-end", {"links.0.between": ["a"]}, "links[0].between"),
    ("link-no-latency", {"links.0.latency": DELETE}, "links[0].latency"),
    ("link-no-bandwidth", {"links.0.bandwidth": DELETE}, "links[0].bandwidth"),
    ("link-unknown-key", {"links.0.colour": "red"}, "links[0].colour"),
    ("link-three-bandwidths", {"links.0.bandwidth": ["1Mbps", "2Mbps", "3Mbps"]}, "links[0].bandwidth"),
    ("link-bandwidth-one-end", {"links.0.bandwidth": {"a": "1Mbps"}}, "links[0].bandwidth"),
    ("duplicate-link", {"links.1": {"between": ["b", "a"], "bandwidth": "1Mbps", "latency": "1ms"}},
     "links[1].between"),
    ("billion-workers", {"datacenters.a.workers": 1_000_000_000}, "datacenters.a.workers"),
    ("zero-workers", {"datacenters.a.workers": 0}, "datacenters.a.workers"),
    ("negative-workers", {"datacenters.a.workers": -3}, "datacenters.a.workers"),
    ("word-workers", {"datacenters.a.workers": "many"}, "datacenters.a.workers"),
    ("bool-workers", {"datacenters.a.workers": True}, "datacenters.a.workers"),
    ("empty-worker-list", {"datacenters.a.workers": []}, "datacenters.a.workers"),
    ("zero-speed-worker", {"datacenters.a.workers": [{"speed": 0}]}, "datacenters.a.workers[0].speed"),
    ("word-speed-worker", {"datacenters.a.workers": [{"speed": "quick"}]}, "datacenters.a.workers[0].speed"),
    ("worker-unknown-key", {"datacenters.a.workers": [{"ram": "4GB"}]}, "datacenters.a.workers[0].ram"),
    ("negative-device-speed", {"datacenters.a.device": {"speed": -1}}, "datacenters.a.device.speed"),
    ("negative-gpus", {"datacenters.a.gpus_per_worker": -1}, "datacenters.a.gpus_per_worker"),
    ("thousand-gpus", {"datacenters.a.gpus_per_worker": 1000}, "datacenters.a.gpus_per_worker"),
    ("latitude-100", {"datacenters.a.location": [100, 0]}, "datacenters.a.location[0]"),
    ("location-word", {"datacenters.a.location": "paris"}, "datacenters.a.location"),
    ("dc-unknown-key", {"datacenters.a.cpu": 4}, "datacenters.a.cpu"),
    ("dc-bad-name", {"datacenters.a b": {"workers": 1}}, "datacenters.a b"),
    ("no-datacenters", {"datacenters": {}}, "datacenters"),
    ("disconnected", {"links": []}, "links"),
    ("links-not-list", {"links": "none"}, "links"),
    ("bare-outage", {"links.0.outages": [[20, 30]]}, "links[0].outages[0][0]"),
    ("outage-backwards", {"links.0.outages": [["20s", "10s"]]}, "links[0].outages[0]"),
    ("outage-word", {"links.0.outages": "always"}, "links[0].outages"),
    ("bare-profile-bandwidth", {"links.0.profile": [["0s", 50]]}, "links[0].profile[0].bandwidth"),
    ("profile-unsorted", {"links.0.profile": [["10s", "5Mbps"], ["5s", "2Mbps"]]}, "links[0].profile[1].at"),
    ("profile-short-step", {"links.0.profile": [["0s"]]}, "links[0].profile[0]"),
    ("top-unknown-key", {"colour": "red"}, "colour"),
    ("lan-not-mapping", {"lan": "fast"}, "lan"),
    ("lan-half-asymmetric", {"lan.bandwidth": {"up": "5Mbps"}}, "lan.bandwidth"),
    ("lan-unknown-key", {"lan.mtu": 1500}, "lan.mtu"),
    ("dc-lan-bare-latency", {"datacenters.a.lan": {"latency": 3}}, "datacenters.a.lan.latency"),
]
RAW_TOPOLOGIES: list[tuple[str, Any, str]] = [
    ("duplicate-datacenter", "datacenters:\n  a: {workers: 1}\n  a: {workers: 2}\n", "line 3"),
    ("duplicate-link-key", "datacenters: {a: {}, b: {}}\nlinks:\n  - {between: [a, b], bandwidth: 1Mbps, "
                           "bandwidth: 2Mbps, latency: 1ms}\n", "duplicate key 'bandwidth'"),
    ("not-utf8", b"name: caf\xe9\ndatacenters: {a: {}}\n", "byte 9"),
    ("nul-bytes", b"name: t\x00\n", "NUL"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)), "aliases"),
    ("yaml-syntax", "datacenters: [a, b\n", "line"),
    ("python-tag", "datacenters: !!python/object/apply:os.system [echo hi]\n", "tag"),
    ("top-level-list", "- a\n- b\n", "document"),
    ("empty-file", "", "document"),
    ("tab-indent", "datacenters:\n\ta: {}\n", "line 2"),
]


def _topology_case(tmp: Path, change: Any) -> list[str]:
    path = tmp / "bad-topo.yaml"
    if isinstance(change, bytes):
        path.write_bytes(change)
    elif isinstance(change, str):
        path.write_text(change)
    else:
        data = TOPOLOGY
        for key, value in change.items():
            if key == "links.1":
                data = copy.deepcopy(data)
                data["links"].append(value)
            else:
                data = _changed(data, key, value)
        path.write_text(_dump(data))
    return ["topo", "check", str(path)]


# -- experiment YAML (topology: the good topo.yaml): (case id, change(s), field) ---------------------------
EXPERIMENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("batch-size-word", {"training.batch_size": "big"}, "training.batch_size"),
    ("lr-g-word", {"training.lr_g": "fast"}, "training.lr_g"),
    ("lr-g-negative", {"training.lr_g": -0.001}, "training.lr_g"),
    ("lr-d-zero", {"training.lr_d": 0}, "training.lr_d"),
    ("beta1-one", {"training.beta1": 1.0}, "training.beta1"),
    ("beta2-above-one", {"training.beta2": 1.5}, "training.beta2"),
    ("batch-size-zero", {"training.batch_size": 0}, "training.batch_size"),
    ("batch-size-huge", {"training.batch_size": 100_000_000}, "training.batch_size"),
    ("batch-size-fraction", {"training.batch_size": 16.5}, "training.batch_size"),
    ("r1-negative", {"training.r1_gamma": -1}, "training.r1_gamma"),
    ("lr-final-zero", {"training.lr_final_fraction": 0}, "training.lr_final_fraction"),
    ("training-unknown", {"training.momentum": 0.9}, "training.momentum"),
    ("training-word", {"training": "fast"}, "training"),
    ("hidden-zero", {"model.hidden": 0}, "model.hidden"),
    ("hidden-word", {"model.hidden": "wide"}, "model.hidden"),
    ("depth-huge", {"model.depth": 1000}, "model.depth"),
    ("latent-negative", {"model.latent_dim": -1}, "model.latent_dim"),
    ("leaky-two", {"model.leaky_slope": 2}, "model.leaky_slope"),
    ("model-unknown-key", {"model.colour": "red"}, "model.colour"),
    ("model-unknown", {"model": {"name": "resnet"}}, "model"),
    ("model-data-mismatch", {"model": "dcgan"}, "model"),
    ("dataset-unknown", {"dataset": "imagenet"}, "dataset"),
    ("dataset-n-zero", {"dataset.n": 0}, "dataset.n"),
    ("dataset-n-huge", {"dataset.n": 1e12}, "dataset.n"),
    ("partition-bad-arg", {"partition": "dirichlet(abc)"}, "partition"),
    ("partition-too-many-shards", {"partition": "shards(100)"}, "partition"),
    ("partition-unknown", {"partition": "by_country"}, "partition"),
    ("partition-number", {"partition": 3}, "partition"),
    ("algorithm-unknown", {"algorithm.name": "gossip"}, "algorithm.name"),
    ("ps-servers-zero", {"algorithm.servers": 0}, "algorithm.servers"),
    ("ps-tau-negative", {"algorithm.tau": -1}, "algorithm.tau"),
    ("ps-consistency", {"algorithm.consistency": "strong"}, "algorithm.consistency"),
    ("ps-server-mars", {"algorithm.server_at": "mars"}, "algorithm.server_at"),
    ("ps-unknown-param", {"algorithm.lr": 1}, "algorithm.lr"),
    ("ps-servers-word", {"algorithm.servers": "two"}, "algorithm.servers"),
    ("mdgan-k-too-big", {"algorithm": {"name": "mdgan", "k": 100}}, "algorithm.k"),
    ("mdgan-k-negative", {"algorithm": {"name": "mdgan", "k": -1}}, "algorithm.k"),
    ("mdgan-disc-steps-zero", {"algorithm": {"name": "mdgan", "disc_steps": 0}}, "algorithm.disc_steps"),
    ("mdgan-swap-negative", {"algorithm": {"name": "mdgan", "swap_every_epochs": -1}}, "algorithm.swap_every_epochs"),
    ("fedavg-fraction-zero", {"algorithm": {"name": "fedavg", "client_fraction": 0}}, "algorithm.client_fraction"),
    ("fedavg-epochs-zero", {"algorithm": {"name": "fedavg", "local_epochs": 0}}, "algorithm.local_epochs"),
    ("fedavg-batch-word", {"algorithm": {"name": "fedavg", "batch_size": "big"}}, "algorithm.batch_size"),
    ("fedavg-epochs-huge", {"algorithm": {"name": "fedavg", "local_epochs": 1e9}}, "algorithm.local_epochs"),
    ("gaia-threshold-negative", {"algorithm": {"name": "gaia", "threshold": -0.1}}, "algorithm.threshold"),
    ("gaia-decay-word", {"algorithm": {"name": "gaia", "decay": "yes"}}, "algorithm.decay"),
    ("gaia-clock-gap-negative", {"algorithm": {"name": "gaia", "max_clock_gap": -1}}, "algorithm.max_clock_gap"),
    ("sqm-batch-negative", {"algorithm": {"name": "sqm", "batch_size": -5}}, "algorithm.batch_size"),
    ("centralized-two-servers", {"algorithm": {"name": "centralized", "server_at": ["a", "b"]}},
     "algorithm.server_at"),
    ("max-iterations-zero", {"max_iterations": 0}, "max_iterations"),
    ("max-iterations-word", {"max_iterations": "lots"}, "max_iterations"),
    ("max-iterations-huge", {"max_iterations": 1e12}, "max_iterations"),
    ("max-virtual-time-word", {"max_virtual_time": "soon"}, "max_virtual_time"),
    ("max-virtual-time-zero", {"max_virtual_time": "0s"}, "max_virtual_time"),
    ("max-bytes-negative", {"max_bytes": "-1GB"}, "max_bytes"),
    ("eval-every-zero", {"eval_every": 0}, "eval_every"),
    ("eval-samples-five", {"eval_samples": 5}, "eval_samples"),
    ("eval-samples-billion", {"eval_samples": 10**9}, "eval_samples"),
    ("seed-negative", {"seed": -1}, "seed"),
    ("seed-word", {"seed": "abc"}, "seed"),
    ("no-stop-condition", {"max_iterations": DELETE}, "max_iterations"),
    ("no-dataset", {"dataset": DELETE}, "dataset"),
    ("backend-gpu", {"backend": "gpu"}, "backend"),
    ("compute-model-magic", {"compute.model": "magic"}, "compute.model"),
    ("compute-cost-word", {"compute.costs.train_step": "slow"}, "compute.costs.train_step"),
    ("compute-repeats-zero", {"compute.repeats": 0}, "compute.repeats"),
    ("compute-fixed-no-costs", {"compute": {"model": "fixed"}}, "compute.costs"),
    ("executors-pool-zero", {"executors": {"pool": 0}}, "executors.pool"),
    ("executors-placement", {"executors": {"placement": "per_rack"}}, "executors.placement"),
    ("network-tcp-word", {"network": {"tcp": "yes"}}, "network.tcp"),
    ("network-header-negative", {"network": {"header_nbytes": -1}}, "network.header_nbytes"),
    ("network-window-word", {"network": {"tcp_window": "big"}}, "network.tcp_window"),
    ("network-not-mapping", {"network": "fast"}, "network"),
    ("topology-missing-file", {"topology": "missing.yaml"}, "topology"),
    ("topology-inline-bare-latency", {"topology": _changed(TOPOLOGY, "links.0.latency", 20)},
     "topology.links[0].latency"),
    ("data-dir-number", {"data_dir": 5}, "data_dir"),
    ("experiment-unknown-key", {"epochs": 5}, "epochs"),
]


def _experiment_case(tmp: Path, change: dict[str, Any]) -> list[str]:
    data = EXPERIMENT
    for key, value in change.items():
        data = _changed(data, key, value)
    path = tmp / "bad-exp.yaml"
    path.write_text(_dump(data))
    return ["run", str(path), "--out", str(tmp / "out")]


# -- suite YAML (base: the good exp.yaml): (case id, suite dict or raw text, field) ------------------------
SUITE_CASES: list[tuple[str, Any, str]] = [
    ("empty-axis", {"grid": {"algorithm": []}}, "grid.algorithm"),
    ("unknown-axis", {"grid": {"colour": [1]}}, "grid.colour"),
    ("float-spellings-one-cell", {"grid": {"training.lr_g": [0.001, 1e-3]}}, "grid.training.lr_g"),
    ("same-experiment-twice", {"grid": {"algorithm": ["ps", {"name": "ps", "consistency": "sequential"}]}},
     "cells ps and"),
    ("repeat-zero", {"repeat": 0}, "repeat"),
    ("repeat-huge", {"repeat": 5000}, "repeat"),
    ("grid-list", {"grid": ["seed"]}, "grid"),
    ("axis-scalar", {"grid": {"seed": 5}}, "grid.seed"),
    ("cell-not-mapping", {"cells": {"x": 3}}, "cells.x"),
    ("cell-unknown-key", {"cells": {"x": {"colour": 1}}}, "cells.x.colour"),
    ("grid-explosion", {"grid": {k: list(range(1, 11)) for k in ("seed", "training.batch_size", "eval_every",
                                                                   "max_iterations", "compute.repeats")}},
     "100,000 cells"),
    ("suite-unknown-key", {"parallel": 4}, "parallel"),
    ("suite-bad-name", {"name": "a/b"}, "name"),
    ("base-missing", {"base": "missing.yaml"}, "base"),
    ("cell-value-bad", {"grid": {"training.lr_g": ["fast"]}}, "training.lr_g"),
    ("bandwidth-scale-negative", {"grid": {"bandwidth_scale": [-1]}}, "bandwidth_scale"),
    ("repeat-with-seed-axis", {"repeat": 2}, "repeat"),
    ("duplicate-suite-key", "name: s\nbase: exp.yaml\ngrid: {seed: [0]}\ngrid: {seed: [1]}\n", "line 4"),
    ("grid-beta1-one", {"grid": {"training.beta1": [0.5, 1.0]}}, "training.beta1"),
    ("grid-workers-billion", {"grid": {"topology.datacenters.a.workers": [1_000_000_000]}}, "workers"),
]


def _suite_case(tmp: Path, change: Any) -> list[str]:
    path = tmp / "bad-suite.yaml"
    if isinstance(change, str):
        path.write_text(change)
    else:
        data = {**SUITE, **change}
        if change.get("grid", {}) and "topology.datacenters.a.workers" in change["grid"]:
            data["base"] = {**EXPERIMENT, "topology": copy.deepcopy(TOPOLOGY)}
        path.write_text(_dump(data))
    return ["run", str(path), "--backend", "inprocess", "--out", str(tmp / "out")]


# -- command lines (good files in place): (case id, argv builder, text the line must hold) ----------------
def _file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("not a directory\n")
    return path


CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("unknown-command", lambda t: ["frobnicate"], "frobnicate"),
    ("run-without-file", lambda t: ["run"], "file"),
    ("max-parallel-zero", lambda t: ["run", "suite.yaml", "--max-parallel", "0"], "--max-parallel"),
    ("max-parallel-word", lambda t: ["run", "suite.yaml", "--max-parallel", "x"], "--max-parallel"),
    ("resume-and-overwrite", lambda t: ["run", "suite.yaml", "--resume", "--overwrite"], "--resume"),
    ("cpus-per-run-negative", lambda t: ["run", "suite.yaml", "--cpus-per-run", "-1"], "--cpus-per-run"),
    ("cpus-per-run-zero", lambda t: ["run", "suite.yaml", "--cpus-per-run", "0"], "--cpus-per-run"),
    ("gpus-per-run-negative", lambda t: ["run", "suite.yaml", "--gpus-per-run", "-1"], "--gpus-per-run"),
    ("retries-negative", lambda t: ["run", "suite.yaml", "--retries", "-1"], "--retries"),
    ("retries-hundred", lambda t: ["run", "suite.yaml", "--retries", "100"], "--retries"),
    ("backend-gpu", lambda t: ["run", "suite.yaml", "--backend", "gpu"], "--backend"),
    ("address-empty", lambda t: ["run", "suite.yaml", "--address", ""], "--address"),
    ("address-with-inprocess", lambda t: ["run", "suite.yaml", "--backend", "inprocess", "--address", "auto"],
     "--address"),
    ("address-not-host-port", lambda t: ["run", "suite.yaml", "--address", "nowhere"], "--address"),
    ("out-under-a-file", lambda t: ["run", "suite.yaml", "--out", str(_file(t) / "results")], "--out"),
    ("out-is-a-file", lambda t: ["run", "suite.yaml", "--out", str(_file(t))], "--out"),
    ("out-read-only-fs", lambda t: ["run", "exp.yaml", "--out", "/proc/testbed-results"], "--out"),
    ("data-dir-missing", lambda t: ["run", "suite.yaml", "--data-dir", str(t / "nowhere")], "--data-dir"),
    ("experiment-with-resume", lambda t: ["run", "exp.yaml", "--resume"], "--resume"),
    ("experiment-with-max-parallel", lambda t: ["run", "exp.yaml", "--max-parallel", "2"], "--max-parallel"),
    ("experiment-with-retries", lambda t: ["run", "exp.yaml", "--retries", "1"], "--retries"),
    ("run-unknown-flag", lambda t: ["run", "suite.yaml", "--bogus-flag"], "--bogus-flag"),
    ("run-missing-file", lambda t: ["run", "missing.yaml"], "missing.yaml"),
    ("run-a-directory", lambda t: ["run", str(t)], "file"),
    ("topo-show-out-under-file", lambda t: ["topo", "show", "topo.yaml", "--out", str(_file(t) / "map.png")],
     "--out"),
    ("topo-show-out-txt", lambda t: ["topo", "show", "topo.yaml", "--out", "map.txt"], "--out"),
    ("topo-show-out-dir", lambda t: ["topo", "show", "topo.yaml", "--out", str(t)], "--out"),
    ("topo-check-missing", lambda t: ["topo", "check", "missing.yaml"], "missing.yaml"),
    ("topo-without-subcommand", lambda t: ["topo"], "topo"),
    ("topo-unknown-subcommand", lambda t: ["topo", "draw"], "draw"),
    ("plot-missing-dir", lambda t: ["plot", str(t / "nowhere")], "RESULTS_DIR"),
    ("plot-only-unknown", lambda t: ["plot", str(t), "--only", "nonsense"], "--only"),
    ("plot-out-under-file", lambda t: ["plot", str(t), "--out", str(_file(t) / "plots")], "--out"),
    ("train-local-iterations-zero", lambda t: ["train-local", "--iterations", "0"], "--iterations"),
    ("train-local-dataset-unknown", lambda t: ["train-local", "--dataset", "imagenet"], "--dataset"),
    ("train-local-threads-zero", lambda t: ["train-local", "--threads", "0"], "--threads"),
    ("train-local-batch-negative", lambda t: ["train-local", "--batch-size", "-1"], "--batch-size"),
    ("train-local-lr-zero", lambda t: ["train-local", "--lr-g", "0"], "--lr-g"),
    ("train-local-out-under-file", lambda t: ["train-local", "--out", str(_file(t) / "x")], "--out"),
    ("data-status-unknown-flag", lambda t: ["data", "status", "--bogus"], "--bogus"),
]


# -- results directories that are broken: (case id, builder of the directory, text the line must hold) -----
def _complete_run(root: Path, name: str = "run1") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"run_id": name, "status": "complete", "algorithm": "ps"}))
    (run / "config.yaml").write_text(_dump(EXPERIMENT))
    (run / "metrics.csv").write_text("iteration,virtual_time_s\n0,0.0\n")
    (run / "nodes.csv").write_text("node,compute_s\na/w0,1.0\n")
    (run / "links.csv").write_text("a,b\n")
    (run / "traffic.csv").write_text("kind,scope,src_dc,dst_dc,nbytes,payload_nbytes,egress_usd\n")
    return run


def _corrupt_parquet(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "traffic.parquet").write_bytes(b"PAR1 this is not a parquet file, it was cut short")
    return t / "results"


def _truncated_parquet(t: Path) -> Path:
    import pandas as pd

    run = _complete_run(t / "results")
    pd.DataFrame({"kind": ["x"], "nbytes": [1]}).to_parquet(run / "traffic.parquet")
    data = (run / "traffic.parquet").read_bytes()
    (run / "traffic.parquet").write_bytes(data[: len(data) // 2])
    return t / "results"


def _bad_summary(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "summary.json").write_text('{"status": "complete", ')
    return t / "results"


def _bad_config(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "config.yaml").write_text("name: [unclosed\n")
    return t / "results"


def _empty_metrics(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "metrics.csv").write_text("")
    return t / "results"


def _missing_metrics(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "metrics.csv").unlink()
    return t / "results"


def _bad_index(t: Path) -> Path:
    root = t / "results" / "suite"
    root.mkdir(parents=True)
    (root / "index.csv").write_text("")
    return root


def _index_without_status(t: Path) -> Path:
    root = t / "results" / "suite"
    root.mkdir(parents=True)
    (root / "index.csv").write_text("cell,run_dir\nx,x\n")
    return root


def _empty_dir(t: Path) -> Path:
    (t / "results").mkdir()
    return t / "results"


def _only_failed(t: Path) -> Path:
    run = t / "results" / "run1"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"run_id": "run1", "status": "failed", "error": "boom"}))
    return t / "results"


RESULTS_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("corrupt-traffic-parquet", _corrupt_parquet, "traffic.parquet"),
    ("truncated-traffic-parquet", _truncated_parquet, "traffic.parquet"),
    ("torn-summary", _bad_summary, "summary.json"),
    ("bad-config-yaml", _bad_config, "config.yaml"),
    ("empty-metrics", _empty_metrics, "metrics.csv"),
    ("missing-metrics", _missing_metrics, "metrics.csv"),
    ("empty-index", _bad_index, "index.csv"),
    ("index-without-status", _index_without_status, "status"),
    ("no-runs", _empty_dir, "RESULTS_DIR"),
    ("only-failed-runs", _only_failed, "RESULTS_DIR"),
    ("results-is-a-file", _file, "RESULTS_DIR"),
]


def _suite_results_exist(t: Path) -> list[str]:
    (t / "out" / "s" / "seed=0").mkdir(parents=True)
    (t / "out" / "s" / "seed=0" / "summary.json").write_text('{"status": "complete"}')
    return ["run", "suite.yaml", "--backend", "inprocess", "--out", str(t / "out")]


def _suite_locked(t: Path) -> list[str]:
    import socket

    (t / "out" / "s").mkdir(parents=True)
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2026-01-01 00:00:00"}
    (t / "out" / "s" / ".lock").write_text(json.dumps(holder))
    return ["run", "suite.yaml", "--backend", "inprocess", "--out", str(t / "out")]


RESULTS_CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("suite-results-exist", _suite_results_exist, "--resume"),
    ("suite-results-locked", _suite_locked, f"pid {os.getppid()}"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a good topology, experiment and suite, as the cwd."""
    (tmp_path / "topo.yaml").write_text(_dump(TOPOLOGY))
    (tmp_path / "exp.yaml").write_text(_dump(EXPERIMENT))
    (tmp_path / "suite.yaml").write_text(_dump(SUITE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def _check_one_line(argv: list[str], expected: str, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    before = _snapshot(root)
    code = main(argv)
    captured = capsys.readouterr()
    output = captured.out + captured.err
    lines = output.splitlines()
    assert code != 0, output
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert expected in lines[0], lines[0]
    assert _snapshot(root) == before, "a bad input must not create or change any file"


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in TOPOLOGY_CASES + RAW_TOPOLOGIES],
                         ids=[c[0] for c in TOPOLOGY_CASES + RAW_TOPOLOGIES])
def test_bad_topology(workdir: Path, change: Any, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(_topology_case(workdir, change), expected, workdir, capsys)


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in TOPOLOGY_CASES[:5]], ids=[c[0] for c in
                                                                                           TOPOLOGY_CASES[:5]])
def test_bad_topology_names_its_file(workdir: Path, change: Any, expected: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    main(_topology_case(workdir, change))
    assert "bad-topo.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in EXPERIMENT_CASES],
                         ids=[c[0] for c in EXPERIMENT_CASES])
def test_bad_experiment(workdir: Path, change: dict[str, Any], expected: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(_experiment_case(workdir, change), expected, workdir, capsys)


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in SUITE_CASES], ids=[c[0] for c in SUITE_CASES])
def test_bad_suite(workdir: Path, change: Any, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    if change == {"repeat": 2}:
        change = {"repeat": 2, "grid": {"seed": [0, 1]}}
    _check_one_line(_suite_case(workdir, change), expected, workdir, capsys)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_command_line(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = build(workdir)
    _check_one_line(argv, expected, workdir, capsys)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CASES], ids=[c[0] for c in RESULTS_CASES])
def test_bad_results_directory(workdir: Path, build: Callable[[Path], Path], expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    root = build(workdir)
    _check_one_line(["plot", str(root), "--out", str(workdir / "plots")], expected, workdir, capsys)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CLI_CASES],
                         ids=[c[0] for c in RESULTS_CLI_CASES])
def test_suite_refuses_its_results_directory(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(build(workdir), expected, workdir, capsys)


def test_there_are_at_least_a_hundred_cases() -> None:
    total = (len(TOPOLOGY_CASES) + len(RAW_TOPOLOGIES) + len(EXPERIMENT_CASES) + len(SUITE_CASES)
             + len(CLI_CASES) + len(RESULTS_CASES) + len(RESULTS_CLI_CASES))
    assert total >= 100, total


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: chmod cannot make a directory read-only")
def test_read_only_out_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _check_one_line(["run", "suite.yaml", "--out", str(locked)], "--out", workdir, capsys)
    finally:
        locked.chmod(0o755)
