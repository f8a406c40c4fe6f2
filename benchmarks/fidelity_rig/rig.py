"""Real links on this machine: network namespaces, veth, tbf rate limits, a delaying router.

Four namespaces in a chain, every one named ``fid-*`` so ``--cleanup`` can find them::

    fid-a (senders) --veth-- fid-r (router: delay) --veth-- fid-b (host + router) --veth-- fid-c
      10.77.1.1          10.77.1.2 | 10.77.2.1             10.77.2.2 | 10.77.3.1          10.77.3.2

* **delay**: fid-r sends every packet arriving from a or b into ``tun-in`` (policy
  routing); :mod:`forwarder` holds it ``delay_s`` and writes it into ``tun-out``, from
  where the main table routes it on.  Both directions cross it once: RTT = 2 x delay.
  (This kernel has no netem; where netem exists it is used instead, on the same hop.)
* **link 1** (r -> b, the bottleneck of a -> b and a -> c): ``tbf`` on fid-r's ``rb``.
* **link 2** (b -> c, only in the partial-path scenario): ``tbf`` on fid-b's ``bc``.

TCP stays end to end: nothing on the path terminates a connection.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

NAMESPACES = ("fid-a", "fid-r", "fid-b", "fid-c")
HOST_A, HOST_B, HOST_C = "10.77.1.1", "10.77.2.2", "10.77.3.2"
HERE = Path(__file__).resolve().parent
MTU_NBYTES = 1500
MIN_QUEUE_NBYTES = 64_000


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one command (``ip``/``tc``/``sysctl``), raising with its stderr on failure."""
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc


def in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def cleanup() -> list[str]:
    """Delete every ``fid-*`` namespace (their processes' veths and TUNs go with them)."""
    listed = sh("ip", "netns", "list", check=False).stdout.split()
    removed = []
    for name in listed:
        if name.startswith("fid-"):
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                sh("kill", pid, check=False)
            sh("ip", "netns", "del", name, check=False)
            removed.append(name)
    return removed


def has_netem() -> bool:
    """Whether ``tc`` here can add a netem qdisc (tried on a throwaway namespace)."""
    sh("ip", "netns", "add", "fid-probe")
    try:
        return in_ns("fid-probe", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
                     check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", "fid-probe", check=False)


def tbf_args(rate_bps: float, rtt_s: float) -> list[str]:
    """tbf settings: burst of 2 frames (or 1 ms at rate), queue of one BDP (at least 64 kB)."""
    burst = max(2 * (MTU_NBYTES + 14), int(rate_bps / 8 * 0.001))
    limit = max(MIN_QUEUE_NBYTES, int(rate_bps / 8 * rtt_s)) + burst
    return ["rate", f"{int(rate_bps)}bit", "burst", str(burst), "limit", str(limit)]


class Rig:
    """The namespaces and links; :meth:`configure` sets delay and rates for one scenario."""

    def __init__(self, congestion: str = "cubic", gso: bool = True) -> None:
        self.congestion = congestion
        self.gso = gso
        self.netem = False
        self._forwarder: subprocess.Popen | None = None
        self._delay_s: float | None = None

    def __enter__(self) -> Rig:
        cleanup()
        try:
            self.netem = has_netem()
            self._build()
        except BaseException:
            cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_forwarder()
        cleanup()

    def _build(self) -> None:
        for ns in NAMESPACES:
            sh("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
            in_ns(ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
            in_ns(ns, "sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")
            in_ns(ns, "sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1")  # no cached cwnd between runs
        for ns in ("fid-r", "fid-b"):
            in_ns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        pairs = [("fid-a", "a0", HOST_A, "fid-r", "ra", "10.77.1.2"),
                 ("fid-r", "rb", "10.77.2.1", "fid-b", "b0", HOST_B),
                 ("fid-b", "bc", "10.77.3.1", "fid-c", "c0", HOST_C)]
        for ns1, if1, ip1, ns2, if2, ip2 in pairs:
            sh("ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2)
            for ns, dev, ip in ((ns1, if1, ip1), (ns2, if2, ip2)):
                in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev)
                in_ns(ns, "ip", "link", "set", dev, "up")
        in_ns("fid-a", "ip", "route", "add", "default", "via", "10.77.1.2")
        in_ns("fid-b", "ip", "route", "add", "default", "via", "10.77.2.1")
        in_ns("fid-c", "ip", "route", "add", "default", "via", "10.77.3.1")
        in_ns("fid-r", "ip", "route", "add", "10.77.3.0/24", "via", HOST_B)

    # -- per scenario ------------------------------------------------------------------------
    def configure(self, delay_s: float, rate1_bps: float | None, rate2_bps: float | None = None,
                  rtt_for_queue_s: float | None = None) -> None:
        """One-way ``delay_s`` on the a<->b path, tbf ``rate1_bps`` on r->b and ``rate2_bps`` on b->c."""
        rtt = 2 * delay_s if rtt_for_queue_s is None else rtt_for_queue_s
        for ns, dev, rate in (("fid-r", "rb", rate1_bps), ("fid-b", "bc", rate2_bps)):
            in_ns(ns, "tc", "qdisc", "del", "dev", dev, "root", check=False)
            if rate is not None:
                in_ns(ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", *tbf_args(rate, rtt))
        if delay_s != self._delay_s:
            self._set_delay(delay_s)

    def _set_delay(self, delay_s: float) -> None:
        self._stop_forwarder()
        self._delay_s = delay_s
        if delay_s <= 0:
            return
        if self.netem:  # delay both directions on the router's two egress devices
            for dev in ("ra", "rb"):
                in_ns("fid-r", "tc", "qdisc", "replace", "dev", dev, "root", "netem", "delay", f"{delay_s}s")
            return
        cmd = ["ip", "netns", "exec", "fid-r", sys.executable, str(HERE / "forwarder.py"), "--delay-s", str(delay_s)]
        if self.gso:
            cmd.append("--gso")
        self._forwarder = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        if self._forwarder.stdout.readline().strip() != "ready":
            raise RuntimeError("the TUN forwarder did not start")
        for dev in ("tun-in", "tun-out"):
            in_ns("fid-r", "ip", "link", "set", dev, "up")
            in_ns("fid-r", "sysctl", "-qw", f"net.ipv4.conf.{dev.replace('-', '/')}.rp_filter=0", check=False)
        in_ns("fid-r", "ip", "route", "replace", "default", "dev", "tun-in", "table", "100")
        for dev in ("ra", "rb"):
            in_ns("fid-r", "ip", "rule", "add", "iif", dev, "table", "100", "pref", "100")

    def _stop_forwarder(self) -> None:
        if self._forwarder is not None:
            for _ in range(2):
                in_ns("fid-r", "ip", "rule", "del", "pref", "100", check=False)
            self._forwarder.terminate()
            self._forwarder.wait(timeout=10)
            self._forwarder = None
        if self.netem and self._delay_s:
            for dev in ("ra", "rb"):
                in_ns("fid-r", "tc", "qdisc", "del", "dev", dev, "root", check=False)

    # -- transfers ---------------------------------------------------------------------------
    def transfer(self, flows: list[tuple[str, int]], timeout_s: float = 600.0) -> list[float]:
        """Send flows ``(dst_host, nbytes)`` from fid-a, all at once; completion time of each, seconds."""
        endpoint = str(HERE / "endpoint.py")
        receivers = {}
        for dst in sorted({d for d, _ in flows}):
            ns = {HOST_B: "fid-b", HOST_C: "fid-c"}[dst]
            n = sum(1 for d, _ in flows if d == dst)
            proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, endpoint, "recv", "--port", "5201",
                                     "--flows", str(n)], stdout=subprocess.PIPE, text=True)
            if proc.stdout.readline().strip() != "listening":
                raise RuntimeError(f"receiver in {ns} did not start")
            receivers[dst] = proc
        spec = [[dst, 5201, i, int(nbytes)] for i, (dst, nbytes) in enumerate(flows)]
        import json

        sender = subprocess.run(["ip", "netns", "exec", "fid-a", sys.executable, endpoint, "send", "--flows",
                                 json.dumps(spec), "--congestion", self.congestion],
                                capture_output=True, text=True, timeout=timeout_s, check=True)
        start_s = json.loads(sender.stdout.strip().splitlines()[-1])["start_s"]
        done: dict[int, list[float]] = {}
        for proc in receivers.values():
            out, _ = proc.communicate(timeout=timeout_s)
            done.update({int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()})
        for i, (_, nbytes) in enumerate(flows):
            if int(done[i][0]) != int(nbytes):
                raise RuntimeError(f"flow {i}: received {done[i][0]} of {nbytes} bytes")
        time.sleep(0.05)
        return [done[i][1] - start_s for i in range(len(flows))]
