"""Every bad YAML input is one line: non-zero exit, no traceback, the field named, nothing written.

A table of broken topology, experiment and suite YAML, each run in-process through the
CLI's ``main`` (fast: no subprocess per case); command lines and results directories are in
``test_bad_inputs_cli.py``.  Each case asserts the rule a new user relies on: exit code != 0,
exactly one line of output, no traceback, the field (or flag, or file) named in
it, and no file under the working directory created or changed.
"""


from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bad_inputs_common import DELETE, EXPERIMENT, RESULTS, SUITE, TOPOLOGY, _changed, _check_one_line, _dump, workdir
from own_files import custom_model, write_folder, write_model, write_npz

from testbed.cli import main

__all__ = ["workdir"]  # the fixture, shared

# -- topology YAML: (case id, topology change(s) or raw text, the field the line must name) --------------
FLEET_TRACE = Path(__file__).resolve().parents[1] / "topologies" / "traces" / "fleet-48.csv"

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
    ("population-zero", {"datacenters.a.workers": {"count": 0}}, "datacenters.a.workers.count"),
    ("population-word", {"datacenters.a.workers": {"count": "lots"}}, "datacenters.a.workers.count"),
    ("population-no-count", {"datacenters.a.workers": {"speed": 0.5}}, "datacenters.a.workers.count"),
    ("population-too-big", {"datacenters.a.workers": {"count": 10**15}}, "datacenters.a.workers.count"),
    ("population-unknown-key", {"datacenters.a.workers": {"count": 5, "ram": "4GB"}}, "datacenters.a.workers.ram"),
    ("population-zero-speed", {"datacenters.a.workers": {"count": 5, "speed": 0}}, "datacenters.a.workers.speed"),
    ("zero-speed-worker", {"datacenters.a.workers": [{"speed": 0}]}, "datacenters.a.workers[0].speed"),
    ("word-speed-worker", {"datacenters.a.workers": [{"speed": "quick"}]}, "datacenters.a.workers[0].speed"),
    ("worker-unknown-key", {"datacenters.a.workers": [{"ram": "4GB"}]}, "datacenters.a.workers[0].ram"),
    ("negative-device-speed", {"datacenters.a.device": {"speed": -1}}, "datacenters.a.device.speed"),
    ("gpus-per-worker-not-read", {"datacenters.a.gpus_per_worker": 1}, "datacenters.a.gpus_per_worker"),
    ("worker-gpus-not-read", {"datacenters.a.workers": [{"gpus": 1}]}, "datacenters.a.workers[0].gpus"),
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
    ("availability-unknown-key", {"datacenters.a.availability": {"often": True}}, "datacenters.a.availability.often"),
    ("availability-empty", {"datacenters.a.availability": {}}, "datacenters.a.availability"),
    ("availability-not-mapping", {"datacenters.a.availability": "sometimes"}, "datacenters.a.availability"),
    ("availability-bare-down", {"datacenters.a.workers": [{"availability": {"down": [[1, 2]]}}]},
     "datacenters.a.workers[0].availability.down[0][0]"),
    ("availability-down-backwards", {"datacenters.a.availability": {"down": [["5s", "2s"]]}},
     "datacenters.a.availability.down[0]"),
    ("availability-down-overlap", {"datacenters.a.availability": {"down": [["1s", "5s"], ["2s", "6s"]]}},
     "datacenters.a.availability.down[1]"),
    ("availability-down-word", {"datacenters.a.availability": {"down": "weekends"}},
     "datacenters.a.availability.down"),
    ("availability-down-and-model", {"datacenters.a.availability": {"down": [["1s", "2s"]], "mean_up": "1s",
                                                                     "mean_down": "1s"}}, "datacenters.a.availability"),
    ("availability-mean-up-only", {"datacenters.a.availability": {"mean_up": "300s"}},
     "datacenters.a.availability.mean_down"),
    ("availability-mean-zero", {"datacenters.a.availability": {"mean_up": "0s", "mean_down": "1s"}},
     "datacenters.a.availability.mean_up"),
    ("availability-bare-crash", {"datacenters.a.workers": [{"availability": {"crash_at": 30}}]},
     "datacenters.a.workers[0].availability.crash_at"),
    ("availability-negative-crash", {"datacenters.a.availability": {"crash_at": "-1s"}},
     "datacenters.a.availability.crash_at"),
    ("background-rate-bare", {"links.0.background": {"rate": 40}}, "links[0].background.rate"),
    ("background-two-sources-in-one", {"links.0.background": {"rate": "1Mbps", "poisson": {}}}, "links[0].background"),
    ("background-from-elsewhere", {"links.0.background": {"rate": "1Mbps", "from": "z"}}, "links[0].background.from"),
    ("background-poisson-no-size", {"links.0.background": {"poisson": {"flows_per_s": 5}}},
     "links[0].background.poisson.mean_size"),
    ("background-poisson-zero-rate", {"links.0.background": {"poisson": {"flows_per_s": 0, "mean_size": "1MB"}}},
     "links[0].background.poisson.flows_per_s"),
    ("background-poisson-bare-size", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": 1000}}},
     "links[0].background.poisson.mean_size"),
    ("background-poisson-sizes-word", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": "1MB",
                                                                          "sizes": "pareto"}}},
     "links[0].background.poisson.sizes"),
    ("background-lognormal-no-sigma", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": "1MB",
                                                                          "sizes": {"lognormal": {}}}}},
     "links[0].background.poisson.sizes.lognormal.sigma"),
    ("background-lognormal-negative-sigma", {"links.0.background": {"poisson": {
        "flows_per_s": 5, "mean_size": "1MB", "sizes": {"lognormal": {"sigma": -1}}}}},
     "links[0].background.poisson.sizes.lognormal.sigma"),
    ("background-replay-missing-file", {"links.0.background": {"replay": "no-such-run/traffic.parquet"}},
     "links[0].background.replay"),
    ("background-list-second-bad", {"links.0.background": [{"rate": "1Mbps"}, {"rate": "-1Mbps"}]},
     "links[0].background[1].rate"),
    ("background-load-missing-file", {"links.0.background": {"load_csv": "no-such-load.csv"}},
     "links[0].background.load_csv"),
    ("availability-trace-missing-file", {"datacenters.a.availability": {"trace": "no-such-trace.csv"}},
     "datacenters.a.availability.trace"),
    ("availability-trace-number", {"datacenters.a.workers": [{"availability": {"trace": 5}}]},
     "datacenters.a.workers[0].availability.trace"),
    ("availability-trace-on-population",
     {"datacenters.a.workers": {"count": 50, "availability": {"trace": str(FLEET_TRACE)}}},
     "datacenters.a.workers.availability.trace"),
    ("availability-trace-and-down", {"datacenters.a.availability": {"trace": "t.csv", "down": [["1s", "2s"]]}},
     "datacenters.a.availability"),
    ("speed-profile-word", {"datacenters.a.device": {"speed_profile": "varies"}}, "datacenters.a.device.speed_profile"),
    ("speed-profile-short-step", {"datacenters.a.workers": [{"speed_profile": [["0s"]]}]},
     "datacenters.a.workers[0].speed_profile[0]"),
    ("speed-profile-zero-speed", {"datacenters.a.workers": [{"speed_profile": [["0s", 0]]}]},
     "datacenters.a.workers[0].speed_profile[0][1]"),
    ("speed-profile-bare-time", {"datacenters.a.workers": [{"speed_profile": [[10, 0.5]]}]},
     "datacenters.a.workers[0].speed_profile[0][0]"),
    ("speed-profile-unsorted", {"datacenters.a.device": {"speed_profile": [["5s", 1.0], ["1s", 0.5]]}},
     "datacenters.a.device.speed_profile[1][0]"),
    ("slowdown-unknown-key", {"datacenters.a.device": {"slowdown": {"gamma": 1}}},
     "datacenters.a.device.slowdown.gamma"),
    ("slowdown-not-mapping", {"datacenters.a.workers": [{"slowdown": 5}]}, "datacenters.a.workers[0].slowdown"),
    ("slowdown-p-only", {"datacenters.a.workers": [{"slowdown": {"p": 0.1}}]},
     "datacenters.a.workers[0].slowdown.factor"),
    ("slowdown-p-above-one", {"datacenters.a.workers": [{"slowdown": {"p": 2, "factor": 5}}]},
     "datacenters.a.workers[0].slowdown.p"),
    ("slowdown-factor-below-one", {"datacenters.a.workers": [{"slowdown": {"p": 0.1, "factor": 0.5}}]},
     "datacenters.a.workers[0].slowdown.factor"),
    ("slowdown-lognormal-no-sigma", {"datacenters.a.device": {"slowdown": {"lognormal": {}}}},
     "datacenters.a.device.slowdown.lognormal.sigma"),
    ("slowdown-lognormal-word-sigma", {"datacenters.a.device": {"slowdown": {"lognormal": {"sigma": "wide"}}}},
     "datacenters.a.device.slowdown.lognormal.sigma"),
    ("slowdown-lognormal-and-p", {"datacenters.a.device": {"slowdown": {"lognormal": {"sigma": 1}, "p": 0.1}}},
     "datacenters.a.device.slowdown"),
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
NC = "network.compression"
EXPERIMENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("batch-size-word", {"training.batch_size": "big"}, "training.batch_size"),
    ("lr-g-word", {"training.lr_g": "fast"}, "training.lr_g"),
    ("lr-g-negative", {"training.lr_g": -0.001}, "training.lr_g"),
    ("lr-d-zero", {"training.lr_d": 0}, "training.lr_d"),
    ("deterministic-word", {"training.deterministic": "yes"}, "training.deterministic"),
    ("deterministic-number", {"training.deterministic": 2}, "training.deterministic"),
    ("beta1-one", {"training.beta1": 1.0}, "training.beta1"),
    ("beta2-above-one", {"training.beta2": 1.5}, "training.beta2"),
    ("batch-size-zero", {"training.batch_size": 0}, "training.batch_size"),
    ("batch-size-huge", {"training.batch_size": 100_000_000}, "training.batch_size"),
    ("batch-size-fraction", {"training.batch_size": 16.5}, "training.batch_size"),
    ("r1-negative", {"training.r1_gamma": -1}, "training.r1_gamma"),
    ("lr-final-zero", {"training.lr_final_fraction": 0}, "training.lr_final_fraction"),
    ("training-unknown", {"training.momentum": 0.9}, "training.momentum"),
    ("fused-adam-word", {"training.fused_adam": "yes"}, "training.fused_adam"),
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
    ("algorithm-unknown", {"algorithm.name": "no-such-method"}, "algorithm.name"),
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
    ("mdgan-swap-optimizer", {"algorithm": {"name": "mdgan", "swap_optimizer": "keep"}}, "algorithm.swap_optimizer"),
    ("fedavg-fraction-zero", {"algorithm": {"name": "fedavg", "client_fraction": 0}}, "algorithm.client_fraction"),
    ("fedavg-epochs-zero", {"algorithm": {"name": "fedavg", "local_epochs": 0}}, "algorithm.local_epochs"),
    ("fedavg-batch-word", {"algorithm": {"name": "fedavg", "batch_size": "big"}}, "algorithm.batch_size"),
    ("fedavg-epochs-huge", {"algorithm": {"name": "fedavg", "local_epochs": 1e9}}, "algorithm.local_epochs"),
    ("fedavg-deadline-bare", {"algorithm": {"name": "fedavg", "round_deadline": 30}}, "algorithm.round_deadline"),
    ("fedavg-deadline-bare-text", {"algorithm": {"name": "fedavg", "round_deadline": "30"}},
     "algorithm.round_deadline"),
    ("fedavg-deadline-word", {"algorithm": {"name": "fedavg", "round_deadline": "soon"}}, "algorithm.round_deadline"),
    ("fedavg-deadline-zero", {"algorithm": {"name": "fedavg", "round_deadline": "0s"}}, "algorithm.round_deadline"),
    ("fedavg-over-select-negative", {"algorithm": {"name": "fedavg", "over_select": -0.1}}, "algorithm.over_select"),
    ("fedavg-over-select-word", {"algorithm": {"name": "fedavg", "over_select": "more"}}, "algorithm.over_select"),
    ("fedavg-offline-unknown", {"algorithm": {"name": "fedavg", "offline": "wait"}}, "algorithm.offline"),
    ("fedavg-offline-number", {"algorithm": {"name": "fedavg", "offline": 1}}, "algorithm.offline"),
    ("gaia-threshold-negative", {"algorithm": {"name": "gaia", "threshold": -0.1}}, "algorithm.threshold"),
    ("gaia-decay-word", {"algorithm": {"name": "gaia", "decay": "yes"}}, "algorithm.decay"),
    ("gaia-clock-gap-negative", {"algorithm": {"name": "gaia", "max_clock_gap": -1}}, "algorithm.max_clock_gap"),
    ("sqm-batch-negative", {"algorithm": {"name": "sqm", "batch_size": -5}}, "algorithm.batch_size"),
    ("gossip-every-zero", {"algorithm": {"name": "gossip", "every": 0}}, "algorithm.every"),
    ("gossip-every-word", {"algorithm": {"name": "gossip", "every": "often"}}, "algorithm.every"),
    ("gossip-graph-unknown", {"algorithm": {"name": "gossip", "graph": "star"}}, "algorithm.graph"),
    ("centralized-two-servers", {"algorithm": {"name": "centralized", "server_at": ["a", "b"]}},
     "algorithm.server_at"),
    ("max-iterations-zero", {"max_iterations": 0}, "max_iterations"),
    ("max-iterations-word", {"max_iterations": "lots"}, "max_iterations"),
    ("max-iterations-huge", {"max_iterations": 1e12}, "max_iterations"),
    ("max-virtual-time-word", {"max_virtual_time": "soon"}, "max_virtual_time"),
    ("max-virtual-time-bare", {"max_virtual_time": 20}, "write 20s"),
    ("max-virtual-time-bare-text", {"max_virtual_time": "20"}, "max_virtual_time"),
    ("max-bytes-bare", {"max_bytes": 1000000}, "write 1e+06B"),
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
    ("compute-cost-bare", {"compute.costs.train_step": 5}, "write 5s"),
    ("compute-default-bare", {"compute.default": 0.002}, "compute.default"),
    ("compute-repeats-zero", {"compute.repeats": 0}, "compute.repeats"),
    ("compute-fixed-no-costs", {"compute": {"model": "fixed"}}, "compute.costs"),
    ("compute-fixed-kind-unpriced", {"compute": {"model": "fixed", "costs": {"train_step": "1ms"}}},
     "no cost for grad_step, server_update"),
    ("compute-scale-zero", {"compute.scale": 0}, "compute.scale"),
    ("compute-scale-word", {"compute.scale": "fast"}, "compute.scale"),
    ("executors-pool-zero", {"executors": {"pool": 0}}, "executors.pool"),
    ("executors-placement", {"executors": {"placement": "per_rack"}}, "executors.placement"),
    ("executors-batch-word", {"executors": {"batch": "yes"}}, "executors.batch"),
    ("executors-batch-measured", {"executors": {"batch": True}, "compute": {"model": "measured"}}, "executors.batch"),
    ("executors-batch-ray-actors", {"executors": {"batch": True}, "backend": "ray"}, "executors.batch"),
    ("network-tcp-word", {"network": {"tcp": "yes"}}, "network.tcp"),
    ("network-header-negative", {"network": {"header_nbytes": -1}}, "network.header_nbytes"),
    ("network-window-word", {"network": {"tcp_window": "big"}}, "network.tcp_window"),
    ("network-window-bare", {"network": {"tcp_window": 65536}}, "network.tcp_window"),
    ("network-not-mapping", {"network": "fast"}, "network"),
    ("compression-not-mapping", {"network.compression": "topk"}, "network.compression"),
    ("compression-unknown-kind", {"network.compression.gradients": {"topk": 0.01}}, f"{NC}.gradients"),
    ("compression-kind-of-another-method", {"network.compression.samples": "fp16"}, f"{NC}.samples"),
    ("compression-unknown-transform", {"network.compression.grads_g": {"zip": 9}}, f"{NC}.grads_g"),
    ("compression-two-transforms", {"network.compression.grads_g": {"topk": 0.1, "fp16": True}}, f"{NC}.grads_g"),
    ("compression-transform-list", {"network.compression.grads_g": ["topk", 0.1]}, f"{NC}.grads_g"),
    ("compression-topk-zero", {"network.compression.grads_g.topk": 0}, f"{NC}.grads_g.topk.ratio"),
    ("compression-topk-above-one", {"network.compression.grads_g.topk": 1.5}, f"{NC}.grads_g.topk.ratio"),
    ("compression-topk-word", {"network.compression.grads_g.topk": "some"}, f"{NC}.grads_g.topk.ratio"),
    ("compression-topk-bare", {"network.compression.grads_g": "topk"}, f"{NC}.grads_g.topk.ratio"),
    ("compression-topk-no-ratio", {"network.compression.grads_g.topk": {"error_feedback": True}},
     f"{NC}.grads_g.topk.ratio"),
    ("compression-topk-feedback-word", {"network.compression.grads_g.topk": {"ratio": 0.1, "error_feedback": "yes"}},
     f"{NC}.grads_g.topk.error_feedback"),
    ("compression-topk-unknown-key", {"network.compression.grads_g.topk": {"ratio": 0.1, "memory": 1}},
     f"{NC}.grads_g.topk.memory"),
    ("compression-quantize-zero-bits", {"network.compression.grads_d.quantize": 0}, f"{NC}.grads_d.quantize.bits"),
    ("compression-quantize-33-bits", {"network.compression.grads_d.quantize": 33}, f"{NC}.grads_d.quantize.bits"),
    ("compression-quantize-fraction-bits", {"network.compression.grads_d.quantize": 4.5},
     f"{NC}.grads_d.quantize.bits"),
    ("compression-quantize-bucket-zero", {"network.compression.grads_d.quantize": {"bits": 8, "bucket": 0}},
     f"{NC}.grads_d.quantize.bucket"),
    ("compression-quantize-no-bits", {"network.compression.grads_d.quantize": {"bucket": 64}},
     f"{NC}.grads_d.quantize.bits"),
    ("compression-fp16-argument", {"network.compression.params_d.fp16": 8}, f"{NC}.params_d.fp16"),
    ("compression-quantize-rounding", {"network.compression.grads_d.quantize": {"bits": 8, "rounding": "up"}},
     f"{NC}.grads_d.quantize.rounding"),
    ("compression-feedback-on-parameters",
     {"network.compression.params_d.topk": {"ratio": 0.1, "error_feedback": True}},
     f"{NC}.params_d.topk.error_feedback"),
    ("compression-feedback-on-samples", {"algorithm": {"name": "mdgan"},
                                         "network.compression.samples.topk": {"ratio": 0.1, "error_feedback": True}},
     f"{NC}.samples.topk.error_feedback"),
    ("compression-fixed-without-codec-costs", {"compute": {"model": "fixed", "costs": {"grad_step": "1ms"}},
                                               "network.compression.grads_g": "fp16"}, "compute.costs"),
    ("compression-local-sends-no-tensors", {"algorithm": {"name": "local"}, "network.compression.grads_g": "fp16"},
     f"{NC}.grads_g"),
    ("fedavg-server-optimizer-unknown", {"algorithm": {"name": "fedavg", "server_optimizer": "sgd"}},
     "algorithm.server_optimizer"),
    ("fedavg-server-optimizer-number", {"algorithm": {"name": "fedavg", "server_optimizer": 3}},
     "algorithm.server_optimizer"),
    ("fedavg-server-lr-zero", {"algorithm": {"name": "fedavg", "server_optimizer": "fedadam", "server_lr": 0}},
     "algorithm.server_lr"),
    ("fedavg-server-lr-word", {"algorithm": {"name": "fedavg", "server_optimizer": "nesterov", "server_lr": "big"}},
     "algorithm.server_lr"),
    ("fedavg-server-lr-huge", {"algorithm": {"name": "fedavg", "server_optimizer": "fedavgm", "server_lr": 50}},
     "algorithm.server_lr"),
    ("fedavg-server-lr-plain", {"algorithm": {"name": "fedavg", "server_lr": 0.5}}, "algorithm.server_lr"),
    ("fedavg-server-momentum-one", {"algorithm": {"name": "fedavg", "server_optimizer": "fedavgm",
                                                   "server_momentum": 1}}, "algorithm.server_momentum"),
    ("fedavg-server-momentum-negative", {"algorithm": {"name": "fedavg", "server_momentum": -0.1}},
     "algorithm.server_momentum"),
    ("fedavg-server-beta1-one", {"algorithm": {"name": "fedavg", "server_beta1": 1.0}}, "algorithm.server_beta1"),
    ("fedavg-server-beta2-word", {"algorithm": {"name": "fedavg", "server_beta2": "high"}}, "algorithm.server_beta2"),
    ("fedavg-server-tau-zero", {"algorithm": {"name": "fedavg", "server_tau": 0}}, "algorithm.server_tau"),
    ("fedavg-server-unknown-key", {"algorithm": {"name": "fedavg", "server_beta": 0.9}}, "algorithm.server_beta"),
    ("fedbuff-concurrency-above-clients", {"algorithm": {"name": "fedbuff", "concurrency": 99}},
     "algorithm.concurrency"),
    ("fedbuff-buffer-above-concurrency", {"algorithm": {"name": "fedbuff", "concurrency": 2, "buffer": 3}},
     "algorithm.buffer"),
    ("fedbuff-staleness-word", {"algorithm": {"name": "fedbuff", "staleness": "fresh"}}, "algorithm.staleness"),
    ("fedbuff-staleness-poly-negative", {"algorithm": {"name": "fedbuff", "staleness": {"poly": -1}}},
     "algorithm.staleness.poly"),
    ("fedbuff-staleness-hinge-no-b", {"algorithm": {"name": "fedbuff", "staleness": {"hinge": {"a": 1}}}},
     "algorithm.staleness.hinge"),
    ("fedbuff-mixing-zero", {"algorithm": {"name": "fedbuff", "mixing": 0}}, "algorithm.mixing"),
    ("fedbuff-mixing-word", {"algorithm": {"name": "fedbuff", "mixing": "half"}}, "algorithm.mixing"),
    ("fedbuff-mixing-with-buffer", {"algorithm": {"name": "fedbuff", "mixing": 0.5, "buffer": 2}},
     "algorithm.mixing"),
    ("fedbuff-server-lr-zero", {"algorithm": {"name": "fedbuff", "server_lr": 0}}, "algorithm.server_lr"),
    ("fedbuff-offline-word", {"algorithm": {"name": "fedbuff", "offline": "sleep"}}, "algorithm.offline"),
    ("hierfavg-edge-every-zero", {"algorithm": {"name": "hierfavg", "edge_every": 0}}, "algorithm.edge_every"),
    ("hierfavg-cloud-every-word", {"algorithm": {"name": "hierfavg", "cloud_every": "often"}},
     "algorithm.cloud_every"),
    ("hierfavg-cloud-on-mars", {"algorithm": {"name": "hierfavg", "server_at": "mars"}}, "algorithm.server_at"),
    ("hierfavg-offline-word", {"algorithm": {"name": "hierfavg", "offline": "nap"}}, "algorithm.offline"),
    ("streaming-inner-steps-zero", {"algorithm": {"name": "streaming_diloco", "inner_steps": 0}},
     "algorithm.inner_steps"),
    ("streaming-fragments-word", {"algorithm": {"name": "streaming_diloco", "fragments": "few"}},
     "algorithm.fragments"),
    ("streaming-fragments-above-layers", {"algorithm": {"name": "streaming_diloco", "fragments": 50}},
     "algorithm.fragments"),
    ("streaming-overlap-not-below-h", {"algorithm": {"name": "streaming_diloco", "inner_steps": 4, "overlap": 4}},
     "algorithm.overlap"),
    ("streaming-mixing-one", {"algorithm": {"name": "streaming_diloco", "mixing": 1.0}}, "algorithm.mixing"),
    ("streaming-outer-lr-zero", {"algorithm": {"name": "streaming_diloco", "outer_lr": 0}}, "algorithm.outer_lr"),
    ("streaming-outer-momentum-one", {"algorithm": {"name": "streaming_diloco", "outer_momentum": 1}},
     "algorithm.outer_momentum"),
    ("network-rate-window-tiny", {"network": {"rate_window": "1us"}}, "network.rate_window"),
    ("network-rate-window-word", {"network": {"rate_window": "often"}}, "network.rate_window"),
    ("fedavg-server-lr-schedule-unknown", {"algorithm": {"name": "fedavg", "server_optimizer": "nesterov",
                                                          "server_lr_schedule": "cosine"}},
     "algorithm.server_lr_schedule"),
    ("fedavg-server-lr-schedule-plain", {"algorithm": {"name": "fedavg", "server_lr_schedule": "shared"}},
     "algorithm.server_lr_schedule"),
    ("fedavg-client-state-unknown", {"algorithm": {"name": "fedavg", "client_state": "fresh"}},
     "algorithm.client_state"),
    ("fedavg-client-state-number", {"algorithm": {"name": "fedavg", "client_state": 1}}, "algorithm.client_state"),
    ("fedavg-client-state-keep-population", {"algorithm": {"name": "fedavg", "client_state": "keep"},
                                             "topology": _changed(TOPOLOGY, "datacenters.a.workers", {"count": 50})},
     "algorithm.client_state"),
    ("fedsgd-local-epochs", {"algorithm": {"name": "fedsgd", "local_epochs": 2}}, "algorithm.local_epochs"),
    ("fedsgd-client-fraction-zero", {"algorithm": {"name": "fedsgd", "client_fraction": 0}},
     "algorithm.client_fraction"),
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


# -- the researcher's own data and model (files written by ``own_workdir``): (case id, change(s), field) -------
NPZ = {"name": "npz", "path": "data.npz", "key": "x", "labels": "y"}
IMAGES = {"name": "images", "dir": "imgs"}
CUSTOM = custom_model("tinygan", Path("."))
OWN_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("own-npz-bare-name", {"dataset": "npz"}, "dataset"),
    ("own-npz-no-path", {"dataset": {"name": "npz", "key": "x"}}, "dataset.path"),
    ("own-npz-missing-file", {"dataset": {**NPZ, "path": "nope.npz"}}, "dataset.path"),
    ("own-npz-path-number", {"dataset": {**NPZ, "path": 3}}, "dataset.path"),
    ("own-npz-corrupt", {"dataset": {**NPZ, "path": "corrupt.npz"}}, "dataset.path"),
    ("own-npz-wrong-key", {"dataset": {**NPZ, "key": "images"}}, "dataset.key"),
    ("own-npz-key-needed", {"dataset": {"name": "npz", "path": "data.npz"}}, "dataset.key"),
    ("own-npz-wrong-labels", {"dataset": {**NPZ, "labels": "z"}}, "dataset.labels"),
    ("own-npz-labels-length", {"dataset": {**NPZ, "path": "short.npz"}}, "dataset.labels"),
    ("own-npz-float-labels", {"dataset": {**NPZ, "path": "floaty.npz"}}, "dataset.labels"),
    ("own-npz-range-backwards", {"dataset": {**NPZ, "range": [1, 0]}}, "dataset.range"),
    ("own-npz-range-word", {"dataset": {**NPZ, "range": "bytes"}}, "dataset.range"),
    ("own-npz-range-too-narrow", {"dataset": {**NPZ, "range": [0, 100]}}, "dataset.range"),
    ("own-npz-float-range-unknown", {"dataset": {**NPZ, "path": "wide.npz"}}, "dataset.range"),
    ("own-npz-five-dims", {"dataset": {**NPZ, "path": "five.npz"}}, "dataset.key"),
    ("own-npz-nan", {"dataset": {**NPZ, "path": "nan.npz"}}, "dataset.key"),
    ("own-npz-unknown-key", {"dataset": {**NPZ, "colour": 1}}, "dataset.colour"),
    ("own-npz-sha256-changed", {"dataset": {**NPZ, "sha256": "0" * 64}}, "dataset.sha256"),
    ("own-npz-nbytes-changed", {"dataset": {**NPZ, "nbytes": 1}}, "dataset.nbytes"),
    ("own-npz-n-zero", {"dataset": {**NPZ, "n": 0}}, "dataset.n"),
    ("own-npz-too-few", {"dataset": {**NPZ, "path": "few.npz"}}, "dataset.path"),
    ("own-npy-given-npz", {"dataset": {"name": "npy", "path": "data.npz"}}, "dataset.path"),
    ("own-npy-labels-missing", {"dataset": {"name": "npy", "path": "x.npy", "labels": "nope.npy"}},
     "dataset.labels"),
    ("own-vectors-range", {"dataset": {**NPZ, "path": "vec.npz", "range": [0, 1]}}, "dataset.range"),
    ("own-images-empty", {"dataset": {**IMAGES, "dir": "empty"}}, "dataset.dir"),
    ("own-images-dir-is-file", {"dataset": {**IMAGES, "dir": "data.npz"}}, "dataset.dir"),
    ("own-images-mixed-sizes", {"dataset": {**IMAGES, "dir": "mixed"}}, "dataset.size"),
    ("own-images-corrupt-png", {"dataset": {**IMAGES, "dir": "broken"}}, "dataset.dir"),
    ("own-images-size-word", {"dataset": {**IMAGES, "size": "big"}}, "dataset.size"),
    ("own-images-size-two", {"dataset": {**IMAGES, "size": 2}}, "dataset.size"),
    ("own-images-channels-two", {"dataset": {**IMAGES, "channels": 2}}, "dataset.channels"),
    ("own-images-labels-word", {"dataset": {**IMAGES, "labels": "yes"}}, "dataset.labels"),
    ("own-images-labels-loose-files", {"dataset": {**IMAGES, "labels": "folders"}}, "dataset.labels"),
    ("own-files-with-data-dir", {"data_dir": "imgs"}, "data_dir"),
    ("own-unlabelled-dirichlet", {"dataset": IMAGES, "partition": "dirichlet(0.5)"}, "partition"),
    ("own-unlabelled-by-datacenter", {"dataset": IMAGES, "partition": "by_datacenter"}, "partition"),
    ("custom-no-generator", {"model": {**CUSTOM, "generator": DELETE}}, "model.generator"),
    ("custom-path-no-colon", {"model": {**CUSTOM, "generator": "tinygan.Gen"}}, "model.generator"),
    ("custom-path-number", {"model": {**CUSTOM, "discriminator": 5}}, "model.discriminator"),
    ("custom-module-missing", {"model": {**CUSTOM, "generator": "nogan:Gen"}}, "model.generator"),
    ("custom-module-raises", {"model": {**CUSTOM, "generator": "raising:Gen"}}, "model.generator"),
    ("custom-class-missing", {"model": {**CUSTOM, "generator": "tinygan:Generator"}}, "model.generator"),
    ("custom-not-a-module", {"model": {**CUSTOM, "discriminator": "tinygan:NotAModule"}}, "model.discriminator"),
    ("custom-d-as-generator", {"model": {**CUSTOM, "generator": "tinygan:Disc"}}, "model.generator"),
    ("custom-g-as-discriminator", {"model": {**CUSTOM, "discriminator": "tinygan:Gen"}}, "model.discriminator"),
    ("custom-g-wrong-shape", {"model": {**CUSTOM, "generator": "tinygan:TinyImages"}}, "model.generator"),
    ("custom-d-two-logits", {"model": {**CUSTOM, "discriminator": "tinygan:TwoLogits"}}, "model.discriminator"),
    ("custom-lazy-discriminator", {"model": {**CUSTOM, "discriminator": "tinygan:LazyDisc"}}, "model.discriminator"),
    ("custom-no-latent-dim", {"model": {**CUSTOM, "latent_dim": DELETE}}, "model.latent_dim"),
    ("custom-latent-dim-word", {"model": {**CUSTOM, "latent_dim": "big"}}, "model.latent_dim"),
    ("custom-kwargs-unused", {"model": {**CUSTOM, "kwargs": {"depth": 3}}}, "model.kwargs.depth"),
    ("custom-kwargs-list", {"model": {**CUSTOM, "kwargs": [1, 2]}}, "model.kwargs"),
    ("custom-kwargs-latent-dim", {"model": {**CUSTOM, "kwargs": {"latent_dim": 3}}}, "model.kwargs.latent_dim"),
    ("custom-kwargs-bad-value", {"model": {**CUSTOM, "kwargs": {"width": "wide"}}}, "model.generator"),
    ("custom-import-dir-missing", {"model": {**CUSTOM, "import_dir": "nowhere"}}, "model.import_dir"),
    ("custom-import-dir-number", {"model": {**CUSTOM, "import_dir": 3}}, "model.import_dir"),
    ("custom-hidden", {"model": {**CUSTOM, "hidden": 3}}, "model.hidden"),
    ("preset-with-generator", {"model": {"name": "mlp2d", "generator": "tinygan:Gen"}}, "model.generator"),
]


@pytest.fixture
def own_workdir(workdir: Path) -> Path:
    """``workdir`` plus the own files the cases point at: good ones and broken ones."""
    write_npz(workdir / "data.npz", n=60)
    write_folder(workdir / "imgs", n=60)
    write_model(workdir)
    (workdir / "raising.py").write_text("raise RuntimeError('this module does not import')\n")
    (workdir / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    x = np.zeros((60, 8, 8), np.uint8)
    np.savez(workdir / "short.npz", x=x, y=np.zeros(50, np.int64))
    np.savez(workdir / "floaty.npz", x=x, y=np.linspace(0, 1, 60))
    np.savez(workdir / "wide.npz", x=np.linspace(0, 9, 60 * 64).reshape(60, 8, 8), y=np.arange(60) % 2)
    np.savez(workdir / "five.npz", x=np.zeros((60, 2, 2, 2, 2)), y=np.arange(60) % 2)
    np.savez(workdir / "nan.npz", x=np.full((60, 4), np.nan), y=np.arange(60) % 2)
    np.savez(workdir / "vec.npz", x=np.zeros((60, 4), np.float32), y=np.arange(60) % 2)
    np.savez(workdir / "few.npz", x=x[:10], y=np.arange(10) % 2)
    np.save(workdir / "x.npy", x)
    (workdir / "empty").mkdir()
    write_folder(workdir / "mixed", n=55, size=8)
    write_folder(workdir / "mixed", n=5, size=6, seed=1)  # overwrites 0000..0004 with 6x6 images
    write_folder(workdir / "broken", n=60)
    (workdir / "broken" / "0007.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return workdir


def _own_case(tmp: Path, change: dict[str, Any]) -> list[str]:
    data = {**EXPERIMENT, "dataset": NPZ}
    for key, value in change.items():
        data = _changed(data, key, value) if "." in key else {**data, key: value}
        if key == "model" and isinstance(value, dict):
            data["model"] = {k: v for k, v in value.items() if v is not DELETE}
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
    ("latency-scale-zero", {"grid": {"latency_scale": [0]}}, "latency_scale"),
    ("compute-scale-word", {"grid": {"compute_scale": ["fast"]}}, "compute_scale"),
    ("replay-not-a-boolean", {"replay": "yes"}, "replay"),
    ("repeat-with-seed-axis", {"repeat": 2}, "repeat"),
    ("duplicate-suite-key", "name: s\nbase: exp.yaml\ngrid: {seed: [0]}\ngrid: {seed: [1]}\n", "line 4"),
    ("grid-beta1-one", {"grid": {"training.beta1": [0.5, 1.0]}}, "training.beta1"),
    ("grid-workers-billion", {"grid": {"topology.datacenters.a.workers": [1_000_000_000]}}, "workers"),
    ("grid-own-data-missing", {"grid": {"dataset": [{"name": "npz", "path": "nope.npz", "key": "x"}]}},
     "dataset.path"),
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


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in OWN_CASES], ids=[c[0] for c in OWN_CASES])
def test_bad_own_data_or_model(own_workdir: Path, change: dict[str, Any], expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(_own_case(own_workdir, change), expected, own_workdir, capsys)


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in SUITE_CASES], ids=[c[0] for c in SUITE_CASES])
def test_bad_suite(workdir: Path, change: Any, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    if change == {"repeat": 2}:
        change = {"repeat": 2, "grid": {"seed": [0, 1]}}
    _check_one_line(_suite_case(workdir, change), expected, workdir, capsys)



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
