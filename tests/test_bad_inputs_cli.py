"""Every bad command line and every broken results directory is one line: non-zero exit, no traceback,
the flag or file named, nothing written (the YAML half of the table is ``test_bad_inputs.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_inputs_common import EXPERIMENT, _check_one_line, _dump, workdir
from test_bad_inputs import EXPERIMENT_CASES, SUITE_CASES
from test_bad_replay_inputs import REPLAY_CASES
from test_bad_topology_inputs import RAW_TOPOLOGIES, TOPOLOGY_CASES

__all__ = ["workdir"]  # the fixture, shared

# -- command lines (good files in place): (case id, argv builder, text the line must hold) ----------------
def _file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("not a directory\n")
    return path


def _notes(tmp: Path) -> Path:
    path = tmp / "notes"
    path.mkdir()
    (path / "ideas.txt").write_text("no runs here\n")
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
    ("import-trace-missing-file", lambda t: ["data", "import-trace", "--fedscale", str(t / "nope.pkl"), "--out",
                                             str(t / "x.csv")], "nope.pkl"),
    ("import-trace-not-a-trace", lambda t: ["data", "import-trace", "--fedscale", "topo.yaml", "--out",
                                            str(t / "x.csv")], "--fedscale"),
    ("import-trace-bare-horizon", lambda t: ["data", "import-trace", "--fedscale", "topo.yaml", "--out",
                                             str(t / "x.csv"), "--horizon", "5"], "--horizon"),
    ("import-trace-without-out", lambda t: ["data", "import-trace", "--fedscale", "topo.yaml"], "--out"),
    ("report-missing-dir", lambda t: ["report", str(t / "nowhere")], "nowhere"),
    ("report-not-results", lambda t: ["report", str(_notes(t))], "holds no run directory"),
    ("report-results-is-a-file", lambda t: ["report", str(_file(t))], "is a file"),
    ("report-out-under-file", lambda t: ["report", str(t), "--out", str(_file(t) / "pages")], "a-file"),
    ("report-out-read-only-fs", lambda t: ["report", str(t), "--out", "/proc/testbed-report"], "/proc"),
    ("report-without-dir", lambda t: ["report"], "results_dir"),
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
    ("data-status-missing-file", lambda t: ["data", "status", "missing.yaml"], "missing.yaml"),
    ("data-status-not-an-experiment", lambda t: ["data", "status", "topo.yaml"], "topo.yaml"),
    # 3. every setting acts or is refused; 5. every numeric flag has a safe range
    ("data-status-dir-missing", lambda t: ["data", "status", "--data-dir", str(t / "nowhere")], "--data-dir"),
    ("data-dir-for-generated-data", lambda t: ["run", "exp.yaml", "--data-dir", str(t), "--dry-run"], "--data-dir"),
    ("suite-data-dir-for-generated-data", lambda t: ["run", "suite.yaml", "--data-dir", str(t), "--dry-run"],
     "--data-dir"),
    ("sample-n-billion", lambda t: ["sample", str(_generator_run(t)), "--n", "1000000000", "--out", "x.npy"], "--n"),
    ("sample-n-zero", lambda t: ["sample", str(_generator_run(t)), "--n", "0", "--out", "x.npy"], "--n"),
    ("sample-seed-huge", lambda t: ["sample", str(_generator_run(t)), "--seed", str(2**77), "--out", "x.npy"],
     "--seed"),
    ("sample-seed-negative", lambda t: ["sample", str(_generator_run(t)), "--seed", "-1", "--out", "x.npy"],
     "--seed"),
]


def _generator_run(t: Path, edit: Callable[[dict], None] | None = None) -> Path:
    """A run directory holding only a generator.pt (a tiny mlp2d) as a run saves it, then ``edit``-ed."""
    import torch

    from testbed.experiment.generator_file import save_generators
    from testbed.models import build_models, model_config

    run = t / "gen-run"
    run.mkdir(exist_ok=True)
    generator, _ = build_models(model_config("mlp2d", hidden=8, depth=2), (2,), 0)
    save_generators(run / "generator.pt", {"ps": generator.state_dict()}, model="mlp2d",
                    model_overrides={"hidden": 8, "depth": 2}, dataset="ring8", sample_shape=(2,), seed=0, eval_seed=1)
    if edit is not None:
        payload = torch.load(run / "generator.pt", weights_only=True)
        edit(payload)
        torch.save(payload, run / "generator.pt")
    return run


def _nan_weight(payload: dict) -> None:
    first = next(iter(payload["generators"]["ps"]))
    payload["generators"]["ps"][first][0] = float("nan")


# 2. finite or stopped (a diverged generator is refused); 6. a generator.pt of the wrong shape
SAMPLE_CASES: list[tuple[str, Callable[[dict], None], str]] = [
    ("nan-weights", _nan_weight, "NaN or infinite"),
    ("inf-weights", lambda p: p["generators"]["ps"][next(iter(p["generators"]["ps"]))].fill_(float("inf")),
     "NaN or infinite"),
    ("no-generators", lambda p: p.update(generators={}), "generators: is empty"),
    ("generators-a-string", lambda p: p.update(generators="G"), "generators"),
    ("recipe-does-not-fit", lambda p: p.update(model_overrides={"hidden": 32, "depth": 2}), "does not fit"),
    ("unknown-model", lambda p: p.update(model="resnet"), "model"),
    ("shape-text", lambda p: p.update(sample_shape=["two"]), "sample_shape"),
    ("seed-missing", lambda p: p.pop("seed"), "seed"),
    ("overrides-a-list", lambda p: p.update(model_overrides=[8]), "model_overrides"),
]


# -- results directories that are broken: (case id, builder of the directory, text the line must hold) -----
SUMMARY = {"run_id": "run1", "status": "complete", "algorithm": "ps", "iterations": 1, "virtual_time_s": 0.5,
           "wan_bytes": 10, "final_quality": {"modes_covered": 0.5}, "headline_metric": "modes_covered",
           "higher_is_better": True}


def _complete_run(root: Path, name: str = "run1") -> Path:
    """A run directory of every file's right shape (test_fake_complete_run_loads): each case breaks one file."""
    run = root / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": name}))
    (run / "config.yaml").write_text(_dump(EXPERIMENT))
    (run / "metrics.csv").write_text("iteration,virtual_time_s,total_bytes,wan_bytes,modes_covered\n0,0.0,0,0,0.1\n"
                                     "1,0.5,20,10,0.5\n")
    (run / "nodes.csv").write_text("node,compute_s,communication_s,waiting_s\na/w0,1.0,0.1,0.2\n")
    (run / "links.csv").write_text("link,a,b,scope,bytes_ab,bytes_ba\na<->b,a,b,wan,5,5\n")
    (run / "traffic.csv").write_text("kind,scope,src_dc,dst_dc,nbytes,payload_nbytes,egress_usd\n"
                                     "grads,wan,a,b,10,2,0.0\n")
    return run


def _broken(name: str, text: str | None = None, data: object = None) -> Callable[[Path], Path]:
    """A builder: a complete run whose file ``name`` holds ``text`` (or ``data`` as JSON, or a parquet frame)."""
    def build(t: Path) -> Path:
        run = _complete_run(t / "results")
        if name.endswith(".parquet"):
            import pandas as pd

            pd.DataFrame(data).to_parquet(run / name)
        else:
            (run / name).write_text(text if text is not None else json.dumps(data))
        return t / "results"
    return build


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

# 6. readers validate shape: files that parse, but are not what the testbed wrote
SHAPE_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("summary-a-list", _broken("summary.json", data=[1, 2]), "holds a list"),
    ("summary-a-string", _broken("summary.json", data="complete"), "holds a str"),
    ("summary-text-for-a-number", _broken("summary.json", data={**SUMMARY, "wan_bytes": "lots"}), "wan_bytes"),
    ("summary-bool-for-a-number", _broken("summary.json", data={**SUMMARY, "iterations": True}), "iterations"),
    ("summary-quality-a-list", _broken("summary.json", data={**SUMMARY, "final_quality": [0.5]}), "final_quality"),
    ("summary-quality-text", _broken("summary.json", data={**SUMMARY, "final_quality": {"fid": "low"}}),
     "final_quality.fid"),
    ("summary-status-a-number", _broken("summary.json", data={**SUMMARY, "status": 1}), "status"),
    ("metrics-header-only", _broken("metrics.csv", "iteration,virtual_time_s,total_bytes,wan_bytes\n"), "no rows"),
    ("metrics-text-for-numbers", _broken("metrics.csv", "iteration,virtual_time_s,total_bytes,wan_bytes\n"
                                                        "0,soon,0,0\n"), "virtual_time_s"),
    ("metrics-quality-text", _broken("metrics.csv", "iteration,virtual_time_s,total_bytes,wan_bytes,fid\n"
                                                    "0,0,0,0,low\n"), "fid"),
    ("metrics-no-iteration", _broken("metrics.csv", "step,virtual_time_s,total_bytes,wan_bytes\n0,0,0,0\n"),
     "iteration"),
    ("nodes-no-compute", _broken("nodes.csv", "node,waiting_s\na/w0,1\n"), "compute_s"),
    ("nodes-header-only", _broken("nodes.csv", "node,compute_s,communication_s,waiting_s\n"), "no rows"),
    ("links-text-bytes", _broken("links.csv", "a,b,scope,bytes_ab,bytes_ba\na,b,wan,many,5\n"), "bytes_ab"),
    ("traffic-csv-no-scope", _broken("traffic.csv", "kind,nbytes\ngrads,5\n"), "scope"),
    ("parquet-other-schema", _broken("traffic.parquet", data={"a": [1]}), "kind"),
    ("parquet-text-bytes", _broken("traffic.parquet", data={"kind": ["g"], "scope": ["wan"], "src_dc": ["a"],
                                                          "dst_dc": ["b"], "nbytes": ["ten"], "payload_nbytes": [1],
                                                          "egress_usd": [0.0]}), "nbytes"),
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




@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_command_line(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = build(workdir)
    _check_one_line(argv, expected, workdir, capsys)


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CASES], ids=[c[0] for c in RESULTS_CASES])
def test_bad_results_directory(workdir: Path, build: Callable[[Path], Path], expected: str, command: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    root = build(workdir)
    _check_one_line([command, str(root), "--out", str(workdir / "out")], expected, workdir, capsys)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CLI_CASES],
                         ids=[c[0] for c in RESULTS_CLI_CASES])
def test_suite_refuses_its_results_directory(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(build(workdir), expected, workdir, capsys)


def test_fake_complete_run_loads(tmp_path: Path) -> None:
    """The shape cases break one file each of a run that is otherwise whole."""
    from analysis import load_results

    results = load_results(_complete_run(tmp_path / "results").parent)
    assert list(results.runs["status"]) == ["complete"] and len(results.metrics) == 2 and len(results.traffic) == 1


@pytest.mark.parametrize(("edit", "expected"), [c[1:] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES])
def test_sample_refuses_a_bad_generator(workdir: Path, edit: Callable[[dict], None], expected: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = _generator_run(workdir, edit)
    _check_one_line(["sample", str(run), "--n", "10", "--out", str(workdir / "x.npy")], expected, workdir, capsys)


def test_sample_of_a_good_generator_works(workdir: Path) -> None:
    from testbed.cli import main

    assert main(["sample", str(_generator_run(workdir)), "--n", "10", "--out", str(workdir / "x.npy")]) == 0


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES])
def test_results_of_the_wrong_shape(workdir: Path, build: Callable[[Path], Path], expected: str, command: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = build(workdir)
    _check_one_line([command, str(root), "--out", str(workdir / "out")], expected, workdir, capsys)


def test_there_are_at_least_a_hundred_cases() -> None:
    total = (len(TOPOLOGY_CASES) + len(RAW_TOPOLOGIES) + len(EXPERIMENT_CASES) + len(SUITE_CASES)
             + len(CLI_CASES) + 2 * len(RESULTS_CASES) + len(RESULTS_CLI_CASES) + len(REPLAY_CASES))
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
