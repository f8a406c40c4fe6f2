"""One suite at a time per results directory: ``results/<suite>/.lock``.

Two suites writing the same ``--out`` corrupt each other -- one wipes a cell the
other is writing, and the index mixes both.  A suite therefore creates
``.lock`` (``O_EXCL``: exactly one creator wins, also on NFS v3+) holding its pid,
host and start time, and removes it when it ends.  A second suite refuses in one
line naming the holder.  A lock left by a suite that was SIGKILLed is taken over
when its pid is provably gone (same host, no such process); a lock from another
host is never second-guessed -- the message says how to remove it by hand.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fileio import read_json_object

LOCK_NAME = ".lock"


class SuiteLock:
    """Hold ``root/.lock`` for a ``with`` block (see the module docstring)."""

    def __init__(self, root: Path, source: str) -> None:
        self.path = Path(root) / LOCK_NAME
        self.source = source
        self.held = False

    def __enter__(self) -> SuiteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise a one-line ConfigError naming who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = read_json_object(self.path)
                if holder is not None and _is_stale(holder):
                    self.path.unlink(missing_ok=True)  # its suite was killed: take over
                    continue
                if holder is None and time.time() - _mtime(self.path) < 5:
                    time.sleep(0.2)  # being written right now by its creator
                    continue
                raise self._busy(holder) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            self.held = True
            return
        raise self._busy(read_json_object(self.path))

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def _busy(self, holder: dict[str, Any] | None) -> ConfigError:
        who = (f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('since')})"
               if holder else "another suite")
        return ConfigError(self.source, "--out", f"{self.path.parent} is being written by {who}",
                           f"wait for it to finish or use another --out; if it is gone, delete {self.path}")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _is_stale(holder: dict[str, Any]) -> bool:
    """The holder ran on this host and its process no longer exists."""
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False
