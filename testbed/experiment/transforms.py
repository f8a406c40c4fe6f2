"""Setting transforms: keys that rewrite an experiment dict's network or compute -- suite axes and replay flags.

Some sweep axes are not experiment fields but edits of one -- ``bandwidth_scale``
multiplies the bandwidth of every WAN link (profile steps included) of the cell's
topology, ``latency_scale`` every WAN link's latency (profile steps included; jitter
and LANs untouched), ``compute_scale`` every computation's duration (``compute.scale``).
They are applied to the plain experiment *dict* before it is parsed, so the network
model knows nothing of suites and the run's ``config.yaml`` holds the setting it
really ran on.  ``python -m testbed replay`` applies the same ones (``--bandwidth-scale``,
``--latency-scale``, ``--compute-scale``) to a finished run's setting.  Adding one is
adding an entry to :data:`TRANSFORMS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number
from testbed.core.units import UnitError, parse_bandwidth_bps, parse_seconds

SCALE_RANGE = (1e-6, 1e6)
"""Every scale's range.  ``bandwidth_scale``'s reason: a millionth of a 1 Gbps link is 1 kbps; beyond,
bandwidths (and the virtual times they give) leave what the network model resolves (``1e400`` was read as
infinity and blamed the topology)."""

Transform = Callable[[dict[str, Any], Any, str], dict[str, Any]]
"""``(experiment dict with an inline topology, value, source) -> new experiment dict``."""


def _scaled(value: Any, scale: float, src: str, fieldname: str) -> Any:
    """A link bandwidth (scalar, ``[fwd, rev]`` or ``{dc: bw}``) times ``scale``, written in bps."""
    if isinstance(value, list):
        return [_scaled(v, scale, src, f"{fieldname}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _scaled(v, scale, src, f"{fieldname}.{k}") for k, v in value.items()}
    try:
        return f"{parse_bandwidth_bps(value) * scale!r}bps"  # topologies need units
    except UnitError as err:
        raise ConfigError(src, fieldname, str(err), "write a bandwidth such as 200Mbps") from None


def _seconds_scaled(value: Any, scale: float, src: str, fieldname: str) -> Any:
    """A latency times ``scale``, written in seconds."""
    try:
        return f"{parse_seconds(value) * scale!r}s"
    except UnitError as err:
        raise ConfigError(src, fieldname, str(err), "write a time such as 20ms") from None


def _checked_scale(scale: Any, key: str, src: str) -> float:
    """A scale factor in :data:`SCALE_RANGE`, else one ConfigError line naming ``key``."""
    return float(checked_number(scale, src, key, float, *SCALE_RANGE))


def scale_wan_bandwidth(experiment: dict[str, Any], scale: Any, src: str) -> dict[str, Any]:
    """Multiply every WAN link's bandwidth (and its profile steps') by ``scale``; LANs are untouched."""
    scale = _checked_scale(scale, "bandwidth_scale", src)
    out = copy.deepcopy(experiment)
    topology = out["topology"]
    for i, link in enumerate(topology.get("links") or []):
        where = f"topology.links[{i}]"
        if isinstance(link, dict) and "bandwidth" in link:
            link["bandwidth"] = _scaled(link["bandwidth"], float(scale), src, f"{where}.bandwidth")
        for j, step in enumerate(link.get("profile") or [] if isinstance(link, dict) else []):
            if isinstance(step, list) and len(step) >= 2:
                step[1] = _scaled(step[1], float(scale), src, f"{where}.profile[{j}]")
            elif isinstance(step, dict) and step.get("bandwidth") is not None:
                step["bandwidth"] = _scaled(step["bandwidth"], float(scale), src, f"{where}.profile[{j}]")
    return out


def scale_wan_latency(experiment: dict[str, Any], scale: Any, src: str) -> dict[str, Any]:
    """Multiply every WAN link's latency (and its profile steps') by ``scale``; jitter and LANs are untouched."""
    scale = _checked_scale(scale, "latency_scale", src)
    out = copy.deepcopy(experiment)
    for i, link in enumerate(out["topology"].get("links") or []):
        where = f"topology.links[{i}]"
        if not isinstance(link, dict):
            continue
        if "latency" in link:
            link["latency"] = _seconds_scaled(link["latency"], scale, src, f"{where}.latency")
        for j, step in enumerate(link.get("profile") or []):
            if isinstance(step, list) and len(step) >= 3 and step[2] is not None:
                step[2] = _seconds_scaled(step[2], scale, src, f"{where}.profile[{j}]")
            elif isinstance(step, dict) and step.get("latency") is not None:
                step["latency"] = _seconds_scaled(step["latency"], scale, src, f"{where}.profile[{j}]")
    return out


def scale_compute(experiment: dict[str, Any], scale: Any, src: str) -> dict[str, Any]:
    """Multiply every computation's virtual duration by ``scale`` (``compute.scale``; calibrated costs too)."""
    scale = _checked_scale(scale, "compute_scale", src)
    out = copy.deepcopy(experiment)
    compute = out.get("compute", {"model": "calibrated"})
    compute = {"model": compute} if isinstance(compute, str) else dict(compute or {})
    before = compute.get("scale", 1.0)
    if isinstance(before, bool) or not isinstance(before, (int, float)):
        raise ConfigError(src, "compute.scale", f"expected a number, got {before!r}", "write compute: {scale: 2}")
    compute["scale"] = float(before) * scale
    out["compute"] = compute
    return out


TRANSFORMS: dict[str, Transform] = {"bandwidth_scale": scale_wan_bandwidth, "latency_scale": scale_wan_latency,
                                    "compute_scale": scale_compute}
"""Suite-only keys (usable in ``grid:``, ``cells:`` and at the suite's top level) and what they do."""
