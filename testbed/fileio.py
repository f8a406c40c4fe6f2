"""Atomic file writes: results are never half-written, whatever kills the process.

Suites are killed (Ctrl-C, SIGKILL, a lost node) and resumed; a reader must see
either the old file or the new one.  Write to a temporary name in the same
directory, fsync, then ``os.replace`` -- atomic on POSIX.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then atomically rename ``tmp_path`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path``'s contents with ``text``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))
