"""The topology map draws one line and one label per WAN link, with the link's real figures.

Checked on the figure object (:func:`topology_figure`), not by eye: how many links were drawn,
what their labels say, what the colour encodes.
"""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from testbed.topology.drawing import draw_topology, topology_figure
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"


def load(name: str) -> Topology:
    return load_topology(TOPOLOGIES / f"{name}.yaml")


def drawn_links(fig: object) -> LineCollection | None:
    found = [c for c in fig.axes[0].collections if c.get_gid() == "wan-links"]
    assert len(found) <= 1
    return found[0] if found else None


def link_labels(fig: object) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "link-label"]


@pytest.mark.parametrize("name", ["lan-1dc", "wan-3dc", "geo-11", "edge-federated"])
def test_draw_topology_writes_a_png(tmp_path: Path, name: str) -> None:
    out = tmp_path / "maps" / f"{name}.png"
    draw_topology(load(name), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def test_wan_3dc_one_line_and_one_full_label_per_link() -> None:
    fig = topology_figure(load("wan-3dc"))
    assert fig.axes[0].get_title() == "wan-3dc"
    assert len(drawn_links(fig).get_segments()) == 3
    assert sorted(link_labels(fig)) == ["200 Mbps / 84.1 ms", "250 Mbps / 108 ms", "500 Mbps / 40.3 ms"]


def test_geo_11_draws_all_55_links_with_abbreviated_labels() -> None:
    topo = load("geo-11")
    fig = topology_figure(topo)
    assert len(drawn_links(fig).get_segments()) == 55
    labels = link_labels(fig)
    assert len(labels) == 55
    # abbreviated "Mbps/ms": california-oregon is 650 Mbps, 7.2 ms; virginia-ireland 525 Mbps, 40.3 ms.
    assert "650/7" in labels and "525/40" in labels
    expected = [f"{link.bandwidth_ab_bps / 1e6:g}/{link.latency_s * 1e3:.0f}" for link in topo.links]
    assert sorted(labels) == sorted(expected)


def test_link_shorter_across_the_pacific_is_split_at_the_map_edge() -> None:
    topo = load("geo-11")
    fig = topology_figure(topo)
    i = next(k for k, link in enumerate(topo.links) if {link.a, link.b} == {"california", "tokyo"})
    path = drawn_links(fig).get_paths()[i].vertices
    # california (lon -122) -> west edge -180 | east edge 180 -> tokyo (lon 139.7); never across Europe.
    finite = path[~np.isnan(path[:, 0])]
    assert np.isnan(path[:, 0]).sum() == 1
    assert sorted(finite[:, 0]) == pytest.approx([-180, -122, 139.7, 180])


def test_asymmetric_link_label_names_both_directions() -> None:
    topo = load_topology({"datacenters": {"a": {}, "b": {}},
                          "links": [{"between": ["a", "b"], "bandwidth": ["20Mbps", "5Mbps"], "latency": "38ms"}]})
    (label,) = link_labels(topology_figure(topo))
    assert "a→b 20 Mbps" in label and "b→a 5 Mbps" in label and "38 ms" in label


def test_link_values_set_colour_with_labelled_colourbar() -> None:
    topo = load("wan-3dc")  # links in order: us-east-eu-west, us-east-ap-southeast, eu-west-ap-southeast
    values = {("eu-west", "us-east"): 3e9, ("us-east", "ap-southeast"): 1e9}  # either order; third left out
    fig = topology_figure(topo, link_values=values, value_label="WAN bytes")
    lines = drawn_links(fig)
    assert list(lines.get_array()) == [3e9, 1e9, 0.0]
    widths = lines.get_linewidths()
    assert widths[0] > widths[1] > widths[2]
    colourbar_axes = [ax for ax in fig.axes[1:] if ax.get_ylabel() == "WAN bytes"]
    assert len(colourbar_axes) == 1


def test_no_colourbar_when_no_link_carried_anything() -> None:
    fig = topology_figure(load("wan-3dc"), link_values={("eu-west", "us-east"): 0.0}, value_label="WAN bytes")
    assert list(drawn_links(fig).get_array()) == [0.0, 0.0, 0.0]
    assert not [ax for ax in fig.axes[1:] if ax.get_ylabel() == "WAN bytes"]


def test_link_values_naming_a_non_link_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a WAN link"):
        topology_figure(load("wan-3dc"), link_values={("us-east", "mars"): 1.0})


def test_no_locations_spring_layout_is_seeded_and_lan_only_draws_no_links() -> None:
    topo = load("edge-federated")
    first = [t.get_position() for t in topology_figure(topo).axes[0].texts]
    again = [t.get_position() for t in topology_figure(topo).axes[0].texts]
    assert first == again
    assert link_labels(topology_figure(topo)) == ["10 Gbps / 20 ms"]
    lan_only = topology_figure(load("lan-1dc"))
    assert drawn_links(lan_only) is None and link_labels(lan_only) == []
