"""Faults a suite must survive without Ray: a second suite on the same --out, a dead --address, retries.

* two suites on one results directory: the second refuses in one line naming the first's pid and host,
  and a lock left by a SIGKILLed suite is taken over;
* ``--address`` pointing at a cluster that is gone fails in one line within seconds (never a hang);
* ``--retries N`` re-runs a cell that died of infrastructure, never one whose experiment is wrong.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from testbed.cli import main
from testbed.core.errors import ConfigError
from testbed.suite import backends as suite_backends
from testbed.suite import parse_suite, run_suite
from testbed.suite.lock import LOCK_NAME, SuiteLock
from testbed.suite.options import BackendOptions


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_second_suite_on_the_same_out_refuses_naming_the_first(tmp_path: Path, experiment,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    suite = {"name": "shared", "base": experiment("local", max_iterations=100_000, eval_every=10**6),
             "grid": {"seed": [0, 1]}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = tmp_path / "results"
    first = subprocess.Popen([sys.executable, "-m", "testbed", "run", str(path), "--backend", "inprocess",
                              "--out", str(out), "--quiet", "--no-plots"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = out / "shared" / LOCK_NAME
        deadline = time.monotonic() + 120
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists(), "the first suite never took its lock"
        for extra in ([], ["--resume"], ["--overwrite"]):
            code = main(["run", str(path), "--backend", "inprocess", "--out", str(out), *extra])
            line = _one_line(capsys)
            assert code == 2 and f"pid {first.pid} on {socket.gethostname()}" in line, line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    # the SIGKILLed suite's lock is stale (same host, no such pid): the next suite takes it over
    assert lock.exists()
    with SuiteLock(out / "shared", "x.yaml") as taken:
        assert json.loads(lock.read_text())["pid"] == os.getpid() and taken.held
    assert not lock.exists()


def test_lock_from_another_host_is_never_second_guessed(tmp_path: Path) -> None:
    root = tmp_path / "suite"
    root.mkdir()
    (root / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": "then"}))
    with pytest.raises(ConfigError, match=r"pid 1 on elsewhere\.example"):
        SuiteLock(root, "x.yaml").acquire()


@pytest.mark.parametrize("address", ["closed-port", "auto-with-stale-cluster-file"])
def test_dead_address_fails_fast_in_one_line(tmp_path: Path, experiment, address: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if address == "closed-port":
        flag = f"127.0.0.1:{port}"
    else:
        ray_tmp = tmp_path / "raytmp"
        (ray_tmp / "ray").mkdir(parents=True)
        (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
        monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))
        flag = "auto"
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": experiment("local"), "grid": {"seed": [0]}}))
    start = time.monotonic()
    code = main(["run", str(path), "--address", flag, "--out", str(tmp_path / "results")])
    elapsed = time.monotonic() - start
    line = _one_line(capsys)
    assert code == 2 and "--address" in line and elapsed < 60, (line, elapsed)
    assert not (tmp_path / "results").exists(), "a suite that never started leaves nothing behind"


class _FlakyBackend:
    """Cell ``seed=0`` dies of infrastructure on its first try; ``broken`` always fails as a config error."""

    submitted: ClassVar[list[str]] = []

    def __init__(self, options: BackendOptions) -> None:
        self.capacity = 1
        self._done: list[tuple[str, dict[str, Any]]] = []

    def submit(self, cell: Any, run_dir: Path) -> None:
        tries = _FlakyBackend.submitted.count(cell.id)
        _FlakyBackend.submitted.append(cell.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        if cell.id == "broken":
            summary = {"status": "failed", "error": "ConfigError: bad partition", "infrastructure": False}
        elif cell.id == "seed=0" and tries == 0:
            summary = {"status": "failed", "error": "ActorDiedError: the actor died", "infrastructure": True}
        else:
            summary = {"run_id": cell.id, "status": "complete", "iterations": 3, "virtual_time_s": 1.0,
                       "wall_time_s": 1.0, "wan_bytes": 0, "egress_usd": 0.0, "final_quality": {}}
        (run_dir / "summary.json").write_text(json.dumps(summary))
        self._done.append((cell.id, summary))

    def wait(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        done, self._done = self._done, []
        return done

    def shutdown(self, cancel: bool) -> None:
        pass


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_rerun_infrastructure_failures_only(tmp_path: Path, experiment, retries: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suite_backends.BACKENDS, "flaky", _FlakyBackend)
    _FlakyBackend.submitted = []
    suite = parse_suite({"name": "r", "base": experiment("local"), "grid": {"seed": [0, 1]},
                         "cells": {"broken": {"seed": 7}}}, "r.yaml", Path("."))
    outcome = run_suite(suite, tmp_path, backend="flaky", quiet=True, retries=retries)
    assert _FlakyBackend.submitted.count("broken") == 1, "a configuration error is never retried"
    if retries:
        assert _FlakyBackend.submitted.count("seed=0") == 2
        assert (outcome.complete, outcome.failed) == (2, 1)
    else:
        assert _FlakyBackend.submitted.count("seed=0") == 1
        assert (outcome.complete, outcome.failed) == (1, 2)
        summary = json.loads((tmp_path / "r" / "seed=0" / "summary.json").read_text())
        assert summary["status"] == "failed" and summary["infrastructure"] is True
    assert not (tmp_path / "r" / LOCK_NAME).exists(), "the lock is released when the suite ends"
