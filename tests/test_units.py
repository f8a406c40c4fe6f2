"""Units are parsed in one place; unknown units are errors, never a silent factor."""

import pytest

from testbed.core.units import UnitError, parse_bandwidth_bps, parse_nbytes, parse_seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [("200Mbps", 2e8), ("10Gbps", 1e10), ("64Kbps", 64e3), ("1e6", 1e6), (5, 5.0), ("1.5 Mbps", 1.5e6)],
)
def test_bandwidth(text: object, expected: float) -> None:
    assert parse_bandwidth_bps(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5GB", 1.5e9), ("64KiB", 65536), ("1MiB", 1048576), ("1MB", 1e6), ("12", 12.0)],
)
def test_sizes(text: object, expected: float) -> None:
    assert parse_nbytes(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"), [("38ms", 0.038), ("0.1ms", 1e-4), ("300s", 300), ("2us", 2e-6)]
)
def test_times(text: object, expected: float) -> None:
    assert parse_seconds(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("bad", ["200Mbit", "fast", "10 MBps", True, [1]])
def test_unknown_bandwidth_unit_is_error(bad: object) -> None:
    with pytest.raises(UnitError):
        parse_bandwidth_bps(bad)


def test_error_lists_accepted_units() -> None:
    with pytest.raises(UnitError, match="Mbps"):
        parse_bandwidth_bps("3 furlongs")
