"""Shared pieces of the benchmarks: machine facts, result files, process memory.

Benchmarks print their figures and also write ``benchmarks/results/<name>.json``
with the machine they ran on, so a table in benchmarks/README.md can always be
traced to a command, a commit and a machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def machine_facts() -> dict[str, Any]:
    """CPU count, load, Python/torch/numpy versions, platform, git commit."""
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform(),
            "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def save_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` (with machine facts) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine_facts(), **payload}, indent=2, default=float))
    return path


class PeakRss:
    """Samples, in a thread, the summed RSS of this process, its descendants and Ray's processes.

    Reads ``/proc`` directly (Linux), so the benchmarks need no extra package.
    """

    def __init__(self, interval_s: float = 0.2, include_ray: bool = True) -> None:
        self.interval_s = interval_s
        self.include_ray = include_ray
        """Also count every Ray process on the machine (a Ray run's actors are not this process's children);
        False for an in-process run, so other jobs' Ray processes are not counted."""
        self.peak_nbytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def total_nbytes(self) -> int:
        me = os.getpid()
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        ray_pids: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            pid = int(entry.name)
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            parents[pid] = int(fields.get("PPid", "0").strip() or 0)
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024 if "VmRSS" in fields else 0
            if "ray::" in cmd or "raylet" in cmd or "gcs_server" in cmd:
                ray_pids.add(pid)
        mine = {me}
        changed = True
        while changed:
            changed = False
            for pid, ppid in parents.items():
                if ppid in mine and pid not in mine:
                    mine.add(pid)
                    changed = True
        return sum(rss.get(pid, 0) for pid in (mine | ray_pids if self.include_ray else mine))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_nbytes = max(self.peak_nbytes, self.total_nbytes())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_nbytes = max(self.peak_nbytes, self.total_nbytes())
