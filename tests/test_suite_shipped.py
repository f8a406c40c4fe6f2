"""The shipped suites parse (every cell validated) and sweep what their names promise."""

from __future__ import annotations

import pytest

from testbed.methods import ALGORITHMS, algorithm_class
from testbed.suite import load_suite


def test_quickstart_covers_the_registered_methods_on_wan_3dc_links_with_two_seeds() -> None:
    suite = load_suite("experiments/quickstart.yaml")
    assert {c.spec.algorithm for c in suite.cells} == {"local", "centralized", "ps", "fedavg", "mdgan", "gaia", "sqm"}
    assert {c.spec.topology.name for c in suite.cells} == {"wan-3dc-lite"}
    assert {c.spec.dataset for c in suite.cells} == {"ring8"}
    seeds: dict[str, set[int]] = {}
    for cell in suite.cells:
        seeds.setdefault(cell.spec.algorithm, set()).add(cell.spec.seed)
    assert all(len(s) >= 2 for s in seeds.values())
    # every method trains 1,500 local steps per worker (FedAvg: 94 rounds of 16 steps)
    assert {c.spec.max_iterations for c in suite.cells if c.spec.algorithm != "fedavg"} == {1500}


def test_bandwidth_sweep_spans_10mbps_to_10gbps() -> None:
    suite = load_suite("experiments/bandwidth-sweep.yaml")
    fastest = {c.axes["bandwidth_scale"]: max(link.bandwidth_ab_bps for link in c.spec.topology.links)
               for c in suite.cells}
    assert fastest == {0.02: 10e6, 0.2: 100e6, 2: 1e9, 20: 10e9}


def test_non_iid_partitions() -> None:
    suite = load_suite("experiments/non-iid.yaml")
    assert {c.spec.partition for c in suite.cells} == {"iid", "dirichlet(0.1)", "by_datacenter"}


def test_mdgan_paper_sweeps_workers() -> None:
    algorithm_class("ps")  # loads the registry
    if "mdgan" not in ALGORITHMS:
        pytest.skip("mdgan is not registered yet")
    suite = load_suite("experiments/mdgan-paper.yaml")
    workers = {(c.spec.algorithm, len(c.spec.topology.nodes)) for c in suite.cells}
    assert workers == {(a, n) for a in ("mdgan", "fedavg") for n in (1, 10, 25, 50)}
