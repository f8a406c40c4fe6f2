"""The topologies we ship load, say what their headers say, and shape flows as hand-computed.

Every expected number is worked out in the comment beside it from the YAML's own figures, so a
change to a shipped topology that breaks its documented derivation fails here.
"""

import itertools
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.sim.network import simulate_flows
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
MB = 1e6
MS = 1e-3
LAN_BPS = 10e9


def load(name: str) -> Topology:
    return load_topology(TOPOLOGIES / f"{name}.yaml")


def test_every_shipped_topology_loads_with_expected_counts() -> None:
    # (datacenters, workers, WAN links); geo-11 is a full mesh: 11 * 10 / 2 = 55 links.
    expected = {"lan-1dc": (1, 8, 0), "wan-3dc": (3, 12, 3), "wan-3dc-lite": (3, 3, 3), "geo-11": (11, 22, 55),
                "edge-federated": (2, 101, 1), "wan-3dc-fleet": (3, 12, 3), "wan-3dc-busy": (3, 12, 3)}
    found = {p.stem: p for p in TOPOLOGIES.glob("*.yaml")}
    assert set(found) == set(expected)
    for name, path in found.items():
        topo = load_topology(path)
        assert topo.name == name
        assert (len(topo.datacenters), len(topo.nodes), len(topo.links)) == expected[name]


@pytest.mark.parametrize("path", sorted(TOPOLOGIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_topo_check_exits_zero(path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "testbed", "topo", "check", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_lan_1dc_route_and_transfer() -> None:
    topo = load("lan-1dc")
    route = topo.route("dc/w0", "dc/w7")
    # NIC up 0.05 ms + NIC down 0.05 ms = the 0.1 ms LAN latency; no WAN hop.
    assert route.latency_s == pytest.approx(0.1 * MS)
    assert route.scope == "lan"
    # 1 GB = 8 Gbit at 10 Gbit/s = 0.8 s, + 0.1 ms.
    assert simulate_flows(topo, [("dc/w0", "dc/w7", 1e9, 0.0)]) == pytest.approx([0.8001])


def test_wan_3dc_latencies_are_half_the_design_rtts_plus_lan() -> None:
    topo = load("wan-3dc")
    # us-east <-> Ireland RTT 80.6 ms -> 40.3 ms one-way, + 2 NIC hops of 0.05 ms.
    assert topo.route("us-east/w0", "eu-west/w1").latency_s == pytest.approx(40.4 * MS)
    # us-east <-> Singapore RTT 216.7 ms -> 108.35 ms, + 0.1 ms.
    assert topo.route("ap-southeast/w3", "us-east/w0").latency_s == pytest.approx(108.45 * MS)
    # Ireland <-> Singapore: great-circle estimate 84.1 ms, + 0.1 ms; and it is routed directly.
    route = topo.route("eu-west/w0", "ap-southeast/w0")
    assert route.latency_s == pytest.approx(84.2 * MS)
    assert route.wan_hops == (("eu-west", "ap-southeast"),)
    for link in topo.links:
        assert link.egress_usd_per_gb == 0.02
        assert 15 <= LAN_BPS / link.bandwidth_ab_bps <= 60
    assert all(dc.location is not None for dc in topo.datacenters)


def test_wan_3dc_fleet_is_wan_3dc_with_its_workers_on_a_trace() -> None:
    from testbed.sim.node_clock import NodeClock

    fleet, plain = load("wan-3dc-fleet"), load("wan-3dc")
    assert fleet.links == plain.links and [dc.lan for dc in fleet.datacenters] == [dc.lan for dc in plain.datacenters]
    traces = {w.dynamics.availability.trace.name for w in fleet.workers}
    assert traces == {"fleet-48.csv"}
    clock = NodeClock(fleet, seed=0)
    clients = [clock.trace_owner(w) for w in fleet.nodes]
    assert len(set(clients)) == 12 and all(0 <= c < 48 for c in clients)  # 12 of its 48 clients, seeded


def test_wan_3dc_busy_is_wan_3dc_with_cross_traffic() -> None:
    from testbed.sim.background import BackgroundTraffic

    busy, plain = load("wan-3dc-busy"), load("wan-3dc")
    assert [(link.a, link.b, link.bandwidth_ab_bps, link.latency_s) for link in busy.links] == [
        (link.a, link.b, link.bandwidth_ab_bps, link.latency_s) for link in plain.links]
    traffic = BackgroundTraffic(busy, seed=0)
    # 100 Mbit/s stream plus 50 x 200 KB/s elastic = 180 Mbit/s offered us-east -> ap-southeast over 10 s
    traffic.pop_due(10.0)
    assert traffic.offered_nbytes(("us-east", "ap-southeast"), 10.0) * 8 / 10 == pytest.approx(180e6, rel=0.1)
    assert traffic.offered_nbytes(("eu-west", "ap-southeast"), 10.0) == 0
    assert traffic.offered_nbytes(("us-east", "eu-west"), 10.0) * 8 / 10 == pytest.approx(75e6, rel=0.02)


def test_wan_3dc_lone_flow_is_bound_by_its_wan_link() -> None:
    # 10 MB = 80 Mbit at 250 Mbit/s = 0.32 s, + 108.45 ms latency.
    times = simulate_flows(load("wan-3dc"), [("us-east/w0", "ap-southeast/w0", 10 * MB, 0.0)])
    assert times == pytest.approx([0.32 + 0.10845])


def _great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


GEO11_TABLE_RTT_MS = {  # docs/topologies.md, AWS 2017 column
    ("virginia", "california"): 72.7, ("virginia", "ireland"): 80.6, ("virginia", "frankfurt"): 88.7,
    ("ireland", "frankfurt"): 19.6, ("virginia", "tokyo"): 145.3, ("tokyo", "singapore"): 73.8,
    ("virginia", "singapore"): 216.7, ("virginia", "sydney"): 230.0, ("virginia", "sao-paulo"): 119.5,
    ("frankfurt", "singapore"): 325.9,
}


def test_geo_11_latencies_follow_the_table_or_the_documented_formula() -> None:
    topo = load("geo-11")
    dcs = [dc.name for dc in topo.datacenters]
    pairs = {frozenset(p) for p in itertools.combinations(dcs, 2)}
    assert {frozenset((link.a, link.b)) for link in topo.links} == pairs
    for link in topo.links:
        rtt_ms = GEO11_TABLE_RTT_MS.get((link.a, link.b)) or GEO11_TABLE_RTT_MS.get((link.b, link.a))
        if rtt_ms is not None:
            assert link.latency_s == pytest.approx(rtt_ms / 2 * MS), (link.a, link.b)
        else:
            d_km = _great_circle_km(topo.datacenter(link.a).location, topo.datacenter(link.b).location)
            one_way_ms = d_km / (2 / 3 * 299_792.458) * 1.5 * 1e3
            assert link.latency_s == pytest.approx(round(one_way_ms, 1) * MS, abs=1e-9), (link.a, link.b)


def test_geo_11_wan_is_15_to_60x_below_lan_and_longer_links_are_slower() -> None:
    topo = load("geo-11")
    for dc in topo.datacenters:
        assert dc.lan.up_bps == dc.lan.down_bps == LAN_BPS
    ratios = [LAN_BPS / link.bandwidth_ab_bps for link in topo.links]
    assert all(15 <= r <= 60 for r in ratios)
    assert all(link.bandwidth_ab_bps == link.bandwidth_ba_bps for link in topo.links)
    # Shortest link (california-oregon, 953 km) 650 Mbps; longest (tokyo-sao-paulo, 18529 km) 175 Mbps.
    assert topo.wan_link("california", "oregon").bandwidth_ab_bps == 650e6
    assert topo.wan_link("tokyo", "sao-paulo").bandwidth_ab_bps == 175e6
    pricey = {"sydney", "sao-paulo"}
    for link in topo.links:
        assert link.egress_usd_per_gb == (0.08 if {link.a, link.b} & pricey else 0.02)


def test_geo_11_relays_exactly_the_documented_pairs() -> None:
    topo = load("geo-11")
    relayed = {}
    for a, b in itertools.combinations([dc.name for dc in topo.datacenters], 2):
        path = topo.dc_path(a, b)
        if len(path) > 2:
            relayed[(a, b)] = path[1:-1]
    assert relayed == {
        ("virginia", "california"): ["oregon"], ("virginia", "seoul"): ["tokyo"],
        ("virginia", "mumbai"): ["frankfurt"], ("california", "singapore"): ["tokyo"],
        ("oregon", "singapore"): ["tokyo"], ("frankfurt", "singapore"): ["mumbai"],
        ("tokyo", "sao-paulo"): ["virginia"],
    }
    # frankfurt -> mumbai 49.2 ms -> singapore 29.3 ms, + 2 NIC hops of 0.05 ms.
    assert topo.route("frankfurt/w0", "singapore/w1").latency_s == pytest.approx(78.6 * MS)


def test_edge_client_upload_is_bound_by_5mbps_and_download_by_20mbps() -> None:
    topo = load("edge-federated")
    # one-way latency: client NIC 30/2 ms + core 20 ms + agg NIC 0.1/2 ms = 35.05 ms.
    assert topo.route("edge/w7", "agg/w0").latency_s == pytest.approx(35.05 * MS)
    # 1 MB = 8 Mbit: up at 5 Mbit/s = 1.6 s; down at 20 Mbit/s = 0.4 s.
    times = simulate_flows(topo, [("edge/w7", "agg/w0", MB, 0.0), ("agg/w0", "edge/w8", MB, 0.0)])
    assert times == pytest.approx([1.6 + 0.03505, 0.4 + 0.03505])


def test_edge_all_clients_at_once_still_get_their_access_rates() -> None:
    topo = load("edge-federated")
    # 100 uploads: 100 x 5 Mbit/s = 500 Mbit/s, far below the 10 Gbit/s core and agg NIC -> 1.6 s each.
    ups = simulate_flows(topo, [(f"edge/w{i}", "agg/w0", MB, 0.0) for i in range(100)])
    assert ups == pytest.approx([1.6 + 0.03505] * 100)
    # 100 downloads: agg's 10 Gbit/s NIC gives 100 Mbit/s each, the 20 Mbit/s access link binds -> 0.4 s.
    downs = simulate_flows(topo, [("agg/w0", f"edge/w{i}", MB, 0.0) for i in range(100)])
    assert downs == pytest.approx([0.4 + 0.03505] * 100)


def test_edge_scales_by_one_number_and_then_agg_nic_binds() -> None:
    spec = yaml.safe_load((TOPOLOGIES / "edge-federated.yaml").read_text())
    spec["datacenters"]["edge"]["workers"] = 1000
    topo = load_topology(spec)
    assert len(topo.nodes) == 1001
    # 1000 downloads share agg's 10 Gbit/s NIC (and the 10 Gbit/s core): 10 Mbit/s each < 20 Mbit/s,
    # so 8 Mbit takes 0.8 s, + 35.05 ms.
    downs = simulate_flows(topo, [("agg/w0", f"edge/w{i}", MB, 0.0) for i in range(1000)])
    assert downs == pytest.approx([0.8 + 0.03505] * 1000)
