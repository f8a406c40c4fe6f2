"""The experiment YAML -> a fully resolved, frozen :class:`ExperimentSpec`.

One experiment = one topology x data set x partition x model x algorithm x seed,
trained until a stop condition.  Parsing resolves every default, so the run
directory's ``config.yaml`` says exactly what ran and can be run again.  Bad input
(unknown key, unknown algorithm or parameter, a ``server_at`` that is not a
datacenter, a missing topology file, a setting that would do nothing: testbed.experiment.inert) is one
ConfigError line: file, field, fix.  An explicit ``null`` is the field's default, everywhere.

Example::

    name: ring8-ps
    topology: topologies/wan-3dc.yaml     # path (relative to this file or the cwd) or inline
    dataset: ring8                        # or {name: mnist, n: 10000}, or {name: npz, path: data.npz, key: x}
    partition: iid
    model: mlp2d                          # or {name: mlp2d, hidden: 64}, or {name: custom, generator: "m:G", ..}
    algorithm: {name: ps, consistency: sequential, server_at: us-east}
    training: {batch_size: 64, lr_g: 0.0002, lr_d: 0.0002}
    max_iterations: 200                   # and/or max_virtual_time: 1h, max_bytes: 1GB
    eval_every: 50
    seed: 0
    compute: {model: fixed, costs: {train_step: 0.01}, default: 0.001}
    backend: inprocess                    # or ray
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testbed.compression import CompressionSpec, parse_compression
from testbed.core.errors import ConfigError
from testbed.core.fields import (
    checked_bool,
    checked_name,
    checked_number,
    checked_path_component,
    checked_quantity,
    without_nulls,
)
from testbed.core.units import exact_quantity, parse_nbytes, parse_seconds
from testbed.data.dataset import FileFingerprint
from testbed.exec.spec import ExecutorsSpec, check_batch, parse_executors
from testbed.experiment.workload import (
    check_partition,
    dataset_fingerprint,
    dataset_yaml,
    model_yaml,
    parse_dataset,
    parse_model,
)
from testbed.methods.api import Algorithm
from testbed.methods.common.training import Training
from testbed.sim.codec import check_codec_costs
from testbed.sim.compute import COMPUTE_MODELS, ComputeSpec
from testbed.topology.file_refs import with_absolute_paths
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology, read_yaml

EXPERIMENT_KEYS = {
    "name", "description", "topology", "dataset", "partition", "model", "algorithm", "training",
    "max_iterations", "max_virtual_time", "max_bytes", "eval_every", "eval_samples", "seed", "compute",
    "backend", "executors", "network", "data_dir",
}
TRAINING_KEYS = {"batch_size", "lr_g", "lr_d", "beta1", "beta2", "r1_gamma", "lr_final_fraction", "update_order",
                 "fused_adam", "deterministic"}
COMPUTE_KEYS = {"model", "costs", "default", "repeats", "scale"}
NETWORK_KEYS = {"tcp", "tcp_window", "header_nbytes", "compression", "rate_window"}
BACKENDS = ("inprocess", "ray")


@dataclass(frozen=True)
class ExperimentSpec:
    """A fully resolved experiment (see the module docstring for the YAML)."""

    name: str
    topology: Topology
    topology_ref: Any
    dataset: str
    dataset_n: int | None
    partition: str
    model: str
    model_overrides: dict[str, Any]
    algorithm: str
    algorithm_params: Any
    training: Training = field(default_factory=Training)
    max_iterations: int | None = None
    max_virtual_time_s: float | None = None
    max_bytes: float | None = None
    eval_every: int = 50
    eval_samples: int = 2000
    seed: int = 0
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    backend: str = "inprocess"
    executors: ExecutorsSpec = field(default_factory=ExecutorsSpec)
    tcp: bool = False
    tcp_window_nbytes: float | None = None
    """None unless ``tcp`` is on (a window without TCP would do nothing, so it is refused)."""
    header_nbytes: int = 64
    rate_window_s: float = 1.0
    """The window of the WAN bandwidth series (testbed.sim.rate_meter): peak = most bits in one window."""
    compression: CompressionSpec = field(default_factory=CompressionSpec)
    data_dir: str | None = None
    source: str = "<dict>"
    dataset_file: FileFingerprint | None = None
    """A file data set's size and SHA-256 when the experiment was parsed: what config.yaml records and
    every node checks the bytes it reads against."""

    def resolved(self) -> dict[str, Any]:
        """The spec as plain YAML-able data (what ``config.yaml`` holds)."""
        params = self.algorithm_params
        algo = {"name": self.algorithm, **(dataclasses.asdict(params) if dataclasses.is_dataclass(params) else {})}
        return {
            "name": self.name, "topology": self.topology_ref,
            "dataset": dataset_yaml(self.dataset, self.dataset_n, self.dataset_file),
            "partition": self.partition, "model": model_yaml(self.model, self.model_overrides),
            "algorithm": algo, "training": dataclasses.asdict(self.training),
            "max_iterations": self.max_iterations, "max_virtual_time": exact_quantity(self.max_virtual_time_s, "s"),
            "max_bytes": exact_quantity(self.max_bytes, "B"), "eval_every": self.eval_every,
            "eval_samples": self.eval_samples,
            "seed": self.seed, "compute": self.compute.to_dict(), "backend": self.backend,
            "executors": self.executors.to_dict(),
            "network": {"tcp": self.tcp, "tcp_window": exact_quantity(self.tcp_window_nbytes, "B"),
                        "header_nbytes": self.header_nbytes,
                        "rate_window": exact_quantity(self.rate_window_s, "s"),
                        "compression": self.compression.to_dict()},
            "data_dir": self.data_dir,
        }


def load_experiment(source: str | Path | dict[str, Any], base_dir: str | Path | None = None) -> ExperimentSpec:
    """Parse an experiment YAML file (or dict) into an :class:`ExperimentSpec`."""
    if isinstance(source, dict):
        return parse_experiment(source, "<dict>", Path(base_dir or "."))
    return parse_experiment(read_yaml(source), str(source), Path(source).parent)


def _fail(src: str, fieldname: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(src, fieldname, problem, fix)


def _check_keys(mapping: dict[str, Any], allowed: set[str], src: str, prefix: str) -> None:
    """ConfigError naming ``prefix.key`` for the first key of ``mapping`` not in ``allowed``."""
    for key in mapping:
        if key not in allowed:
            raise _fail(src, f"{prefix}.{key}" if prefix else str(key), "unknown key",
                        f"remove it or use one of {sorted(allowed)}")


def parse_experiment(data: dict[str, Any], src: str, base_dir: Path) -> ExperimentSpec:
    """Validate a parsed experiment mapping; see :func:`load_experiment`."""
    from testbed.experiment.inert import check_settings_act
    from testbed.methods import algorithm_class, parse_params

    data = without_nulls(data)  # an explicit null is the documented default, in every block below
    _check_keys(data, EXPERIMENT_KEYS, src, "")
    for required in ("topology", "dataset", "algorithm"):
        if required not in data:
            raise _fail(src, required, "missing", f"every experiment needs a {required}")
    topology, topology_ref = _topology(data["topology"], src, base_dir)
    dataset, dataset_n = parse_dataset(data["dataset"], src, base_dir)
    model_name, model_overrides = parse_model(data.get("model"), dataset, src, base_dir)
    algo_name, algo_raw = _named_dict(data["algorithm"], src, "algorithm")
    try:
        cls = algorithm_class(algo_name)
    except KeyError as err:
        raise _fail(src, "algorithm.name", str(err.args[0]), "pick a registered algorithm") from None
    params = parse_params(cls, algo_raw, src, topology)
    training = _update_order(_training(without_nulls(data.get("training", {})), src), cls, src)
    compute = _compute(without_nulls(data.get("compute", {"model": "calibrated"})), src)
    _check_costs(compute, cls, src)
    backend = data.get("backend", "inprocess")
    if backend not in BACKENDS:
        raise _fail(src, "backend", f"unknown backend {backend!r}", f"use one of {list(BACKENDS)}")
    network = without_nulls(data.get("network", {}))
    if not isinstance(network, dict):
        raise _fail(src, "network", f"expected a mapping, got {network!r}", "write network: {tcp: true}")
    _check_keys(network, NETWORK_KEYS, src, "network")
    for key in ("data_dir", "partition"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise _fail(src, key, f"expected text, got {data[key]!r}",
                        "write a directory path" if key == "data_dir" else "write e.g. iid or dirichlet(0.1)")
    stops = {key: data.get(key) for key in ("max_iterations", "max_virtual_time", "max_bytes")}
    if all(v is None for v in stops.values()):
        raise _fail(src, "max_iterations", "no stop condition", "set max_iterations, max_virtual_time or max_bytes")
    tcp = checked_bool(network.get("tcp", False), src, "network.tcp")
    if "tcp_window" in network and not tcp:
        raise _fail(src, "network.tcp_window", "does nothing without network.tcp: true", "set tcp: true or remove it")
    name = data.get("name", Path(src).stem if src != "<dict>" else f"{algo_name}-{dataset}")
    spec = ExperimentSpec(
        name=checked_path_component(name, src, "name"),
        topology=topology, topology_ref=topology_ref, dataset=dataset, dataset_n=dataset_n,
        partition=str(data.get("partition", "iid")), model=model_name, model_overrides=model_overrides,
        algorithm=algo_name, algorithm_params=params, training=training,
        max_iterations=_int(stops["max_iterations"], src, "max_iterations", minimum=1),
        max_virtual_time_s=_quantity(stops["max_virtual_time"], src, "max_virtual_time", parse_seconds, "s", True),
        max_bytes=_quantity(stops["max_bytes"], src, "max_bytes", parse_nbytes, "B", True),
        eval_every=_int(data.get("eval_every", 50), src, "eval_every", minimum=1),
        eval_samples=_int(data.get("eval_samples", 2000), src, "eval_samples", minimum=10, maximum=100_000),
        seed=_int(data.get("seed", 0), src, "seed", minimum=0, maximum=2**32 - 1),
        compute=compute, backend=backend, executors=parse_executors(data.get("executors"), src),
        tcp=tcp, tcp_window_nbytes=_quantity(network.get("tcp_window", "4MiB"), src, "network.tcp_window",
                                             parse_nbytes, "B", True) if tcp else None,
        header_nbytes=_int(network.get("header_nbytes", 64), src, "network.header_nbytes", maximum=2**20),
        rate_window_s=_rate_window(network.get("rate_window", "1s"), src),
        compression=parse_compression(network.get("compression"), src, cls.compressible_kinds, algo_name,
                                      cls.gradient_kinds, cls.tagged_gradient_kinds),
        data_dir=data.get("data_dir"), source=src, dataset_file=dataset_fingerprint(dataset),
    )
    check_partition(spec.topology, spec.partition, spec.dataset, spec.seed, src)
    check_settings_act(src, dataset=spec.dataset, data_dir=spec.data_dir, dataset_n=spec.dataset_n,
                       workers=len(spec.topology.nodes), lr_final_fraction=spec.training.lr_final_fraction,
                       max_iterations=spec.max_iterations)
    _check_population(spec, cls.supports_population, src)
    check_batch(spec.executors, spec.backend, spec.compute.model, src)
    check_codec_costs(spec.compute, spec.compression, src)
    return spec


def _check_population(spec: ExperimentSpec, supported: bool, src: str) -> None:
    """A client population (``workers: {count: N}``) needs a method that builds clients on demand, in process."""
    populations = [dc for dc in spec.topology.datacenters if dc.population is not None]
    if not populations:
        return
    where = f"datacenter {populations[0].name} has workers: {{count: {len(populations[0].workers)}}}"
    if not supported:
        from testbed.methods import algorithm_class, algorithm_names

        able = " | ".join(n for n in algorithm_names() if algorithm_class(n).supports_population)
        raise _fail(src, "algorithm.name", f"{spec.algorithm} keeps a state per worker and cannot run on a client "
                    f"population ({where})", f"use {able}, or list the workers (workers: N)")
    if spec.backend == "ray" and spec.executors.kind != "in_task":
        raise _fail(src, "executors", f"a client population is built on demand in the run's own process ({where})",
                    "use backend: inprocess, or executors: {placement: in_task} on Ray")


def _topology(ref: Any, src: str, base_dir: Path) -> tuple[Topology, Any]:
    if isinstance(ref, dict):
        ref = with_absolute_paths(ref, base_dir)  # config.yaml then finds a trace from anywhere
        try:
            return load_topology(ref), ref
        except ConfigError as err:  # an inline topology: name this file, not "<dict>"
            raise _fail(src, f"topology.{err.field}", err.problem, err.fix) from None
    if not isinstance(ref, str):
        raise _fail(src, "topology", "expected a file path or an inline mapping", "write topology: topologies/x.yaml")
    path = topology_file(ref, base_dir)
    if path is None:
        raise _fail(src, "topology", f"topology file {ref!r} not found",
                    "give a path relative to the experiment or cwd")
    return load_topology(path), str(path)


def topology_file(ref: str, base_dir: Path) -> Path | None:
    """Where a topology named by path lives: beside the experiment file, from the working directory, or beside
    the experiment's folder -- the one search rule for a run and for a replay that must inline it."""
    for candidate in (base_dir / ref, Path(ref), base_dir.parent / ref):
        if candidate.is_file():
            return candidate
    return None


def _named_dict(value: Any, src: str, fieldname: str) -> tuple[str, dict[str, Any]]:
    if isinstance(value, dict) and "name" in value:
        rest = without_nulls(value)
        return checked_name(rest.pop("name", None), src, f"{fieldname}.name"), rest
    if isinstance(value, (dict, list)):
        raise _fail(src, fieldname, f"expected a name or {{name: .., ...}}, got {value!r}",
                    f"write {fieldname}: {{name: ..}}")
    return checked_name(value, src, fieldname), {}


TRAINING_RANGES: dict[str, tuple[type, float, float, str]] = {
    # field: (type, low, high, interval kind: "[]" closed, "(]" open low, "[)" open high)
    "batch_size": (int, 1, 65536, "[]"),
    "lr_g": (float, 0, 10, "(]"),
    "lr_d": (float, 0, 10, "(]"),
    "beta1": (float, 0, 1, "[)"),
    "beta2": (float, 0, 1, "[)"),
    "r1_gamma": (float, 0, 1e6, "[]"),
    "lr_final_fraction": (float, 0, 1, "(]"),
}
"""Every numeric training field, its type and its range (checked at parse time, before torch sees it)."""


def _training(value: Any, src: str) -> Training:
    if not isinstance(value, dict):
        raise _fail(src, "training", "expected a mapping", f"use keys {sorted(TRAINING_KEYS)}")
    _check_keys(value, TRAINING_KEYS, src, "training")
    for key, what in (("fused_adam", "torch's fused Adam kernel"), ("deterministic", "deterministic algorithms")):
        if key in value:
            checked_bool(value[key], src, f"training.{key}", f"write {key}: true ({what}) or leave it out")
    return Training(**{key: checked_number(raw, src, f"training.{key}", *TRAINING_RANGES[key])
                          if key in TRAINING_RANGES else raw for key, raw in value.items()})


def _update_order(training: Training, cls: Any, src: str) -> Training:
    """Resolve ``training.update_order`` to the method's native order, or check the method offers it."""
    offered = cls.update_orders
    if training.update_order is None:
        return dataclasses.replace(training, update_order=offered[0])
    if training.update_order not in offered:
        raise _fail(src, "training.update_order", f"{cls.name} does not offer {training.update_order!r} updates",
                    f"use {' or '.join(offered)} (or leave it out for {offered[0]})")
    return training


def _compute(value: Any, src: str) -> ComputeSpec:
    if isinstance(value, str):
        value = {"model": value}
    if not isinstance(value, dict):
        raise _fail(src, "compute", "expected a mapping", "write compute: {model: calibrated}")
    _check_keys(value, COMPUTE_KEYS, src, "compute")
    model = value.get("model", "calibrated")
    if model not in COMPUTE_MODELS:
        raise _fail(src, "compute.model", f"unknown compute model {model!r}", f"use one of {COMPUTE_MODELS.names()}")
    costs = {}
    for kind, cost in without_nulls(value.get("costs") or {}).items():
        costs[str(kind)] = _quantity(cost, src, f"compute.costs.{kind}", parse_seconds, "s")
    default = value.get("default")
    if model == "fixed" and not costs and default is None:
        raise _fail(src, "compute.costs", "the fixed model needs costs", "give costs: {train_step: 10ms} or default")
    default_s = _quantity(default, src, "compute.default", parse_seconds, "s")
    repeats = _int(value.get("repeats", 3), src, "compute.repeats", minimum=1)
    scale = checked_number(value.get("scale", 1.0), src, "compute.scale", float, 0, 1e6, "(]")
    return ComputeSpec(model=model, costs_s=tuple(costs.items()), default_s=default_s, repeats=repeats,
                       scale=float(scale))


def _check_costs(compute: ComputeSpec, cls: type[Algorithm], src: str) -> None:
    """A fixed cost table without a default must price every task kind the method charges (not mid-run)."""
    if compute.model != "fixed" or compute.default_s is not None:
        return
    missing = [kind for kind in cls.task_kinds if kind not in dict(compute.costs_s)]
    if missing:
        raise _fail(src, "compute.costs", f"no cost for {', '.join(missing)} ({cls.name} charges "
                    f"{', '.join(cls.task_kinds)})", f"add {missing[0]}: 1ms (and the others), or set compute.default")


def _int(value: Any, src: str, fieldname: str, minimum: int = 0, maximum: int = 10**9) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _fail(src, fieldname, f"expected an integer in [{minimum}, {maximum:,}], got {value!r}",
                    f"give a whole number between {minimum} and {maximum:,}")
    return value


def _rate_window(value: Any, src: str) -> float:
    """``network.rate_window``: a time of at least 1 ms (the meter's work grows as duration / window)."""
    seconds = _quantity(value, src, "network.rate_window", parse_seconds, "s", True)
    if seconds is None or seconds < 1e-3:
        raise _fail(src, "network.rate_window", f"{value!r} is shorter than 1 ms", "give e.g. 1s or 100ms")
    return float(seconds)


def _quantity(value: Any, src: str, fieldname: str, parse: Any, unit: str, positive: bool = False) -> float | None:
    """None stays None; anything else is a quantity with its unit (testbed.core.fields.checked_quantity)."""
    return None if value is None else checked_quantity(value, src, fieldname, parse, unit, positive=positive)


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text for a resolved spec (stable key order)."""
    return yaml.safe_dump(data, sort_keys=False)
