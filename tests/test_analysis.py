"""The analysis package on real tiny results: loading, each figure's data and drawing, the table, the CLI.

One module-scoped fixture runs 12 tiny experiments (local / ps / fedavg x 2 seeds x a fast and a
slow WAN, a topology sweep) plus a failed cell, in a few seconds; every check compares against
numbers read straight from the run directories or worked out by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_experiment, tiny_topology
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage

from analysis import load_results, plot_all, summary_table
from analysis.quality_bytes import final_points, pareto_front
from analysis.registry import NotApplicable, all_figures
from analysis.samples import sample_choices
from analysis.table import to_latex, to_markdown
from analysis.time_breakdown import worker_breakdown
from analysis.topology_traffic import link_bytes
from analysis.wan_bytes import wan_bytes_by_kind
from testbed.cli import main
from testbed.core.errors import ConfigError
from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import load_experiment

METHODS = ("local", "ps", "fedavg")
TOPOLOGIES = {"fast": "100Mbps", "slow": "10Mbps"}
SEEDS = (0, 1)
SERIES = sorted(f"{m} · topology={t}" for m in METHODS for t in TOPOLOGIES)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    for method in METHODS:
        for topo_name, bandwidth in TOPOLOGIES.items():
            topology = {**tiny_topology(wan_bandwidth=bandwidth), "name": topo_name}
            for seed in SEEDS:
                spec = tiny_experiment({"name": method}, topology=topology, seed=seed, max_iterations=4,
                                       eval_every=2, name=f"{method}-{topo_name}-{seed}")
                run_experiment(load_experiment(spec), root / f"{method}-{topo_name}-s{seed}", progress=False)
    failed = root / "ps-fast-s2"  # what a suite leaves for a cell that raised
    failed.mkdir()
    config = (root / "ps-fast-s0" / "config.yaml").read_text().replace("seed: 0", "seed: 2")
    (failed / "config.yaml").write_text(config)
    (failed / "summary.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: out of memory"}))
    return root


@pytest.fixture(scope="module")
def results(results_dir: Path):
    return load_results(results_dir)


def _run_file(results_dir: Path, run: str, name: str) -> pd.DataFrame:
    return pd.read_csv(results_dir / run / name)


def test_load_labels_every_run_and_keeps_the_failed_one(results, results_dir: Path) -> None:
    assert len(results.runs) == 13
    assert results.sweep_axes == ("topology",) and results.method_axes == ()
    failed = results.runs[results.runs["status"] != "complete"]
    assert failed[["run", "method", "topology", "status", "error"]].values.tolist() == [
        ["ps-fast-s2", "ps", "fast", "failed", "RuntimeError: out of memory"]]
    assert sorted(results.complete["series"].unique()) == SERIES
    assert len(results.metrics) == 12 * 3  # evaluations at iterations 0, 2, 4
    assert set(results.metrics["run"]) == set(results.complete["run"])
    ps = results.runs.set_index("run").loc["ps-slow-s1"]
    summary = json.loads((results_dir / "ps-slow-s1" / "summary.json").read_text())
    assert ps["wan_bytes"] == summary["wan_bytes"] and ps["seed"] == 1 and ps["series"] == "ps · topology=slow"


def test_single_run_dir_loads(results_dir: Path) -> None:
    single = load_results(results_dir / "fedavg-slow-s0")
    assert single.runs["run"].tolist() == ["fedavg-slow-s0"] and single.sweep_axes == ()
    assert single.complete["series"].tolist() == ["fedavg"]


def test_empty_and_unfinished_dirs_are_one_config_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ConfigError, match="holds no run directory"):
        load_results(tmp_path)
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "RESULTS_DIR" in err
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "config.yaml").write_text("name: x\n")
    with pytest.raises(ConfigError, match=r"holds no complete run \(1 incomplete\)"):
        load_results(tmp_path)
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_complete_run_missing_its_metrics_is_named(results_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(results_dir / "ps-fast-s0", tmp_path / "ps")
    (tmp_path / "ps" / "metrics.csv").unlink()
    with pytest.raises(ConfigError, match=r"metrics\.csv: missing from a complete run"):
        load_results(tmp_path)


def test_quality_vs_time_plots_the_seed_mean_per_series(results, results_dir: Path) -> None:
    fig = all_figures()["quality_vs_time"].build(results)
    # one row per key metric of ring8, the headline (high-quality fraction) first
    assert [a.get_ylabel() for a in fig.axes] == ["high quality fraction (higher is better)",
                                                  "mode kl (lower is better)", "modes covered (higher is better)"]
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("virtual time (s")
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == [f"{s} (n=2)" for s in SERIES]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == len(SERIES)  # one band per series
    # fixed compute costs: both seeds evaluate at the same virtual times, so the line is the plain mean
    seeds = [_run_file(results_dir, f"ps-slow-s{s}", "metrics.csv") for s in SEEDS]
    ps_line = next(line for line in lines if line.get_label().startswith("ps · topology=slow"))
    np.testing.assert_allclose(ps_line.get_xdata(), seeds[0]["virtual_time_s"])
    np.testing.assert_allclose(ps_line.get_ydata(),
                               (seeds[0]["high_quality_fraction"] + seeds[1]["high_quality_fraction"]) / 2)


def test_pareto_front_by_hand() -> None:
    points = pd.DataFrame({"series": list("abcde"), "wan_bytes": [0, 100, 200, 300, 300],
                           "quality": [1.0, 3.0, 2.0, 5.0, 4.0]})
    assert pareto_front(points, higher_is_better=True)["series"].tolist() == ["a", "b", "d"]
    # lower is better (FID): a (0 B, 1.0) beats everything else
    assert pareto_front(points, higher_is_better=False)["series"].tolist() == ["a"]


def test_pareto_front_is_drawn_on_quality_reached() -> None:
    from analysis.quality_bytes import learned

    points = pd.DataFrame({"quality": [0.0, 0.5, 0.02, 300.0], "quality_std": [0.0, 0.1, 0.05, 1.0],
                           "initial": [0.0, 0.0, 0.0, 320.0]})
    # nothing learned; clearly learned; within its own seed spread; FID barely better (< 5 %)
    assert learned(points, higher_is_better=True).tolist() == [False, True, False, False]
    fid = pd.DataFrame({"quality": [30.0, 310.0], "quality_std": [2.0, 1.0], "initial": [320.0, 320.0]})
    assert learned(fid, higher_is_better=False).tolist() == [True, False]


def test_quality_vs_wan_bytes_draws_end_points_front_and_a_zero_tick(results) -> None:
    fig = all_figures()["quality_vs_wan_bytes"].build(results)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel().startswith("WAN bytes")
    labels = ax.get_legend_handles_labels()[1]
    ends = final_points(results, "ring8").set_index("series")
    expected = [f"{s} (n=2)" + ("" if ends.loc[s, "learned"] else ", learned nothing: off the front") for s in SERIES]
    assert sorted(labels) == sorted([*expected, "Pareto front (end points)"])
    fig.canvas.draw()
    assert ax.get_xticklabels()[0].get_text() == "0"  # local sends no WAN byte


def test_time_breakdown_is_the_mean_over_workers(results, results_dir: Path) -> None:
    table = worker_breakdown(results)
    per_seed = []
    for seed in SEEDS:
        nodes = _run_file(results_dir, f"ps-slow-s{seed}", "nodes.csv")
        per_seed.append(nodes[nodes["node"].str.contains("/w")][["compute_s", "communication_s", "waiting_s"]].mean())
    expected = (per_seed[0] + per_seed[1]) / 2
    np.testing.assert_allclose(table.loc["ps · topology=slow", expected.index], expected)
    assert table.loc["ps · topology=slow", "compute_s"] == pytest.approx(4 * 0.01)  # 4 grad steps of 0.01 s
    fig = all_figures()["time_breakdown"].build(results)
    seconds_ax, share_ax = fig.axes
    assert seconds_ax.get_xlabel().startswith("virtual seconds per worker")
    assert len(seconds_ax.patches) == 3 * len(SERIES) and len(share_ax.patches) == 3 * len(SERIES)
    assert [t.get_text() for t in seconds_ax.get_yticklabels()] == SERIES


def test_wan_bytes_by_kind_sums_to_the_runs_wan_bytes(results) -> None:
    table = wan_bytes_by_kind(results).reindex(SERIES, fill_value=0)
    expected = results.complete.groupby("series")["wan_bytes"].mean().reindex(SERIES)
    np.testing.assert_allclose(table.sum(axis=1), expected)
    assert table.loc["local · topology=fast"].sum() == 0
    assert {"params_g", "params_d", "grads_g", "grads_d"} <= set(table.columns)
    fig = all_figures()["wan_bytes"].build(results)
    bytes_ax, usd_ax = fig.axes
    assert len(bytes_ax.patches) == len(SERIES) * len(table.columns) and len(usd_ax.patches) == len(SERIES)
    assert usd_ax.get_xlabel().startswith("egress cost (USD")


def test_link_bytes_on_a_two_dc_line_equal_wan_bytes(results) -> None:
    # every WAN message of the tiny a--b topology crosses the one link exactly once
    per_series = link_bytes(results)
    for series, expected in results.complete.groupby("series")["wan_bytes"].mean().items():
        assert sum(per_series.get(series, {}).values()) == pytest.approx(expected)
    fig = all_figures()["topology_traffic"].build(results)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title().split(":")[0] for ax in panels] == SERIES


def test_samples_at_equal_virtual_time(results) -> None:
    common_s, chosen = sample_choices(results)
    first_seed = results.complete[results.complete["seed"] == 0]
    assert common_s == pytest.approx(first_seed["virtual_time_s"].min())  # local ends first
    assert len(chosen) == 2 * len(SERIES)
    equal = chosen[chosen["at"] == "equal time"]
    assert (equal["virtual_time_s"].astype(float) <= common_s + 1e-9).all()  # never a later evaluation
    fig = all_figures()["samples"].build(results)
    # the equal-time row appears only if every method had trained by then (no iteration-0 pictures)
    rows = 2 if (equal["iteration"].astype(int) > 0).all() else 1
    assert sum(isinstance(a, AxesImage) for ax in fig.axes for a in ax.images) == rows * len(SERIES)
    shown = [ax.get_title() for ax in fig.axes if ax.images]
    assert rows == 2 or not any(t.split("\n")[1].startswith("iteration 0,") for t in shown)


def test_sweep_over_topologies(results) -> None:
    fig = all_figures()["sweep"].build(results)
    quality_ax, time_ax = fig.axes
    assert [t.get_text() for t in quality_ax.get_xticklabels()] == ["fast", "slow"]
    assert time_ax.get_ylabel() == "virtual time to stop (s)"
    assert quality_ax.get_legend_handles_labels()[1] == [f"{m} (n=2)" for m in sorted(METHODS)]
    ps_time = {c.get_label(): c.lines[0] for c in time_ax.containers}["ps (n=2)"]
    expected = results.complete[results.complete["method"] == "ps"].groupby("topology")["virtual_time_s"].mean()
    np.testing.assert_allclose(np.asarray(ps_time.get_ydata(), dtype=float), expected[["fast", "slow"]])
    single = load_results(results.root / "ps-fast-s0")
    with pytest.raises(NotApplicable, match="no sweep axis"):
        all_figures()["sweep"].build(single)


def test_summary_table_rows_and_failed_cell(results) -> None:
    table = summary_table(results)
    assert len(table) == len(SERIES)
    row = table.set_index(["method", "topology"]).loc[("ps", "fast")]
    assert (row["runs"], row["failed"]) == (2, 1)
    times = results.complete.query("method == 'ps' and topology == 'fast'")["virtual_time_s"]
    assert row["virtual_time_s_mean"] == pytest.approx(times.mean())
    markdown = to_markdown(results, table)
    assert "| ps | fast | 2 ok, 1 FAILED |" in markdown
    assert "| ps-fast-s2 | ps | failed | RuntimeError: out of memory |" in markdown
    assert markdown.count("\n| ") == 1 + len(SERIES) + 1 + 1  # table header + rows, failed header + row
    assert "$\\pm$" in to_latex(results, table) and "\\toprule" in to_latex(results, table)


def test_suite_index_names_the_axes(results_dir: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    rows = []
    for method in ("ps", "fedavg"):
        for topo, scale in (("fast", 1.0), ("slow", 0.1)):
            cell = f"{method}-{topo}-s0"
            shutil.copytree(results_dir / cell, suite / cell)
            rows.append({"cell": cell, "run_dir": cell, "status": "complete", "algorithm.name": method, "seed": 0,
                         "bandwidth_scale": scale, "iterations": 4, "error": ""})
    rows.append({"cell": "ps-tiny-s0", "run_dir": "ps-tiny-s0", "status": "failed", "algorithm.name": "ps",
                 "seed": 0, "bandwidth_scale": 0.01, "iterations": 0, "error": "ValueError: bad"})
    pd.DataFrame(rows).to_csv(suite / "index.csv", index=False)
    loaded = load_results(suite)
    assert loaded.sweep_axes == ("bandwidth_scale",)
    assert loaded.runs.set_index("run").loc["ps-tiny-s0", ["status", "method", "error"]].tolist() == [
        "failed", "ps", "ValueError: bad"]
    table = summary_table(loaded)
    assert table[["method", "bandwidth_scale", "runs", "failed"]].values.tolist() == [
        ["fedavg", 0.1, 1, 0], ["fedavg", 1.0, 1, 0], ["ps", 0.01, 0, 1], ["ps", 0.1, 1, 0], ["ps", 1.0, 1, 0]]
    quality_ax, _ = all_figures()["sweep"].build(loaded).axes
    assert quality_ax.get_xlabel() == "bandwidth_scale" and quality_ax.get_xscale() == "linear"


def test_cli_writes_every_figure_and_table(results_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["plot", str(results_dir), "--out", str(tmp_path), "--pdf", "--latex",
                 "--only", "wan_bytes,sweep"]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["summary.csv", "summary.md", "summary.tex", "sweep.pdf", "sweep.png", "wan_bytes.pdf",
                       "wan_bytes.png"]
    assert "12 complete run(s) of 13" in capsys.readouterr().out
    report = plot_all(load_results(results_dir / "local-fast-s0"), tmp_path / "one", only=["sweep"])
    assert report.skipped == {"sweep": "no sweep axis (the runs differ only in method and seed)"}


def test_run_budgets_are_not_sweep_axes() -> None:
    import pandas as pd

    from analysis.axes import identify

    runs = pd.DataFrame({"algorithm.name": ["ps", "fedavg"], "algorithm": ["ps", "fedavg"],
                         "max_iterations": [600, 150], "eval_every": [200, 50], "seed": [0, 0],
                         "dataset": ["ring8", "ring8"]})
    ident = identify(runs, ["algorithm.name", "max_iterations", "eval_every", "seed"])
    assert ident.sweep_axes == ()
    assert list(ident.frame["series"]) == ["ps", "fedavg"]


def test_differences_beyond_the_seed_spread_by_hand() -> None:
    from types import SimpleNamespace

    from analysis.separation import separated_pairs
    from testbed.quality import key_metrics

    table = pd.DataFrame({"dataset": ["ring8"] * 3, "method": ["a", "b", "c"], "runs": [2, 2, 1],
                          "final_high_quality_fraction_mean": [0.6, 0.4, 0.9],
                          "final_high_quality_fraction_std": [0.05, 0.1, 0.0],
                          "final_mode_kl_mean": [0.1, 0.12, 0.0], "final_mode_kl_std": [0.05, 0.05, 0.0]})
    results = SimpleNamespace(group_columns=["dataset", "method"], key_metrics=key_metrics)  # as recorded
    pairs = separated_pairs(results, table)
    # a vs b: gap 0.2 > 0.15 on the fraction; gap 0.02 < 0.1 on the KL; c has one seed: never compared
    assert [(p["metric"], p["better"], p["worse"]) for p in pairs] == [("high_quality_fraction", "a", "b")]


def test_wide_virtual_times_get_symlog_ticks_at_zero_and_the_decades_above_the_linear_part() -> None:
    """A decade inside the linear part (0.1, first evaluation at 0.2 s) sat beside the 0 tick, labels overlapping."""
    from matplotlib.figure import Figure

    from analysis.quality_time import _log_x_if_wide

    rows = pd.DataFrame({"series": ["a"] * 3 + ["b"] * 3, "virtual_time_s": [0.0, 0.2, 3.0, 0.0, 50.0, 330.0]})
    ax = Figure().subplots()
    _log_x_if_wide(ax, rows)
    assert ax.get_xscale() == "symlog"
    assert list(ax.get_xticks()) == [0.0, 1.0, 10.0, 100.0]
