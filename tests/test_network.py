"""The network model against hand-computed numbers (docs/design.md §2's worked example and more).

Topologies use a 1 Tbit/s, zero-latency LAN so that only the WAN link(s) under test
shape the flows; every expected time below is worked out in the comment beside it.
"""

import math
import signal

import pytest

from testbed.sim.maxmin import MaxMinRates
from testbed.sim.network import FlowNetwork, simulate_flows
from testbed.sim.tcp import TcpModel
from testbed.topology.schema import load_topology

MB = 1e6
FAST_LAN = {"bandwidth": "1Tbps", "latency": 0}


def two_dc(**link: object) -> object:
    spec = {"between": ["a", "b"], "bandwidth": "10Mbps", "latency": 0, **link}
    return load_topology({"lan": FAST_LAN, "datacenters": {"a": {"workers": 2}, "b": {"workers": 2}},
                          "links": [spec]})


def test_worked_example_two_flows_start_together() -> None:
    # 1 MB = 8 Mbit; two flows share 10 Mbit/s -> 5 Mbit/s each -> 1.6 s.
    times = simulate_flows(two_dc(), [("a/w0", "b/w0", MB, 0.0), ("a/w1", "b/w1", MB, 0.0)])
    assert times == pytest.approx([1.6, 1.6], rel=1e-12)


def test_worked_example_second_flow_starts_later() -> None:
    # 0-0.4 s: flow 1 alone at 10 Mbit/s sends 4 Mbit; then 5 Mbit/s each: flow 1's last
    # 4 Mbit take 0.8 s -> 1.2 s; flow 2 has sent 4 Mbit by then, the rest at 10 Mbit/s -> 1.6 s.
    times = simulate_flows(two_dc(), [("a/w0", "b/w0", MB, 0.0), ("a/w1", "b/w0", MB, 0.4)])
    assert times == pytest.approx([1.2, 1.6], rel=1e-12)


def test_three_flows_one_bottlenecked_elsewhere_others_take_leftover() -> None:
    # Chain a -(10 Mbit/s)- b -(2 Mbit/s)- c.  Flow 1 a->c is held to 2 Mbit/s by b-c; flows 2, 3
    # (a->b) share the leftover 8 Mbit/s: 4 each.  1 MB: flows 2, 3 end at 2 s; flow 1 at 4 s.
    topo = load_topology({"lan": FAST_LAN, "datacenters": {"a": {"workers": 3}, "b": {}, "c": {}},
                          "links": [{"between": ["a", "b"], "bandwidth": "10Mbps", "latency": 0},
                                    {"between": ["b", "c"], "bandwidth": "2Mbps", "latency": 0}]})
    times = simulate_flows(topo, [("a/w0", "c/w0", MB, 0), ("a/w1", "b/w0", MB, 0), ("a/w2", "b/w0", MB, 0)])
    assert times == pytest.approx([4.0, 2.0, 2.0], rel=1e-12)


def test_max_min_rates_direct() -> None:
    # link 0 cap 10, link 1 cap 2; class 0 crosses both, classes 1 and 2 only link 0.
    solver = MaxMinRates()
    first, second = solver.add_link(10.0), solver.add_link(2.0)
    classes = [solver.add_class((first, second), math.inf), solver.add_class((first,), math.inf),
               solver.add_class((first,), math.inf)]
    for cls in classes:
        solver.set_count(cls, 1)
    solver.update(0.0)
    assert solver.rate_nbytes_per_s == pytest.approx([2.0, 4.0, 4.0])


def test_multi_hop_route_through_intermediate_datacenter() -> None:
    # Direct a-c is 100 ms; a-b-c is 10 + 20 = 30 ms, so traffic goes through b.
    topo = load_topology({"lan": {"bandwidth": "1Tbps", "latency": "1ms"},
                          "datacenters": {"a": {}, "b": {}, "c": {}},
                          "links": [{"between": ["a", "c"], "bandwidth": "1Gbps", "latency": "100ms"},
                                    {"between": ["a", "b"], "bandwidth": "10Mbps", "latency": "10ms"},
                                    {"between": ["b", "c"], "bandwidth": "10Mbps", "latency": "20ms"}]})
    route = topo.route("a/w0", "c/w0")
    assert route.hops == ("a/w0", "a", "b", "c", "c/w0")
    assert route.wan_hops == (("a", "b"), ("b", "c"))
    assert route.latency_s == pytest.approx(0.0005 + 0.010 + 0.020 + 0.0005)
    # 1 MB at 10 Mbit/s = 0.8 s drain, + 31 ms path latency.
    assert simulate_flows(topo, [("a/w0", "c/w0", MB, 0)]) == pytest.approx([0.831], rel=1e-12)


def test_outage_delays_flow_by_exactly_its_length() -> None:
    # 2 MB alone at 10 Mbit/s: 1.6 s.  The link is down over [1 s, 3 s): 2 s later, 3.6 s.
    assert simulate_flows(two_dc(), [("a/w0", "b/w0", 2 * MB, 0)]) == pytest.approx([1.6])
    times = simulate_flows(two_dc(outages=[["1s", "3s"]]), [("a/w0", "b/w0", 2 * MB, 0)])
    assert times == pytest.approx([3.6], rel=1e-12)


def test_flow_starting_during_outage_waits_for_the_link() -> None:
    times = simulate_flows(two_dc(outages=[["0s", "2s"]]), [("a/w0", "b/w0", MB, 0.5)])
    assert times == pytest.approx([2.8], rel=1e-12)


def test_profile_step_mid_flow() -> None:
    # 2 MB: 0-0.8 s at 10 Mbit/s sends 1 MB; then 5 Mbit/s for the last 1 MB: 1.6 s -> 2.4 s.
    topo = two_dc(profile=[["0.8s", "5Mbps"]])
    assert simulate_flows(topo, [("a/w0", "b/w0", 2 * MB, 0)]) == pytest.approx([2.4], rel=1e-12)


def test_profile_latency_applies_to_flows_started_after_the_step() -> None:
    topo = two_dc(latency="10ms", profile=[{"at": "1s", "latency": "50ms"}])
    times = simulate_flows(topo, [("a/w0", "b/w0", 0, 0.5), ("a/w0", "b/w0", 0, 1.5)])
    assert times == pytest.approx([0.51, 1.55], rel=1e-12)


def test_each_direction_is_its_own_capacity() -> None:
    # Opposite directions do not share: both 1 MB flows finish at 0.8 s.
    times = simulate_flows(two_dc(), [("a/w0", "b/w0", MB, 0), ("b/w0", "a/w0", MB, 0)])
    assert times == pytest.approx([0.8, 0.8], rel=1e-12)


def test_asymmetric_link() -> None:
    # a->b 20 Mbit/s, b->a 5 Mbit/s: 1 MB takes 0.4 s one way, 1.6 s the other.
    times = simulate_flows(two_dc(bandwidth=["20Mbps", "5Mbps"]),
                           [("a/w0", "b/w0", MB, 0), ("b/w0", "a/w0", MB, 0)])
    assert times == pytest.approx([0.4, 1.6], rel=1e-12)


def test_lan_nic_is_shared_by_flows_leaving_one_worker() -> None:
    # One DC with 10 Mbit/s NICs: w0 sends 1 MB to w1 and to w2 -> its NIC up is shared: 1.6 s.
    topo = load_topology({"lan": {"bandwidth": "10Mbps", "latency": 0}, "datacenters": {"a": {"workers": 3}}})
    assert simulate_flows(topo, [("a/w0", "a/w1", MB, 0), ("a/w0", "a/w2", MB, 0)]) == pytest.approx([1.6, 1.6])


def test_latency_is_added_after_draining_and_zero_byte_flows() -> None:
    topo = two_dc(latency="40ms")
    assert simulate_flows(topo, [("a/w0", "b/w0", MB, 1.0), ("a/w0", "b/w0", 0, 0)]) == pytest.approx(
        [1.0 + 0.8 + 0.04, 0.04], rel=1e-12)
    assert simulate_flows(topo, [("a/w0", "a/w0", MB, 2.0)]) == [2.0]  # to itself: no link


def test_jitter_is_seeded_and_bounded() -> None:
    topo = two_dc(latency="40ms", jitter="5ms")
    flows = [("a/w0", "b/w0", 0, float(i)) for i in range(50)]
    first = simulate_flows(topo, flows, seed=7)
    assert first == simulate_flows(topo, flows, seed=7)
    assert first != simulate_flows(topo, flows, seed=8)
    delays = [t - i for i, t in enumerate(first)]
    assert all(0.035 - 1e-12 <= d <= 0.045 + 1e-12 for d in delays)
    assert max(delays) - min(delays) > 0.005


def test_event_driven_form_reports_drain_and_arrival() -> None:
    net = FlowNetwork(two_dc(latency="10ms"))
    f1 = net.start_flow("a/w0", "b/w0", MB, 0.0)
    assert net.next_event_s() == pytest.approx(0.8)
    f2 = net.start_flow("a/w1", "b/w1", MB, 0.4)
    assert net.next_event_s() == pytest.approx(1.2)
    done = net.advance(2.0)
    assert [(c.flow_id, round(c.drain_end_s, 9), round(c.arrival_s, 9)) for c in done] == [
        (f1, 1.2, 1.21), (f2, 1.6, 1.61)]
    busy = net.link_busy_s()
    assert busy[("a", "b")] == pytest.approx(1.6)
    assert ("b", "a") not in busy  # the reverse direction never carried anything


def test_time_goes_forward_only() -> None:
    net = FlowNetwork(two_dc())
    net.advance(1.0)
    with pytest.raises(ValueError):
        net.advance(0.5)


def test_tcp_window_cap_slows_a_long_fat_flow() -> None:
    # RTT 100 ms, window 64 KiB: cap = 65536*8/0.1 = 5.24 Mbit/s < 10 Mbit/s.
    topo = two_dc(latency="50ms")
    tcp = TcpModel(window_nbytes=65536, initial_window_segments=10**6)  # no slow start
    (t,) = simulate_flows(topo, [("a/w0", "b/w0", MB, 0)], tcp=tcp)
    assert t == pytest.approx(MB * 8 / (65536 * 8 / 0.1) + 0.05, rel=1e-9)


def test_tcp_mathis_cap_under_loss() -> None:
    tcp = TcpModel()
    cap = tcp.rate_cap_bps(0.1, 0.01)
    assert cap == pytest.approx(1460 * 8 / (0.1 * math.sqrt(2 * 0.01 / 3)))
    assert tcp.rate_cap_bps(0.1, 0.0) == pytest.approx(4 * 2**20 * 8 / 0.1)


def test_tcp_slow_start_adds_round_trips_for_small_flows() -> None:
    # 100 KB, IW = 14600 B: rounds send 14.6, 29.2, 58.4 KB -> 3 rounds; 2 RTTs before the last.
    tcp = TcpModel()
    delay, left = tcp.slow_start(100e3, 0.1, 10e6)
    assert delay == pytest.approx(0.2)
    assert left == pytest.approx(100e3 - 14600 * 3)
    fluid = simulate_flows(two_dc(latency="50ms"), [("a/w0", "b/w0", 100e3, 0)])[0]
    real = simulate_flows(two_dc(latency="50ms"), [("a/w0", "b/w0", 100e3, 0)], tcp=tcp)[0]
    assert real > fluid + 0.15


def test_tiny_remainders_on_fast_links_do_not_stall_the_clock() -> None:
    # Found by random search: on 100 Gbit/s NICs near t = 4 s, a flow's last bytes take less than
    # one float tick of the clock (now + dt == now); the model used to spin here forever.
    topo = load_topology({"lan": {"bandwidth": "100Gbps", "latency": 0}, "datacenters": {"a": {"workers": 5}}})
    flows = [("a/w3", "a/w4", 2636.0, 4.000000040973524), ("a/w1", "a/w4", 204.0, 4.0),
             ("a/w2", "a/w4", 64.0, 4.000000729496561), ("a/w2", "a/w4", 2636.0, 4.000000935072424),
             ("a/w1", "a/w4", 64.0, 4.000001714808553), ("a/w0", "a/w4", 2636.0, 4.0)]
    signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, 10.0)
    try:
        times = simulate_flows(topo, flows)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    # 8236 B in all through w4's NIC at 12.5 GB/s: everything is done within a microsecond or two.
    assert all(4.0 < t < 4.00001 for t in times)


def _hang(*_: object) -> None:
    raise TimeoutError("the network model stopped advancing time")
def test_small_flow_late_in_virtual_time_finishes_instead_of_livelocking() -> None:
    # Regression (found by benchmarks/bench_network.py): a 10 KB flow starting at t = 1000 s on a lone
    # 10 Gbit/s LAN.  Its drain time (8 us) is exact, but t + 8 us is rounded to the clock's float
    # resolution (~1.1e-13 s at 1000 s); the bytes left after that step (~1e-5 B, just above the 1e-9
    # relative tolerance) then need less than one ulp of time, so the clock could not move and
    # advance() looped forever.  Expected arrival: 1000 s + 80,000 bit / 1e10 bit/s + 0.1 ms LAN.
    import signal

    def give_up(*_: object) -> None:
        raise TimeoutError("simulate_flows livelocked")

    topo = load_topology({"datacenters": {"a": {"workers": 2}}})
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        for t0 in (1e3, 1e6):
            for nbytes in (10e3, 12345.0):
                (arrival,) = simulate_flows(topo, [("a/w0", "a/w1", nbytes, t0)])
                assert arrival == pytest.approx(t0 + nbytes * 8 / 10e9 + 1e-4, abs=1e-9)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
