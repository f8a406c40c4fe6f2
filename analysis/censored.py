"""Time-to-target as censored data: who reached a target that was fixed in advance, how fast, and
whether two methods differ -- with intervals, over seeds, counting the seeds that never got there.

Why: averaging time-to-target over only the seeds that reached it flatters a method that usually
fails, and a seed that touched the target once and collapsed is not a method that trains.  A reviewer
reads survival-style summaries instead:

* :func:`reached_and_held` -- per run, the first evaluation at which *every* condition of a target
  holds (e.g. high-quality fraction >= 0.7 *and* >= 7 of 8 modes) and still holds at the next
  evaluation (or it is the run's last evaluation: nothing after it contradicts it);
* :func:`censored_summary` -- the fraction of seeds that reached it and the median time with a
  percentile-bootstrap interval over seeds, a non-reaching seed counted as "later than any budget"
  (+inf), so the median is finite only when more than half the seeds reached it;
* :func:`paired_comparison` -- two methods run on the same seeds: the bootstrap interval of the ratio
  of their medians and a paired sign-flip permutation test on log time (non-reaching seeds ranked
  last, tied with each other), so "A is faster" is said only when the interval excludes 1 / p < 0.05,
  and "no difference measured" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Condition = tuple[float, bool]
"""(threshold, higher_is_better) of one metric."""


def _meets(frame: pd.DataFrame, target: Mapping[str, Condition]) -> np.ndarray:
    ok = np.ones(len(frame), dtype=bool)
    for metric, (threshold, higher) in target.items():
        if metric not in frame.columns:
            raise KeyError(f"no column {metric!r} in the metrics (have: {', '.join(map(str, frame.columns))})")
        values = frame[metric].to_numpy(dtype=float)
        ok &= (values >= threshold) if higher else (values <= threshold)
    return ok


def reached_and_held(metrics: pd.DataFrame, target: Mapping[str, Condition], columns: Sequence[str] = (
        "iteration", "virtual_time_s", "wan_bytes", "egress_usd"), keys: Sequence[str] = ("run",)) -> pd.DataFrame:
    """One row per ``keys`` group of ``metrics`` (one row per evaluation): ``reached`` and, where reached,
    ``columns`` at the first evaluation meeting every condition of ``target`` that also meets it at the
    next evaluation (or is the group's last).  NaN where not reached."""
    rows = []
    for key, group in metrics.sort_values("iteration").groupby(list(keys), sort=True):
        ok = _meets(group, target)
        held = ok & np.append(ok[1:], True)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        first = int(np.argmax(held)) if held.any() else -1
        row["reached"] = first >= 0
        for column in columns:
            row[column] = float(group[column].iloc[first]) if first >= 0 and column in group else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "reached", *columns])


def _censored(values: Sequence[float], reached: Sequence[bool]) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    out[~np.asarray(reached, dtype=bool)] = math.inf
    return out


def _median(x: np.ndarray) -> float:
    """The median of a sample that may hold +inf (a lower median on ties at the middle: never nan)."""
    s = np.sort(x)
    n = len(s)
    if n == 0:
        return math.nan
    lo, hi = s[(n - 1) // 2], s[n // 2]
    return float(hi if math.isinf(hi) else (lo + hi) / 2)


def _interval(boots: Sequence[float], level: float) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (nan, nan if there are none)."""
    s = np.sort(np.asarray(boots, dtype=float))
    if s.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    return float(s[math.floor(tail * (s.size - 1))]), float(s[math.ceil((1 - tail) * (s.size - 1))])


@dataclass(frozen=True)
class CensoredSummary:
    """Seeds that reached the target, and the median time with its bootstrap interval (inf: not reached)."""

    n: int
    reached: int
    median: float
    low: float
    high: float

    def text(self, fmt: str = ".3g", unit: str = "") -> str:
        """``"7/10 · 12.3 s [9.1, inf]"``: reaching seeds, median, 95 % interval."""
        def f(v: float) -> str:
            return "never" if math.isinf(v) else format(v, fmt) + unit
        return f"{self.reached}/{self.n} · {f(self.median)} [{f(self.low)}, {f(self.high)}]"


def censored_summary(values: Sequence[float], reached: Sequence[bool], *, n_boot: int = 4000,
                     level: float = 0.95, seed: int = 0) -> CensoredSummary:
    """Fraction reaching and the median (non-reaching seeds at +inf) with a percentile-bootstrap interval."""
    x = _censored(values, reached)
    n = len(x)
    if n == 0:
        return CensoredSummary(0, 0, math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    low, high = _interval([_median(x[rng.integers(0, n, n)]) for _ in range(n_boot)], level)
    return CensoredSummary(n, int(np.isfinite(x).sum()), _median(x), low, high)


@dataclass(frozen=True)
class PairedComparison:
    """A against B on the same seeds: median ratio A/B with its interval, the paired test's p, a verdict."""

    ratio: float
    low: float
    high: float
    p_value: float
    verdict: str


def paired_comparison(a: Sequence[float], a_reached: Sequence[bool], b: Sequence[float], b_reached: Sequence[bool],
                      *, n_boot: int = 4000, n_perm: int = 20000, level: float = 0.95, seed: int = 0,
                      names: tuple[str, str] = ("A", "B")) -> PairedComparison:
    """Times of two methods on the same seeds (index i = seed i in both).  Ratio of medians (inf where
    A's median is censored, 0 where only B's is) with a paired bootstrap interval; sign-flip permutation
    p-value on paired differences of log time, non-reaching seeds set above every finite time."""
    x, y = _censored(a, a_reached), _censored(b, b_reached)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError("paired comparison needs the same, non-zero number of seeds on both sides")
    finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
    ceiling = (finite.max() if finite.size else 1.0) * 10.0  # ranks above every finite time, tied among themselves
    lx, ly = (np.log(np.where(np.isfinite(v), np.maximum(v, 1e-300), ceiling)) for v in (x, y))
    d = lx - ly
    rng = np.random.default_rng(seed)
    observed = abs(d.mean())
    flips = rng.choice((-1.0, 1.0), size=(n_perm, len(d)))
    p = float((np.abs((flips * d).mean(axis=1)) >= observed - 1e-12).mean()) if observed > 0 else 1.0

    def ratio(mx: float, my: float) -> float:
        if (math.isinf(mx) and math.isinf(my)) or (mx == 0 and my == 0):
            return math.nan
        if my == 0:  # a final quality of 0 (a dead run): any positive value is infinitely many times it
            return math.inf
        return math.inf if math.isinf(mx) else 0.0 if math.isinf(my) else mx / my

    n = len(x)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        boots.append(ratio(_median(x[idx]), _median(y[idx])))
    low, high = _interval([r for r in boots if not math.isnan(r)], level)
    r = ratio(_median(x), _median(y))
    faster = p < 0.05 and not (low <= 1.0 <= high)
    if faster and r < 1:
        verdict = f"{names[0]} faster"
    elif faster and r > 1:
        verdict = f"{names[1]} faster"
    else:
        verdict = "no difference measured"
    return PairedComparison(r, low, high, p, verdict)
