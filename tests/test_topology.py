"""Topology parsing, and one test per validation rule: the one-line error names the field."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.core.errors import ConfigError
from testbed.topology.schema import load_topology

BASE = {
    "name": "t",
    "lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
    "datacenters": {"us-east": {"workers": 2}, "eu-west": {"workers": [{"speed": 1.0}, {"speed": 0.5}]}},
    "links": [{"between": ["us-east", "eu-west"], "bandwidth": "200Mbps", "latency": "38ms",
               "egress_usd_per_gb": 0.02}],
}


def with_changes(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return data


def test_parses_units_workers_and_nodes() -> None:
    topo = load_topology(BASE)
    assert topo.nodes == ("us-east/w0", "us-east/w1", "eu-west/w0", "eu-west/w1")
    assert topo.speed_of("eu-west/w1") == 0.5
    link = topo.wan_link("eu-west", "us-east")
    assert (link.bandwidth_ab_bps, link.latency_s, link.egress_usd_per_gb) == (2e8, 0.038, 0.02)
    assert topo.datacenter("us-east").lan.up_bps == 1e10
    assert topo.datacenter_of("us-east/server") == "us-east"  # service nodes are allowed


def test_per_datacenter_lan_override_and_asymmetric_nic() -> None:
    data = with_changes(**{"datacenters__eu-west__lan": {"bandwidth": {"up": "5Mbps", "down": "20Mbps"}}})
    lan = load_topology(data).datacenter("eu-west").lan
    assert (lan.up_bps, lan.down_bps, lan.latency_s) == (5e6, 20e6, 1e-4)


def test_link_says_kind_and_nominal_parameters_of_each_direction() -> None:
    data = with_changes(**{"datacenters__eu-west__lan": {"bandwidth": {"up": "5Mbps", "down": "20Mbps"},
                                                         "latency": "2ms", "jitter": "1ms"},
                           "links__0__bandwidth": ["200Mbps", "50Mbps"], "links__0__loss": 0.01})
    topo = load_topology(data)
    up, down = topo.link(("eu-west/w1", "eu-west")), topo.link(("eu-west", "eu-west/w1"))
    assert (up.kind, up.scope, up.bandwidth_bps, up.latency_s, up.jitter_s, up.loss, up.datacenter, up.wan) == \
        ("nic_up", "lan", 5e6, 0.001, 0.0005, 0.0, "eu-west", None)
    assert (down.kind, down.bandwidth_bps, down.datacenter) == ("nic_down", 20e6, "eu-west")
    forward, back = topo.link(("us-east", "eu-west")), topo.link(("eu-west", "us-east"))
    assert (forward.kind, forward.scope, forward.bandwidth_bps, back.bandwidth_bps) == ("wan", "wan", 2e8, 5e7)
    assert (forward.latency_s, forward.loss, forward.datacenter) == (0.038, 0.01, None)
    assert forward.wan is topo.wan_link("eu-west", "us-east") and not forward.latency_varies
    assert topo.link(("us-east", "eu-west")) is forward  # cached per key
    assert topo.link_capacity_bps(("eu-west", "us-east")) == 5e7 and topo.link_latency_s(("eu-west/w1", "eu-west")) \
        == 0.001
    with pytest.raises(KeyError):
        topo.link(("us-east", "mars"))


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert load_topology(path).source == str(path)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"color": "red"}, "color", "unknown key"),
        ({"datacenters__us-east__cpus": 4}, "datacenters.us-east.cpus", "unknown key"),
        ({"links__0__bandwidth": "200Mbit"}, "links[0].bandwidth", "unknown unit"),
        ({"links__0__latency": "38 parsecs"}, "links[0].latency", "unknown unit"),
        ({"links__0__bandwidth": "-5Mbps"}, "links[0].bandwidth", "> 0"),
        ({"links__0__bandwidth": 0}, "links[0].bandwidth", "> 0"),
        ({"links__0__latency": "-1ms"}, "links[0].latency", ">= 0"),
        ({"links__0__between": ["us-east", "mars"]}, "links[0].between", "unknown datacenter 'mars'"),
        ({"links__0__loss": 1.0}, "links[0].loss", "outside"),
        ({"links__0__loss": -0.1}, "links[0].loss", "outside"),
        ({"datacenters__us-east__workers": 0}, "datacenters.us-east.workers", ">= 1"),
        ({"datacenters__eu-west__workers": [{"speed": -1}]}, "datacenters.eu-west.workers[0].speed", "outside"),
        ({"links__0__outages": [["5s", "1s"]]}, "links[0].outages[0]", "before it starts"),
        ({"links__0__profile": [["10s", "5Mbps"], ["1s", "9Mbps"]]}, "links[0].profile[1].at", "order"),
        ({"lan__bandwidth": "fast"}, "lan.bandwidth", "cannot read"),
    ],
)
def test_bad_input_names_field(changes: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_topology(with_changes(**changes))
    assert err.value.field == field
    assert words in str(err.value)
    assert "\n" not in str(err.value) and "fix:" in str(err.value)


def test_duplicate_link() -> None:
    data = with_changes()
    data["links"].append({"between": ["eu-west", "us-east"], "bandwidth": "1Gbps", "latency": "40ms"})
    with pytest.raises(ConfigError, match="duplicate link") as err:
        load_topology(data)
    assert err.value.field == "links[1].between"


def test_unreachable_datacenter() -> None:
    data = with_changes()
    data["datacenters"]["ap-south"] = {"workers": 1}
    with pytest.raises(ConfigError, match=r"no path reaches datacenter\(s\) \['ap-south'\]") as err:
        load_topology(data)
    assert err.value.field == "links"


def test_missing_link_bandwidth() -> None:
    data = with_changes()
    del data["links"][0]["bandwidth"]
    with pytest.raises(ConfigError) as err:
        load_topology(data)
    assert err.value.field == "links[0].bandwidth"


def test_unknown_node_lookup() -> None:
    topo = load_topology(BASE)
    with pytest.raises(KeyError):
        topo.datacenter_of("us-east/w9")
    with pytest.raises(KeyError):
        topo.datacenter_of("mars/w0")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testbed", *args], capture_output=True, text=True)


def test_cli_topo_check_ok_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    result = _cli("topo", "check", str(good))
    assert result.returncode == 0, result.stderr
    assert "2 datacenters" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_changes(links__0__bandwidth="200Mbit")))
    result = _cli("topo", "check", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "links[0].bandwidth" in result.stderr and str(bad) in result.stderr


def test_cli_topo_check_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    result = _cli("topo", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "no such file" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    result = _cli("topo", "check", str(broken))
    assert result.returncode == 2 and "invalid YAML" in result.stderr and "Traceback" not in result.stderr
