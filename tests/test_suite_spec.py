"""Suite YAML: grid expansion, cell ids, index columns, bandwidth_scale, and one-line errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.core.errors import ConfigError
from testbed.suite import load_suite, parse_suite
from testbed.suite.index import write_index


def _suite(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_grid_expands_to_named_cells_with_axis_columns(experiment) -> None:
    data = {"name": "s", "base": experiment("local"),
            "grid": {"algorithm": ["local", {"name": "ps", "consistency": "eventual"}],
                     "training.batch_size": [8, 16]},
            "cells": {"special": {"algorithm": {"name": "fedavg", "local_epochs": 2}, "max_iterations": 5}},
            "repeat": 2}
    suite = parse_suite(data, "s.yaml", Path("."))
    ids = [c.id for c in suite.cells]
    assert ids == ["local_batch_size=8_seed=0", "local_batch_size=8_seed=1", "local_batch_size=16_seed=0",
                   "local_batch_size=16_seed=1", "ps_batch_size=8_seed=0", "ps_batch_size=8_seed=1",
                   "ps_batch_size=16_seed=0", "ps_batch_size=16_seed=1", "special_seed=0", "special_seed=1"]
    assert suite.columns == ("algorithm.name", "algorithm.consistency", "algorithm.local_epochs",
                             "training.batch_size", "seed", "max_iterations")
    ps = suite.cells[7]
    assert ps.spec.algorithm == "ps" and ps.spec.algorithm_params.consistency == "eventual"
    assert ps.spec.training.batch_size == 16 and ps.spec.seed == 1 and ps.spec.name == ps.id
    assert ps.axes == {"algorithm.name": "ps", "algorithm.consistency": "eventual", "algorithm.local_epochs": "",
                       "training.batch_size": 16, "seed": 1, "max_iterations": 3}
    special = suite.cells[-1]
    assert special.spec.algorithm_params.local_epochs == 2 and special.spec.seed == 1
    assert special.spec.max_iterations == 5 and special.axes["max_iterations"] == 5
    assert special.axes["algorithm.name"] == "fedavg" and special.axes["training.batch_size"] == 16


def test_labelled_axis_and_dotted_key_into_a_named_field(experiment) -> None:
    data = {"base": experiment("ps"), "grid": {"algorithm.consistency": {"bsp": "sequential", "async": "eventual"}}}
    suite = parse_suite(data, "x.yaml", Path("."))
    assert [c.id for c in suite.cells] == ["bsp", "async"]
    assert [c.spec.algorithm_params.consistency for c in suite.cells] == ["sequential", "eventual"]
    assert suite.name == "x" and suite.columns == ("algorithm.consistency",)


def test_bandwidth_scale_multiplies_every_wan_link_not_the_lan(experiment) -> None:
    topo = experiment("local")["topology"]  # a-b link 100 Mbps, LAN 100 Gbps
    topo["links"][0]["profile"] = [["10s", "40Mbps"], {"at": "20s", "bandwidth": ["10Mbps", "30Mbps"]}]
    data = {"base": experiment("local", topology=topo), "grid": {"bandwidth_scale": [0.5, 20]}}
    suite = parse_suite(data, "x.yaml", Path("."))
    assert [c.id for c in suite.cells] == ["bandwidth_scale=0.5", "bandwidth_scale=20"]
    half, twenty = (c.spec.topology for c in suite.cells)
    assert half.links[0].bandwidth_ab_bps == 50e6 and twenty.links[0].bandwidth_ba_bps == 2e9
    assert [s.bandwidth_ab_bps for s in half.links[0].profile] == [20e6, 5e6]
    assert half.links[0].profile[1].bandwidth_ba_bps == 15e6
    assert half.datacenters[0].lan.up_bps == twenty.datacenters[0].lan.down_bps == 100e9
    assert suite.cells[0].axes == {"bandwidth_scale": 0.5}
    assert topo["links"][0]["bandwidth"] == "100Mbps"  # the base is not modified


def test_topology_file_is_inlined_and_scaled(tmp_path: Path, experiment) -> None:
    base = experiment("local", topology="topologies/wan-3dc.yaml")
    suite = parse_suite({"base": base, "bandwidth_scale": 0.1}, "x.yaml", Path("experiments"))
    (cell,) = suite.cells
    assert cell.id == "base" and isinstance(cell.experiment["topology"], dict)
    assert sorted(link.bandwidth_ab_bps for link in cell.spec.topology.links) == [20e6, 25e6, 50e6]


def test_index_has_contract_columns_and_pending_rows(tmp_path: Path, experiment) -> None:
    suite = parse_suite({"name": "s", "base": experiment("local"), "grid": {"seed": [0, 1]}}, "s.yaml", Path("."))
    write_index(suite, tmp_path)
    lines = (tmp_path / "index.csv").read_text().splitlines()
    assert lines[0] == ("cell,run_dir,status,seed,iterations,virtual_time_s,wall_time_s,total_bytes,wan_bytes,"
                        "lan_bytes,egress_usd,headline_metric,headline_value,error,replayed_from")
    assert lines[1].startswith("seed=0,seed=0,pending,0,")


@pytest.mark.parametrize(("change", "field"), [
    ({"grid": {"algorithm.nme": ["ps"], "learning_rate": [1]}}, "grid.learning_rate"),
    ({"grid": {"seed": []}}, "grid.seed: empty axis"),
    ({"grid": {"seed": 3}}, "grid.seed: expected a list"),
    ({"grid": {"topology": ["topologies/nowhere.yaml"]}}, "topology file 'topologies/nowhere.yaml' not found"),
    ({"grid": {"algorithm": [{"name": "ps", "bogus": 1}]}}, "[cell ps]: algorithm.bogus: unknown parameter"),
    ({"grid": {"bandwidth_scale": [-1]}}, "bandwidth_scale: -1 is outside"),
    ({"grid": {"seed": [1]}, "repeats": 2}, "repeats: unknown suite key"),
    ({"grid": {"seed": [1, 2]}, "repeat": 2}, "repeat: the grid already sweeps seed"),
])
def test_bad_suite_is_one_line_exit_2(tmp_path: Path, experiment, change: dict, field: str) -> None:
    data = {"name": "bad", "base": experiment("local"), **change}
    with pytest.raises(ConfigError, match=None) as err:
        load_suite(_suite(tmp_path, data))
    assert field in str(err.value)


def test_cli_bad_suite_exit_2(tmp_path: Path, experiment) -> None:
    path = _suite(tmp_path, {"base": experiment("local"), "grid": {"topology": ["no/such.yaml"]}})
    result = subprocess.run([sys.executable, "-m", "testbed", "run", str(path), "--backend", "inprocess"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "topology" in result.stderr and "not found" in result.stderr
