"""Atomic file writes: results are never half-written, whatever kills the process.

Suites are killed (Ctrl-C, SIGKILL, a lost node) and resumed; a reader must see
either the old file or the new one.  Write to a temporary name in the same
directory, fsync, then ``os.replace`` -- atomic on POSIX.  ``mkstemp`` creates its
file with mode 0600; the result gets the mode any new file would (0666 less the
umask), so colleagues on a shared filesystem can read results as usual.
:func:`check_output_dir` turns "cannot write there" into one line *before* a run;
:func:`read_json_object` is the matching forgiving read (a missing or torn file is None).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError


def _umask() -> int:
    """This process's umask, without the race of ``os.umask`` where ``/proc`` tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """``path`` can be created (or is) a writable directory; otherwise one ConfigError line naming ``flag``."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError("command line", flag, f"{probe} is a file, not a directory",
                          f"pass a directory for {flag}" + (f" (not under {probe})" if probe != path else ""))
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError("command line", flag, f"{probe} is not writable (permission denied)",
                          f"pass a directory you can write for {flag}")
    try:  # root passes os.access everywhere; a read-only filesystem only shows when written
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        raise ConfigError("command line", flag, f"cannot write in {probe} ({err.strerror or err})",
                          f"pass a directory you can write for {flag}") from None
    return path


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
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path``'s contents with ``text``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_json_object(path: str | Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing, unreadable or not an object (callers that must
    report a bad file read it themselves)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
