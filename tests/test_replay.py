"""``python -m testbed replay``: a finished run re-costed equals a full run of the new setting.

For every timing-independent method (tiny topologies, fixed costs, three iterations): the replay on the
run's own network reproduces its traffic log exactly; the replay on a second topology (other latencies
and bandwidths, jitter, a bandwidth profile, an outage, a slower LAN) equals a full run there -- every
message's send and arrival time to 1e-9 relative, the same bytes, the same metrics and the same trained
generator; ``--compute-scale 10`` equals a full run with ten times the fixed costs.  A timing-dependent
run is refused in one line, and ``--approximate`` marks what it writes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import SerialSuiteBackend, tiny_experiment, tiny_topology

from testbed.cli import main
from testbed.core.units import parse_seconds
from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import parse_experiment

INDEPENDENT = [
    pytest.param("ps", id="ps"),  # exact since BSP averages its pushes in worker order
    pytest.param({"name": "fedsgd", "client_fraction": 0.5}, id="fedsgd"),
    pytest.param({"name": "fedavg", "client_fraction": 0.5}, id="fedavg"),
    pytest.param("mdgan", id="mdgan"),
    pytest.param("sqm", id="sqm"),
    pytest.param("local", id="local"),
    pytest.param("centralized", id="centralized"),
    pytest.param({"name": "gossip", "every": 2}, id="gossip"),
    pytest.param({"name": "hierfavg", "edge_every": 2, "cloud_every": 2}, id="hierfavg"),
    pytest.param({"name": "streaming_diloco", "inner_steps": 2, "fragments": 2, "overlap": 1}, id="streaming_diloco"),
]
OWN_PACE = ("local", "gossip", "streaming_diloco")
"""Methods whose evaluation sees each worker after the steps it has taken by then: replayed onto other worker
speeds they diverge (and say so: the divergence test); here the second topology keeps the speeds."""
CUT_BY_COMPUTE = ("streaming_diloco",)
"""Methods whose evaluation reads a server between its replicas' steps: ten times the compute moves an outer step
across an evaluation, so that replay diverges from the full run -- and is refused, which is what is checked."""
BOOKKEEPING_ONLY_HERE = ("wall_time_s",)
"""Metrics columns that are wall-clock readings: never equal between two runs."""


def second_topology(speeds: bool = True) -> dict[str, Any]:
    """The same workers on another network: slower, farther, jittery, with a profile step and an outage -- and
    (``speeds``) datacenter a's workers so slow that b's pushes and replies arrive first."""
    topology = tiny_topology(wan_bandwidth="30Mbps", latency="45ms", speeds={"a": [0.05, 0.06]} if speeds else None)
    topology["name"] = "elsewhere"
    link = topology["links"][0]
    link.update({"jitter": "3ms", "profile": [["0s", "30Mbps"], ["0.3s", "8Mbps"]], "outages": [["0.15s", "0.2s"]],
                 "egress_usd_per_gb": 0.09})
    topology["lan"] = {"bandwidth": "2Gbps", "latency": "0.4ms"}
    return topology


def experiment(algorithm: Any) -> dict[str, Any]:
    exp = tiny_experiment(algorithm, max_iterations=3, eval_every=2, eval_samples=100)
    exp["compute"]["default"] = "2ms"  # MD-GAN's and SQM's task kinds
    return exp


def train(exp: dict[str, Any], out: Path) -> Path:
    return run_experiment(parse_experiment(exp, "test", Path(".")), out, progress=False)


def replay(run_dir: Path, out: Path, *flags: str) -> Path:
    assert main(["replay", str(run_dir), "--out", str(out), *flags]) == 0
    return out


def traffic(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "traffic.parquet")


def assert_same_run(replayed: Path, full: Path) -> None:
    """Every message (send and arrival time to 1e-9 relative, bytes, route), every metric, the generator."""
    a, b = traffic(replayed), traffic(full)
    assert len(a) == len(b)
    for column in ("seq", "kind", "src", "dst", "nbytes", "payload_nbytes", "path", "scope"):
        assert a[column].tolist() == b[column].tolist(), column
    for column in ("t_send_s", "t_arrive_s", "egress_usd"):
        np.testing.assert_allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=1e-9, atol=0)
    ma, mb = (pd.read_csv(d / "metrics.csv").drop(columns=list(BOOKKEEPING_ONLY_HERE)) for d in (replayed, full))
    pd.testing.assert_frame_equal(ma, mb, rtol=1e-9, atol=0)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (replayed, full))
    for key in ("iterations", "total_bytes", "wan_bytes", "lan_bytes", "messages", "stop_reason", "final_quality",
                "bytes_by_kind"):
        assert sa[key] == sb[key], key
    assert sa["virtual_time_s"] == pytest.approx(sb["virtual_time_s"], rel=1e-9)
    ga, gb = (torch.load(d / "generator.pt", weights_only=True)["generators"] for d in (replayed, full))
    assert ga.keys() == gb.keys()
    for label in ga:
        for name, tensor in ga[label].items():
            assert torch.equal(tensor, gb[label][name]), f"{label}.{name}"
    assert sa["replay"]["exact"] and not sa["approximate"]


@pytest.mark.parametrize("algorithm", INDEPENDENT)
def test_replay_equals_a_full_run(algorithm: Any, tmp_path: Path) -> None:
    exp = experiment(algorithm)
    source = train(exp, tmp_path / "run")
    same = replay(source, tmp_path / "same")
    assert_same_run(same, source)
    assert traffic(same).equals(traffic(source))  # its own network: the log to the bit

    elsewhere = copy.deepcopy(exp)
    name = algorithm if isinstance(algorithm, str) else algorithm["name"]
    elsewhere["topology"] = second_topology(speeds=name not in OWN_PACE)
    (tmp_path / "elsewhere.yaml").write_text(yaml.safe_dump(elsewhere["topology"]))
    moved = replay(source, tmp_path / "moved", "--topology", str(tmp_path / "elsewhere.yaml"))
    assert_same_run(moved, train(elsewhere, tmp_path / "full-elsewhere"))

    slower = copy.deepcopy(exp)
    slower["compute"] = {"model": "fixed", "costs": {k: f"{10 * parse_seconds(v)!r}s" for k, v in
                                                     exp["compute"]["costs"].items()},
                         "default": f"{10 * parse_seconds(exp['compute']['default'])!r}s"}
    if name in CUT_BY_COMPUTE:
        assert main(["replay", str(source), "--out", str(tmp_path / "scaled"), "--compute-scale", "10"]) == 2
        assert not (tmp_path / "scaled").exists()
        return
    scaled = replay(source, tmp_path / "scaled", "--compute-scale", "10")
    assert_same_run(scaled, train(slower, tmp_path / "full-slower"))


def test_scales_and_the_written_config_rerun_to_the_replay(tmp_path: Path) -> None:
    """Bandwidth and latency scales, calibrated costs pinned: the replay's config.yaml, run in full, is the replay."""
    exp = experiment("ps")
    exp["compute"] = {"model": "calibrated", "costs": {"server_update": "1ms"}, "repeats": 1}
    source = train(exp, tmp_path / "run")
    replayed = replay(source, tmp_path / "r", "--bandwidth-scale", "0.05", "--latency-scale", "4")
    config = yaml.safe_load((replayed / "config.yaml").read_text())
    assert config["compute"]["model"] == "fixed" and config["topology"]["links"][0]["latency"] == "0.04s"
    assert_same_run(replayed, train(config, tmp_path / "full"))
    recorded = json.loads((source / "summary.json").read_text())
    summary = json.loads((replayed / "summary.json").read_text())
    assert summary["replayed_from"] == str(source)
    assert summary["replay"]["changes"] == {"bandwidth_scale": 0.05, "latency_scale": 4.0}
    assert summary["virtual_time_s"] > recorded["virtual_time_s"]


def _one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_a_timing_dependent_run_is_refused_in_one_line_and_approximate_marks_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = train(experiment({"name": "ps", "consistency": "eventual"}), tmp_path / "run")
    line = _one_line(["replay", str(source), "--out", str(tmp_path / "r"), "--latency-scale", "2"], capsys)
    assert "applies each push as it arrives" in line and "--approximate" in line
    assert not (tmp_path / "r").exists()
    replayed = replay(source, tmp_path / "r", "--latency-scale", "2", "--approximate")
    summary = json.loads((replayed / "summary.json").read_text())
    assert summary["approximate"] is True and summary["replay"]["exact"] is False
    assert not (replayed / "generator.pt").exists()  # not the generator the new setting would train
    from testbed.report import write_report

    page = write_report(replayed, tmp_path / "page").read_text()
    assert "approximate replay" in page


def test_fedbuff_is_refused_as_asynchronous(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = train(experiment({"name": "fedbuff", "concurrency": 3, "buffer": 2}), tmp_path / "run")
    line = _one_line(["replay", str(source), "--out", str(tmp_path / "r")], capsys)
    assert "fedbuff is asynchronous" in line and "--approximate" in line


def busy_topology() -> dict[str, Any]:
    """tiny's network with cross-traffic on its WAN link: a 40 Mbps stream one way, Poisson transfers both ways."""
    topology = tiny_topology()
    topology["name"] = "busy"
    topology["links"][0]["background"] = [{"rate": "40Mbps", "from": "a"},
                                          {"poisson": {"flows_per_s": 40, "mean_size": "100KB"}}]
    return topology


def test_cross_traffic_is_part_of_the_network_a_replay_runs_on(tmp_path: Path) -> None:
    """Background flows are seeded by the run's seed and topology, not by its messages: a replay onto a topology
    with cross-traffic equals a full run there (with its offered and carried background), and a busy run
    replayed on its own topology gives its traffic log to the bit."""
    exp = experiment("ps")
    source = train(exp, tmp_path / "run")
    busy = copy.deepcopy(exp)
    busy["topology"] = busy_topology()
    (tmp_path / "busy.yaml").write_text(yaml.safe_dump(busy["topology"]))
    moved = replay(source, tmp_path / "moved", "--topology", str(tmp_path / "busy.yaml"))
    full = train(busy, tmp_path / "full-busy")
    assert_same_run(moved, full)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (moved, full))
    assert sa["background"] == sb["background"] and sa["background"]["a->b"]["carried_nbytes"] > 0
    assert sa["wan_bandwidth"] == sb["wan_bandwidth"]
    assert (moved / "background_rate.csv").read_text() == (full / "background_rate.csv").read_text()
    again = replay(full, tmp_path / "again")
    assert traffic(again).equals(traffic(full))
    assert sb["virtual_time_s"] > json.loads((source / "summary.json").read_text())["virtual_time_s"]


def test_a_scaled_replay_of_a_topology_file_finds_its_background_load(tmp_path: Path) -> None:
    """A run that named its topology by path, with a background load_csv relative to that file: a scaled replay
    reads the file in (to scale its links) with the load's path made absolute from the topology's folder."""
    folder = tmp_path / "topologies"
    folder.mkdir()
    (folder / "load.csv").write_text("t_s,rate_bps\n0,20000000\n0.05,60000000\n")
    topology = tiny_topology()
    topology["links"][0]["background"] = {"load_csv": "load.csv"}
    (folder / "busy.yaml").write_text(yaml.safe_dump(topology))
    exp = experiment("ps")
    exp["topology"] = str(folder / "busy.yaml")
    source = train(exp, tmp_path / "run")
    scaled = replay(source, tmp_path / "scaled", "--bandwidth-scale", "0.5")
    summary = json.loads((scaled / "summary.json").read_text())
    assert summary["replay"]["exact"] and summary["background"]["a->b"]["offered_nbytes"] > 0


def test_a_replay_that_leaves_the_recorded_path_is_refused(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """local on sites of other speeds: each evaluation would see the sites after other numbers of steps."""
    exp = experiment("local")
    source = train(exp, tmp_path / "run")
    uneven = tiny_topology(speeds={"a": [1.0, 0.25]})
    (tmp_path / "uneven.yaml").write_text(yaml.safe_dump(uneven))
    line = _one_line(["replay", str(source), "--out", str(tmp_path / "r"), "--topology",
                      str(tmp_path / "uneven.yaml")], capsys)
    assert "diverged" in line and "computations" in line
    assert not (tmp_path / "r").exists()


def test_a_replay_suite_gives_the_index_of_the_same_suite_trained_cell_by_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from testbed.suite import backends, parse_suite, run_suite
    from testbed.suite.index import INDEX_NAME

    monkeypatch.setitem(backends.BACKENDS, "here", SerialSuiteBackend)
    data = {"name": "s", "base": experiment("fedavg"), "grid": {"bandwidth_scale": [1, 0.2], "compute_scale": [1, 3]},
            "cells": {"async": {"algorithm": {"name": "ps", "consistency": "eventual"}, "bandwidth_scale": 0.2}}}
    indexes = {}
    for replay in (False, True):
        suite = parse_suite({**data, "replay": replay}, "s.yaml", Path("."))
        run_suite(suite, tmp_path / str(replay), backend="here", quiet=True)
        indexes[replay] = pd.read_csv(tmp_path / str(replay) / "s" / INDEX_NAME)
    trained, replayed = indexes[False], indexes[True]
    assert replayed["replayed_from"].fillna("").tolist() == ["", "bandwidth_scale=1_compute_scale=1", *[
        "bandwidth_scale=1_compute_scale=1"] * 2, ""]  # the async cell is timing-dependent: trained
    assert trained["replayed_from"].isna().all()
    columns = [c for c in trained.columns if c not in ("wall_time_s", "replayed_from")]
    pd.testing.assert_frame_equal(replayed[columns], trained[columns], rtol=1e-9, atol=0)

    root = tmp_path / "True" / "s"
    gone = replayed["cell"][2]
    import shutil

    shutil.rmtree(root / gone)  # killed mid-replay: resume replays it again from its complete source
    suite = parse_suite({**data, "replay": True}, "s.yaml", Path("."))
    outcome = run_suite(suite, tmp_path / "True", backend="here", quiet=True, resume=True)
    assert (outcome.skipped, outcome.complete) == (4, 1)
    again = pd.read_csv(root / INDEX_NAME)
    pd.testing.assert_frame_equal(again[columns], trained[columns], rtol=1e-9, atol=0)
    assert again["replayed_from"][2] == "bandwidth_scale=1_compute_scale=1"


@pytest.mark.parametrize("algorithm", [pytest.param("mdgan", id="mdgan"),
                                       pytest.param({"name": "ps", "consistency": "bounded_delay"}, id="ps-ssp")])
def test_the_dry_run_is_a_replay_and_agrees_with_the_run(algorithm: Any, tmp_path: Path) -> None:
    """Past its 16-iteration probe the estimate replays the whole run: a timing-dependent method's bytes and
    times too (only its quality would not transfer), equal to the full run and to ``replay`` of it."""
    from testbed.suite.estimate import PROBE_ITERATIONS, estimate_cell
    from testbed.suite.spec import Cell

    exp = {**experiment(algorithm), "max_iterations": PROBE_ITERATIONS + 4}
    spec = parse_experiment(exp, "test", Path("."))
    estimate = estimate_cell(Cell(id="c", experiment=exp, axes={}, spec=spec))
    run = json.loads((train(exp, tmp_path / "run") / "summary.json").read_text())
    assert estimate["bound"] == "" and estimate["iterations"] == run["iterations"]
    assert (estimate["est_bytes"], estimate["est_wan_bytes"]) == (run["total_bytes"], run["wan_bytes"])
    assert estimate["est_virtual_s"] == pytest.approx(run["virtual_time_s"], rel=1e-9)
    assert estimate["est_egress_usd"] == pytest.approx(run["egress_usd"], rel=1e-9)
    replayed = json.loads((replay(tmp_path / "run", tmp_path / "r", "--approximate") / "summary.json").read_text())
    assert (replayed["total_bytes"], replayed["virtual_time_s"]) == (run["total_bytes"], run["virtual_time_s"])


def test_the_dry_run_says_where_no_replay_can_be_built() -> None:
    from testbed.suite.estimate import estimate_cell
    from testbed.suite.spec import Cell

    exp = experiment({"name": "gaia", "threshold": 0.05})
    estimate = estimate_cell(Cell(id="g", experiment=exp, axes={}, spec=parse_experiment(exp, "test", Path("."))))
    assert not estimate["replayed"] and "bytes depend on the values" in estimate["bound"]


def test_a_compressed_run_replays_exactly_with_its_codec_time(tmp_path: Path) -> None:
    """Encode and decode are compute tasks (issue 22): a replay re-prices them on the new setting -- top-k with
    error feedback on G's gradients and stochastic 8-bit quantisation on D's, onto another network and at 10x
    compute, each equal to a full run there."""
    exp = experiment("ps")
    exp["network"] = {"compression": {"grads_g": {"topk": 0.1}, "grads_d": {"quantize": 8}}}
    exp["compute"]["costs"].update({"encode": "3ms", "decode": "1ms"})
    source = train(exp, tmp_path / "run")
    elsewhere = copy.deepcopy(exp)
    elsewhere["topology"] = second_topology()
    (tmp_path / "elsewhere.yaml").write_text(yaml.safe_dump(elsewhere["topology"]))
    moved = replay(source, tmp_path / "moved", "--topology", str(tmp_path / "elsewhere.yaml"))
    assert_same_run(moved, train(elsewhere, tmp_path / "full-elsewhere"))
    slower = copy.deepcopy(exp)
    slower["compute"]["costs"] = {k: f"{10 * parse_seconds(v)!r}s" for k, v in exp["compute"]["costs"].items()}
    slower["compute"]["default"] = f"{10 * parse_seconds(exp['compute']['default'])!r}s"
    scaled = replay(source, tmp_path / "scaled", "--compute-scale", "10")
    assert_same_run(scaled, train(slower, tmp_path / "full-slower"))
    assert json.loads((scaled / "summary.json").read_text())["virtual_time_s"] > \
        json.loads((source / "summary.json").read_text())["virtual_time_s"]


def test_a_run_that_named_its_topology_by_path_replays_with_scales(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """config.yaml keeps a topology file's path; the scales need its links, so the replay reads the file in (from
    any working directory) and equals a full run with the scaled links written out."""
    from testbed.experiment.transforms import TRANSFORMS

    (tmp_path / "net.yaml").write_text(yaml.safe_dump(tiny_topology()))
    exp = experiment("ps")
    exp["topology"] = str(tmp_path / "net.yaml")
    source = train(exp, tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    moved = replay(source, tmp_path / "moved", "--bandwidth-scale", "0.25", "--latency-scale", "3")
    full = {**copy.deepcopy(exp), "topology": tiny_topology()}
    full = TRANSFORMS["latency_scale"](TRANSFORMS["bandwidth_scale"](full, 0.25, "t"), 3, "t")
    assert_same_run(moved, train(full, tmp_path / "full"))
