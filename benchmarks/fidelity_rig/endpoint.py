"""The two ends of the real TCP transfers: a receiver that timestamps last bytes, a sender.

Run inside network namespaces by the rig (``ip netns exec NS python endpoint.py ...``),
one process per end so that neither shares an interpreter lock with the forwarder.
Both sides stamp with ``time.monotonic()``, which is one clock for the whole machine
(network namespaces do not change it), so a receiver's stamp minus the sender's start
time is the flow's completion time.

* ``recv --port P --flows K``: accept K connections; each begins with a 4-byte flow id;
  print ``listening``, then one JSON line ``{flow_id: [nbytes, last_byte_s]}``.
* ``send --flows JSON``: connect every flow ``[host, port, flow_id, nbytes]`` first, then
  start them all together at one instant and print ``{"start_s": ...}``.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import struct
import threading
import time

CHUNK_NBYTES = 1 << 20
ID_NBYTES = 4


def receive(port: int, n_flows: int) -> dict[int, list[float]]:
    """Accept ``n_flows`` connections and read each to EOF; flow id -> [nbytes, last byte time]."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(64)
    print("listening", flush=True)
    sel = selectors.DefaultSelector()
    state: dict[socket.socket, list] = {}
    for _ in range(n_flows):
        conn, _ = server.accept()
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ)
        state[conn] = [b"", 0, 0.0]  # id bytes so far, payload bytes, last byte time
    done: dict[int, list[float]] = {}
    while len(done) < n_flows:
        for key, _ in sel.select():
            conn = key.fileobj
            data = conn.recv(CHUNK_NBYTES)
            now = time.monotonic()
            entry = state[conn]
            if not data:
                sel.unregister(conn)
                conn.close()
                flow_id = struct.unpack("!I", entry[0])[0]
                done[flow_id] = [entry[1] + ID_NBYTES, entry[2]]
                continue
            if len(entry[0]) < ID_NBYTES:
                need = ID_NBYTES - len(entry[0])
                entry[0] += data[:need]
                data = data[need:]
            entry[1] += len(data)
            entry[2] = now
    return done


def send(flows: list[list], congestion: str, lead_s: float) -> float:
    """Connect every flow, then send them all from one start instant; returns that instant."""
    socks = []
    for host, port, flow_id, _ in flows:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, congestion.encode())
        sock.connect((host, port))
        sock.sendall(struct.pack("!I", flow_id))  # primes nothing: 4 bytes, cwnd stays at IW
        socks.append(sock)
    start_s = time.monotonic() + lead_s
    payload = memoryview(bytes(CHUNK_NBYTES))

    def run(sock: socket.socket, nbytes: int) -> None:
        while time.monotonic() < start_s:
            time.sleep(min(0.001, max(0.0, start_s - time.monotonic())))
        left = nbytes - ID_NBYTES
        while left > 0:
            n = sock.send(payload[: min(left, CHUNK_NBYTES)])
            left -= n
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # wait for the receiver's close so the process outlives the data
        sock.close()

    threads = [threading.Thread(target=run, args=(s, f[3])) for s, f in zip(socks, flows, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return start_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--flows", type=int, required=True)
    s = sub.add_parser("send")
    s.add_argument("--flows", required=True, help="JSON list of [host, port, flow_id, nbytes]")
    s.add_argument("--congestion", default="cubic")
    s.add_argument("--lead-s", type=float, default=0.3)
    args = ap.parse_args()
    if args.mode == "recv":
        print(json.dumps(receive(args.port, args.flows)), flush=True)
    else:
        print(json.dumps({"start_s": send(json.loads(args.flows), args.congestion, args.lead_s)}), flush=True)


if __name__ == "__main__":
    main()
