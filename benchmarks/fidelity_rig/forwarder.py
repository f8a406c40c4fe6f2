"""User-space one-way delay on a TUN pair: the stand-in for netem, which this kernel lacks.

The router namespace of the rig sends every packet of the emulated path into ``tun-in``
(policy routing); this process reads each packet, holds it until ``arrival + delay_s``
and writes it, unchanged, into ``tun-out``, where the kernel routes it on to its
destination.  It forwards packets, so the TCP connection stays end to end (a proxy
that terminated TCP would measure two connections instead of one).

With ``--gso`` both devices carry a virtio-net header and advertise TSO, so the kernel
hands over whole GSO super-packets (up to 64 KiB) instead of 1500-byte frames: the
same bytes in a tenth of the system calls, which is what lets Python keep up.

Run inside the router namespace:  python forwarder.py --delay-s 0.02 [--gso]
Prints ``ready`` on stdout once both devices exist, then forwards until killed.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
READ_NBYTES = 65536 + 64


def open_tun(name: str, gso: bool) -> int:
    """Create (or attach to) TUN device ``name`` and return its non-blocking fd."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if gso else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    if gso:
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    return fd


def forward(fd_in: int, fd_out: int, delay_s: float) -> None:
    """Forever: read packets from ``fd_in``, write each to ``fd_out`` ``delay_s`` after it came."""
    queue: collections.deque[tuple[float, bytes]] = collections.deque()  # constant delay: FIFO
    poller = select.poll()
    poller.register(fd_in, select.POLLIN)
    clock = time.monotonic
    while True:
        timeout_ms = -1
        if queue:
            timeout_ms = max(0.0, (queue[0][0] - clock()) * 1000.0)
        if poller.poll(timeout_ms):
            now = clock()
            while True:
                try:
                    packet = os.read(fd_in, READ_NBYTES)
                except BlockingIOError:
                    break
                queue.append((now + delay_s, packet))
        now = clock()
        while queue and queue[0][0] <= now:
            try:
                os.write(fd_out, queue.popleft()[1])
            except OSError:  # the kernel refused one packet (e.g. no route yet): a loss
                pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay-s", type=float, required=True)
    ap.add_argument("--tun-in", default="tun-in")
    ap.add_argument("--tun-out", default="tun-out")
    ap.add_argument("--gso", action="store_true")
    args = ap.parse_args()
    fd_in, fd_out = open_tun(args.tun_in, args.gso), open_tun(args.tun_out, args.gso)
    print("ready", flush=True)
    try:
        forward(fd_in, fd_out, args.delay_s)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
