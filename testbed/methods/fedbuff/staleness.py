"""Staleness weights s(tau): how much an update computed tau server versions ago still counts.

Why a module of its own: the three functions of Xie et al. (*Asynchronous Federated Optimization*,
2019, section 5.2), which FedBuff (Nguyen et al., AISTATS 2022) reuses with s(tau) = 1/sqrt(1 + tau),
are the one place an asynchronous method decides how it treats stale work; the YAML names them::

    staleness: constant                     # s = 1
    staleness: {poly: 0.5}                  # s = (1 + tau)^-a          (FedBuff's default, a = 0.5)
    staleness: {hinge: {a: 10, b: 4}}       # s = 1 if tau <= b else 1 / (a (tau - b) + 1)

tau is counted in server versions: the model's version when the update is applied minus the version
the client started from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number

FIELD = "algorithm.staleness"
FIX = "write staleness: constant, {poly: 0.5} or {hinge: {a: 10, b: 4}}"


@dataclass(frozen=True)
class Staleness:
    """A staleness function: ``kind`` constant | poly | hinge with its ``a`` (and hinge's ``b``)."""

    kind: str = "poly"
    a: float = 0.5
    b: float = 0.0

    def weight(self, tau: int) -> float:
        """s(tau) in (0, 1]."""
        if self.kind == "constant":
            return 1.0
        if self.kind == "poly":
            return float((1.0 + tau) ** -self.a)
        return 1.0 if tau <= self.b else 1.0 / (self.a * (tau - self.b) + 1.0)

    def describe(self) -> str:
        """The formula, for the footing and the report."""
        if self.kind == "constant":
            return "s = 1"
        if self.kind == "poly":
            return f"s = (1 + tau)^-{self.a:g}"
        return f"s = 1 if tau <= {self.b:g} else 1 / ({self.a:g} (tau - {self.b:g}) + 1)"


def parse_staleness(value: Any, src: str) -> Staleness:
    """The ``staleness`` parameter as a :class:`Staleness`; one ConfigError line naming the field otherwise."""
    if value == "constant":
        return Staleness("constant", 0.0)
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(src, FIELD, f"expected one of constant, {{poly: a}}, {{hinge: {{a, b}}}}; got {value!r}", FIX)
    (kind, arg), = value.items()
    if kind == "poly":
        return Staleness("poly", checked_number(arg, src, f"{FIELD}.poly", float, 0, 10))
    if kind == "hinge":
        if not isinstance(arg, dict) or set(arg) != {"a", "b"}:
            raise ConfigError(src, f"{FIELD}.hinge", f"expected {{a: .., b: ..}}, got {arg!r}",
                              "write staleness: {hinge: {a: 10, b: 4}}")
        return Staleness("hinge", checked_number(arg["a"], src, f"{FIELD}.hinge.a", float, 0, 1000, "(]"),
                         checked_number(arg["b"], src, f"{FIELD}.hinge.b", float, 0, 1_000_000))
    raise ConfigError(src, FIELD, f"unknown staleness function {kind!r}", FIX)
