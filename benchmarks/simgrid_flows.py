"""The same flows through SimGrid's flow model, for bench_network.py's side-by-side comparison (issue 27 item 4).

Why a script of its own: SimGrid's engine is one per process and starts threads, so bench_network.py runs
this in a subprocess per case and reads back its CPU time and completion times.  SimGrid comes from Debian's
``python3-simgrid`` package (``apt-get install python3-simgrid``: the benchmark's own instructions, never CI);
its module lives in ``/usr/lib/python3/dist-packages``, which this script appends to ``sys.path``.

The platform is the testbed's topology, link for link: one host per worker, a NIC-up and a NIC-down link
per host (bandwidth and half the LAN latency), one link per direction of every WAN link, and for every
ordered worker pair the route the testbed takes (``Topology.route``).  SimGrid runs its plain max-min
fluid model (``network/model:CM02`` with latency and bandwidth factors 1, no TCP-gamma window bound, no
cross-traffic), so both sides solve the same sharing problem.  One actor starts every flow at its start
time as an asynchronous host-to-host communication; the CPU time is that of ``Engine.run()`` alone.
Completion times differ from the testbed's by how latency enters (SimGrid waits the route latency before
a flow shares bandwidth; the testbed drains bytes at once and adds the latency at the end), so they are
compared loosely, as a sanity check that both simulated the same flows.

    python benchmarks/simgrid_flows.py TOPOLOGY.yaml FLOWS.json OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append("/usr/lib/python3/dist-packages")

from testbed.topology.schema import load_topology  # noqa: E402

CONFIG = ["--cfg=network/model:CM02", "--cfg=network/latency-factor:1", "--cfg=network/bandwidth-factor:1",
          "--cfg=network/TCP-gamma:0", "--cfg=network/crosstraffic:0", "--cfg=network/weight-S:0",
          "--log=root.thres:critical"]


def main(topology_path: str, flows_path: str, out_path: str) -> None:
    import simgrid
    from simgrid import Actor, Comm, Engine, LinkInRoute, NetZone, this_actor

    topology = load_topology(topology_path)
    flows = json.loads(Path(flows_path).read_text())  # [[src, dst, nbytes, start_s], ...] sorted by start
    engine = Engine(["simgrid_flows", *CONFIG])
    zone = NetZone.create_full_zone("testbed")
    hosts = {node: zone.create_host(node, 1e9).seal() for node in topology.nodes}
    links: dict[tuple[str, str], simgrid.Link] = {}

    def link(key: tuple[str, str]) -> simgrid.Link:
        if key not in links:
            info = topology.link(key)
            made = zone.create_link(f"{key[0]}>{key[1]}", info.bandwidth_bps / 8.0)
            made.set_latency(info.latency_s)
            links[key] = made.seal()
        return links[key]

    for src in topology.nodes:
        for dst in topology.nodes:
            if src != dst:
                route = [LinkInRoute(link(key)) for key in topology.route(src, dst).links]
                zone.add_route(hosts[src].netpoint, hosts[dst].netpoint, None, None, route, False)
    zone.seal()
    comms: list[Comm] = []

    def driver() -> None:
        for src, dst, nbytes, start_s in flows:
            if start_s > Engine.clock:
                this_actor.sleep_until(start_s)
            comms.append(Comm.sendto_async(hosts[src], hosts[dst], int(nbytes)))
        Comm.wait_all(comms)

    Actor.create("driver", hosts[topology.nodes[0]], driver)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    engine.run()
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    Path(out_path).write_text(json.dumps({"cpu_s": cpu_s, "wall_s": wall_s, "version": simgrid.simgrid_version,
                                          "finish_s": [c.finish_time for c in comms]}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
