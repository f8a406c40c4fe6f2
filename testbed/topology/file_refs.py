"""A topology's references to other files, made absolute so an inlined copy still finds them.

Why: a topology names files relative to itself (an availability ``trace``, a link background's ``load_csv``
or ``replay``).  Once its mapping is inlined -- in a suite cell, in a run's ``config.yaml`` -- it no longer
knows where it came from, so the paths are resolved against the file's directory first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any


def with_absolute_paths(data: Any, base_dir: str | Path) -> Any:
    """A copy of the topology mapping ``data`` whose relative file names (availability ``trace``, a link's
    background ``load_csv`` / ``replay``) start from ``base_dir`` made absolute: an inlined topology (a suite
    cell, ``config.yaml``) then still finds them."""
    if not isinstance(data, dict) or not isinstance(data.get("datacenters"), dict):
        return data
    out = copy.deepcopy(data)
    for spec in out["datacenters"].values():
        if not isinstance(spec, dict):
            continue
        holders = [spec] + [w for w in spec.get("workers") or [] if isinstance(w, dict)] \
            if isinstance(spec.get("workers"), list) else [spec]
        for holder in holders:
            _absolute(holder.get("availability"), "trace", base_dir)
    for link in out.get("links") or []:
        background = link.get("background") if isinstance(link, dict) else None
        for source in background if isinstance(background, list) else [background]:
            for key in ("load_csv", "replay"):
                _absolute(source, key, base_dir)
    return out


def _absolute(mapping: Any, key: str, base_dir: str | Path) -> None:
    """Make ``mapping[key]``, a relative file name, absolute from ``base_dir`` (in place)."""
    if isinstance(mapping, dict) and isinstance(mapping.get(key), str) and not Path(mapping[key]).is_absolute():
        mapping[key] = str((Path(base_dir) / mapping[key]).resolve())
