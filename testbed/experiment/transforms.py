"""Suite-level transformations: grid keys that rewrite a cell's experiment dict.

Some sweep axes are not experiment fields but edits of one -- ``bandwidth_scale``
multiplies the bandwidth of every WAN link (profile steps included) of the cell's
topology.  They are applied to the plain topology *dict* before the experiment is
parsed, so the network model knows nothing of suites and the run's ``config.yaml``
holds the scaled topology it really ran on.  Adding one is adding an entry to
:data:`TRANSFORMS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number
from testbed.core.units import UnitError, parse_bandwidth_bps

SCALE_RANGE = (1e-6, 1e6)
"""``bandwidth_scale``'s range: a millionth of a 1 Gbps link is 1 kbps; beyond, bandwidths (and the virtual
times they give) leave what the network model resolves (``1e400`` was read as infinity and blamed the topology)."""

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


def scale_wan_bandwidth(experiment: dict[str, Any], scale: Any, src: str) -> dict[str, Any]:
    """Multiply every WAN link's bandwidth (and its profile steps') by ``scale``; LANs are untouched."""
    checked_number(scale, src, "bandwidth_scale", float, *SCALE_RANGE)
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


TRANSFORMS: dict[str, Transform] = {"bandwidth_scale": scale_wan_bandwidth}
"""Suite-only keys (usable in ``grid:``, ``cells:`` and at the suite's top level) and what they do."""
