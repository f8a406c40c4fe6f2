"""Every bad topology YAML is one line: non-zero exit, no traceback, the field named, nothing written.

The topology table of the bad-input rule (``test_bad_inputs.py`` holds the experiment and suite tables,
``test_bad_input_classes.py`` issue 24's classes, ``test_bad_inputs_own.py`` the researcher's own data
and models; the shared checker is ``bad_inputs_common.py``).
"""


from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bad_inputs_common import (
    DELETE,
    _check_one_line,
    _topology_case,
    workdir,
)

from testbed.cli import main

__all__ = ["workdir"]  # the fixture, shared

# -- topology YAML: (case id, topology change(s) or raw text, the field the line must name) --------------
FLEET_TRACE = Path(__file__).resolve().parents[1] / "topologies" / "traces" / "fleet-48.csv"

TOPOLOGY_CASES: list[tuple[str, Any, str]] = [
    ("bare-latency", {"links.0.latency": 20}, "write 20ms"),
    ("bare-bandwidth", {"links.0.bandwidth": 100}, "write 100Mbps"),
    ("bare-lan-latency", {"lan.latency": 5}, "lan.latency"),
    ("bare-lan-bandwidth", {"lan.bandwidth": 1000}, "lan.bandwidth"),
    ("bare-jitter", {"links.0.jitter": 2}, "links[0].jitter"),
    ("quoted-bare-latency", {"links.0.latency": "20"}, "links[0].latency"),
    ("word-bandwidth", {"links.0.bandwidth": "fast"}, "links[0].bandwidth"),
    ("unknown-unit", {"links.0.latency": "20parsecs"}, "links[0].latency"),
    ("negative-bandwidth", {"links.0.bandwidth": "-5Mbps"}, "links[0].bandwidth"),
    ("zero-bandwidth", {"links.0.bandwidth": "0Mbps"}, "links[0].bandwidth"),
    ("negative-latency", {"links.0.latency": "-1ms"}, "links[0].latency"),
    ("infinite-latency", {"links.0.latency": float("inf")}, "links[0].latency"),
    ("loss-above-one", {"links.0.loss": 1.5}, "links[0].loss"),
    ("loss-word", {"links.0.loss": "high"}, "links[0].loss"),
    ("negative-egress", {"links.0.egress_usd_per_gb": -1}, "links[0].egress_usd_per_gb"),
    ("word-egress", {"links.0.egress_usd_per_gb": "cheap"}, "links[0].egress_usd_per_gb"),
    ("link-to-unknown-dc", {"links.0.between": ["a", "c"]}, "links[0].between"),
    ("link-to-itself", {"links.0.between": ["a", "a"]}, "links[0].between"),
    ("link-one-end", {"links.0.between": ["a"]}, "links[0].between"),
    ("link-no-latency", {"links.0.latency": DELETE}, "links[0].latency"),
    ("link-no-bandwidth", {"links.0.bandwidth": DELETE}, "links[0].bandwidth"),
    ("link-unknown-key", {"links.0.colour": "red"}, "links[0].colour"),
    ("link-three-bandwidths", {"links.0.bandwidth": ["1Mbps", "2Mbps", "3Mbps"]}, "links[0].bandwidth"),
    ("link-bandwidth-one-end", {"links.0.bandwidth": {"a": "1Mbps"}}, "links[0].bandwidth"),
    ("duplicate-link", {"links.1": {"between": ["b", "a"], "bandwidth": "1Mbps", "latency": "1ms"}},
     "links[1].between"),
    ("billion-workers", {"datacenters.a.workers": 1_000_000_000}, "datacenters.a.workers"),
    ("zero-workers", {"datacenters.a.workers": 0}, "datacenters.a.workers"),
    ("negative-workers", {"datacenters.a.workers": -3}, "datacenters.a.workers"),
    ("word-workers", {"datacenters.a.workers": "many"}, "datacenters.a.workers"),
    ("bool-workers", {"datacenters.a.workers": True}, "datacenters.a.workers"),
    ("empty-worker-list", {"datacenters.a.workers": []}, "datacenters.a.workers"),
    ("population-zero", {"datacenters.a.workers": {"count": 0}}, "datacenters.a.workers.count"),
    ("population-word", {"datacenters.a.workers": {"count": "lots"}}, "datacenters.a.workers.count"),
    ("population-no-count", {"datacenters.a.workers": {"speed": 0.5}}, "datacenters.a.workers.count"),
    ("population-too-big", {"datacenters.a.workers": {"count": 10**15}}, "datacenters.a.workers.count"),
    ("population-unknown-key", {"datacenters.a.workers": {"count": 5, "ram": "4GB"}}, "datacenters.a.workers.ram"),
    ("population-zero-speed", {"datacenters.a.workers": {"count": 5, "speed": 0}}, "datacenters.a.workers.speed"),
    ("zero-speed-worker", {"datacenters.a.workers": [{"speed": 0}]}, "datacenters.a.workers[0].speed"),
    ("word-speed-worker", {"datacenters.a.workers": [{"speed": "quick"}]}, "datacenters.a.workers[0].speed"),
    ("worker-unknown-key", {"datacenters.a.workers": [{"ram": "4GB"}]}, "datacenters.a.workers[0].ram"),
    ("negative-device-speed", {"datacenters.a.device": {"speed": -1}}, "datacenters.a.device.speed"),
    ("gpus-per-worker-not-read", {"datacenters.a.gpus_per_worker": 1}, "datacenters.a.gpus_per_worker"),
    ("worker-gpus-not-read", {"datacenters.a.workers": [{"gpus": 1}]}, "datacenters.a.workers[0].gpus"),
    ("latitude-100", {"datacenters.a.location": [100, 0]}, "datacenters.a.location[0]"),
    ("location-word", {"datacenters.a.location": "paris"}, "datacenters.a.location"),
    ("dc-unknown-key", {"datacenters.a.cpu": 4}, "datacenters.a.cpu"),
    ("dc-bad-name", {"datacenters.a b": {"workers": 1}}, "datacenters.a b"),
    ("no-datacenters", {"datacenters": {}}, "datacenters"),
    ("disconnected", {"links": []}, "links"),
    ("links-not-list", {"links": "none"}, "links"),
    ("bare-outage", {"links.0.outages": [[20, 30]]}, "links[0].outages[0][0]"),
    ("outage-backwards", {"links.0.outages": [["20s", "10s"]]}, "links[0].outages[0]"),
    ("outage-word", {"links.0.outages": "always"}, "links[0].outages"),
    ("bare-profile-bandwidth", {"links.0.profile": [["0s", 50]]}, "links[0].profile[0].bandwidth"),
    ("profile-unsorted", {"links.0.profile": [["10s", "5Mbps"], ["5s", "2Mbps"]]}, "links[0].profile[1].at"),
    ("profile-short-step", {"links.0.profile": [["0s"]]}, "links[0].profile[0]"),
    ("top-unknown-key", {"colour": "red"}, "colour"),
    ("lan-not-mapping", {"lan": "fast"}, "lan"),
    ("lan-half-asymmetric", {"lan.bandwidth": {"up": "5Mbps"}}, "lan.bandwidth"),
    ("lan-unknown-key", {"lan.mtu": 1500}, "lan.mtu"),
    ("dc-lan-bare-latency", {"datacenters.a.lan": {"latency": 3}}, "datacenters.a.lan.latency"),
    ("availability-unknown-key", {"datacenters.a.availability": {"often": True}}, "datacenters.a.availability.often"),
    ("availability-empty", {"datacenters.a.availability": {}}, "datacenters.a.availability"),
    ("availability-not-mapping", {"datacenters.a.availability": "sometimes"}, "datacenters.a.availability"),
    ("availability-bare-down", {"datacenters.a.workers": [{"availability": {"down": [[1, 2]]}}]},
     "datacenters.a.workers[0].availability.down[0][0]"),
    ("availability-down-backwards", {"datacenters.a.availability": {"down": [["5s", "2s"]]}},
     "datacenters.a.availability.down[0]"),
    ("availability-down-overlap", {"datacenters.a.availability": {"down": [["1s", "5s"], ["2s", "6s"]]}},
     "datacenters.a.availability.down[1]"),
    ("availability-down-word", {"datacenters.a.availability": {"down": "weekends"}},
     "datacenters.a.availability.down"),
    ("availability-down-and-model", {"datacenters.a.availability": {"down": [["1s", "2s"]], "mean_up": "1s",
                                                                     "mean_down": "1s"}}, "datacenters.a.availability"),
    ("availability-mean-up-only", {"datacenters.a.availability": {"mean_up": "300s"}},
     "datacenters.a.availability.mean_down"),
    ("availability-mean-zero", {"datacenters.a.availability": {"mean_up": "0s", "mean_down": "1s"}},
     "datacenters.a.availability.mean_up"),
    ("availability-bare-crash", {"datacenters.a.workers": [{"availability": {"crash_at": 30}}]},
     "datacenters.a.workers[0].availability.crash_at"),
    ("availability-negative-crash", {"datacenters.a.availability": {"crash_at": "-1s"}},
     "datacenters.a.availability.crash_at"),
    ("background-rate-bare", {"links.0.background": {"rate": 40}}, "links[0].background.rate"),
    ("background-two-sources-in-one", {"links.0.background": {"rate": "1Mbps", "poisson": {}}}, "links[0].background"),
    ("background-from-elsewhere", {"links.0.background": {"rate": "1Mbps", "from": "z"}}, "links[0].background.from"),
    ("background-poisson-no-size", {"links.0.background": {"poisson": {"flows_per_s": 5}}},
     "links[0].background.poisson.mean_size"),
    ("background-poisson-zero-rate", {"links.0.background": {"poisson": {"flows_per_s": 0, "mean_size": "1MB"}}},
     "links[0].background.poisson.flows_per_s"),
    ("background-poisson-bare-size", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": 1000}}},
     "links[0].background.poisson.mean_size"),
    ("background-poisson-sizes-word", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": "1MB",
                                                                          "sizes": "pareto"}}},
     "links[0].background.poisson.sizes"),
    ("background-lognormal-no-sigma", {"links.0.background": {"poisson": {"flows_per_s": 5, "mean_size": "1MB",
                                                                          "sizes": {"lognormal": {}}}}},
     "links[0].background.poisson.sizes.lognormal.sigma"),
    ("background-lognormal-negative-sigma", {"links.0.background": {"poisson": {
        "flows_per_s": 5, "mean_size": "1MB", "sizes": {"lognormal": {"sigma": -1}}}}},
     "links[0].background.poisson.sizes.lognormal.sigma"),
    ("background-replay-missing-file", {"links.0.background": {"replay": "no-such-run/traffic.parquet"}},
     "links[0].background.replay"),
    ("background-list-second-bad", {"links.0.background": [{"rate": "1Mbps"}, {"rate": "-1Mbps"}]},
     "links[0].background[1].rate"),
    ("background-load-missing-file", {"links.0.background": {"load_csv": "no-such-load.csv"}},
     "links[0].background.load_csv"),
    ("availability-trace-missing-file", {"datacenters.a.availability": {"trace": "no-such-trace.csv"}},
     "datacenters.a.availability.trace"),
    ("availability-trace-number", {"datacenters.a.workers": [{"availability": {"trace": 5}}]},
     "datacenters.a.workers[0].availability.trace"),
    ("availability-trace-on-population",
     {"datacenters.a.workers": {"count": 50, "availability": {"trace": str(FLEET_TRACE)}}},
     "datacenters.a.workers.availability.trace"),
    ("availability-trace-and-down", {"datacenters.a.availability": {"trace": "t.csv", "down": [["1s", "2s"]]}},
     "datacenters.a.availability"),
    ("speed-profile-word", {"datacenters.a.device": {"speed_profile": "varies"}}, "datacenters.a.device.speed_profile"),
    ("speed-profile-short-step", {"datacenters.a.workers": [{"speed_profile": [["0s"]]}]},
     "datacenters.a.workers[0].speed_profile[0]"),
    ("speed-profile-zero-speed", {"datacenters.a.workers": [{"speed_profile": [["0s", 0]]}]},
     "datacenters.a.workers[0].speed_profile[0][1]"),
    ("speed-profile-bare-time", {"datacenters.a.workers": [{"speed_profile": [[10, 0.5]]}]},
     "datacenters.a.workers[0].speed_profile[0][0]"),
    ("speed-profile-unsorted", {"datacenters.a.device": {"speed_profile": [["5s", 1.0], ["1s", 0.5]]}},
     "datacenters.a.device.speed_profile[1][0]"),
    ("slowdown-unknown-key", {"datacenters.a.device": {"slowdown": {"gamma": 1}}},
     "datacenters.a.device.slowdown.gamma"),
    ("slowdown-not-mapping", {"datacenters.a.workers": [{"slowdown": 5}]}, "datacenters.a.workers[0].slowdown"),
    ("slowdown-p-only", {"datacenters.a.workers": [{"slowdown": {"p": 0.1}}]},
     "datacenters.a.workers[0].slowdown.factor"),
    ("slowdown-p-above-one", {"datacenters.a.workers": [{"slowdown": {"p": 2, "factor": 5}}]},
     "datacenters.a.workers[0].slowdown.p"),
    ("slowdown-factor-below-one", {"datacenters.a.workers": [{"slowdown": {"p": 0.1, "factor": 0.5}}]},
     "datacenters.a.workers[0].slowdown.factor"),
    ("slowdown-lognormal-no-sigma", {"datacenters.a.device": {"slowdown": {"lognormal": {}}}},
     "datacenters.a.device.slowdown.lognormal.sigma"),
    ("slowdown-lognormal-word-sigma", {"datacenters.a.device": {"slowdown": {"lognormal": {"sigma": "wide"}}}},
     "datacenters.a.device.slowdown.lognormal.sigma"),
    ("slowdown-lognormal-and-p", {"datacenters.a.device": {"slowdown": {"lognormal": {"sigma": 1}, "p": 0.1}}},
     "datacenters.a.device.slowdown"),
]
RAW_TOPOLOGIES: list[tuple[str, Any, str]] = [
    ("duplicate-datacenter", "datacenters:\n  a: {workers: 1}\n  a: {workers: 2}\n", "line 3"),
    ("duplicate-link-key", "datacenters: {a: {}, b: {}}\nlinks:\n  - {between: [a, b], bandwidth: 1Mbps, "
                           "bandwidth: 2Mbps, latency: 1ms}\n", "duplicate key 'bandwidth'"),
    ("not-utf8", b"name: caf\xe9\ndatacenters: {a: {}}\n", "byte 9"),
    ("nul-bytes", b"name: t\x00\n", "NUL"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)), "aliases"),
    ("yaml-syntax", "datacenters: [a, b\n", "line"),
    ("python-tag", "datacenters: !!python/object/apply:os.system [echo hi]\n", "tag"),
    ("top-level-list", "- a\n- b\n", "document"),
    ("empty-file", "", "document"),
    ("tab-indent", "datacenters:\n\ta: {}\n", "line 2"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in TOPOLOGY_CASES + RAW_TOPOLOGIES],
                         ids=[c[0] for c in TOPOLOGY_CASES + RAW_TOPOLOGIES])
def test_bad_topology(workdir: Path, change: Any, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(_topology_case(workdir, change), expected, workdir, capsys)


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in TOPOLOGY_CASES[:5]], ids=[c[0] for c in
                                                                                           TOPOLOGY_CASES[:5]])
def test_bad_topology_names_its_file(workdir: Path, change: Any, expected: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    main(_topology_case(workdir, change))
    assert "bad-topo.yaml" in capsys.readouterr().err
