"""The rows a tuned, censored study writes: its tuning criterion, the censored summary and paired-test
rows of its long-form summary csv, the exact sign-flip test, and the "never" formatting of its tables.

Why a module: every study that compares quality the way issue 25 asks (tune on tuning seeds, evaluate
on fresh ones, time-to-target as censored data, paired tests over seeds) applies the same criterion
and writes the same rows -- gaia-vs-ps and fedavg-vs-fedsgd first.  Written once here, the two pages
cannot drift apart in what "chosen", "median [95 %]" or "p" mean.  The statistics themselves are
:mod:`analysis.censored`'s; this module only lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.censored import Condition, censored_summary, paired_comparison, reached_and_held

RING8_COVERAGE: Mapping[str, Condition] = MappingProxyType(
    {"high_quality_fraction": (0.7, True), "modes_covered": (7.0, True)})
"""Issue 25's ring8 target with coverage: high-quality fraction >= 0.7 and >= 7 of 8 modes at one evaluation,
reached and held.  Written once, read-only: a study that moves it (the regime map's target sensitivity) copies it."""
Row = tuple[str, str, float | str]
"""One (series, quantity, value) row of a study's long-form summary csv."""


def complete_runs(root: Path, target: Mapping[str, Condition],
                  budget: Callable[[dict[str, Any]], int] | None = None,
                  ) -> Iterator[tuple[dict[str, Any], dict[str, Any], pd.DataFrame]]:
    """Per complete run of the suite directory ``root``: the columns every tuned study keeps (run, cell, lr,
    batch, seed, reach of ``target`` with its iteration / virtual s / WAN MB, the mean of high-quality
    fraction x modes/8 over the last four evaluations, final quality, the run's totals), its config and
    its metrics (sorted by iteration).  ``budget(config)``, if given, cuts a longer run to its first
    ``budget`` iterations (valid only where the run's first iterations do not depend on its length: a
    constant learning rate), the totals then read at that evaluation."""
    index = pd.read_csv(root / "index.csv")
    for _, r in index[index["status"] == "complete"].iterrows():
        config = yaml.safe_load((root / r["run_dir"] / "config.yaml").read_text())
        metrics = pd.read_csv(root / r["run_dir"] / "metrics.csv").sort_values("iteration")
        totals = {"run_iterations": int(r["iterations"]), "run_virtual_s": float(r["virtual_time_s"]),
                  "run_wan_MB": float(r["wan_bytes"]) / 1e6, "run_wall_s": float(r["wall_time_s"])}
        limit = budget(config) if budget is not None else None
        if limit is not None and limit < totals["run_iterations"]:
            metrics = metrics[metrics["iteration"] <= limit]
            last = metrics.iloc[-1]
            totals = {"run_iterations": int(last["iteration"]), "run_virtual_s": float(last["virtual_time_s"]),
                      "run_wan_MB": float(last["wan_bytes"]) / 1e6, "run_wall_s": float(last["wall_time_s"])}
        hit = reached_and_held(metrics.assign(run="r"), target).iloc[0]
        tail = metrics.tail(4)
        yield {
            "run_dir": str(r["run_dir"]), "cell": str(r["cell"]).rsplit("_seed=", 1)[0],
            "batch": int(config["training"]["batch_size"]), "lr": float(config["training"]["lr_g"]),
            "seed": int(config["seed"]), "reached": bool(hit["reached"]), "iteration": hit["iteration"],
            "virtual_time_s": hit["virtual_time_s"], "wan_MB": hit["wan_bytes"] / 1e6,
            "score_last4": float((tail["high_quality_fraction"] * tail["modes_covered"] / 8).mean()),
            "final_hqf": float(metrics["high_quality_fraction"].iloc[-1]),
            "final_modes": float(metrics["modes_covered"].iloc[-1]), **totals}, config, metrics


def never(v: float | str, fmt: str) -> str:
    """``v`` formatted, "never" for +inf (a censored time), "--" for nan (no value)."""
    if isinstance(v, str):
        return v
    return "never" if math.isinf(v) else "--" if v != v else format(v, fmt)


def rank_settings(rows: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Per setting (``key`` columns) of tuning ``rows`` (``reached``, ``iteration``, ``score_last4``, ``lr``
    per run): seeds, seeds reaching and holding, median iteration to target (inf if censored), mean
    last-four score -- sorted by the criterion the studies fix before their runs: most seeds reaching,
    then the smallest median iteration, then the highest score, then the smaller lr."""
    agg = (rows.groupby(list(key), dropna=False)
           .apply(lambda g: pd.Series({
               "setting_seeds": len(g), "setting_reached": int(g["reached"].sum()),
               "setting_median_iteration": censored_summary(g["iteration"].fillna(0), g["reached"], n_boot=1).median,
               "setting_score": g["score_last4"].mean()}), include_groups=False)
           .reset_index())
    return agg.assign(r=-agg["setting_reached"], s=-agg["setting_score"]).sort_values(
        ["r", "setting_median_iteration", "s", "lr"], kind="stable").drop(columns=["r", "s"])


def two_round_choice(round1: pd.DataFrame, round2: pd.DataFrame, key: Sequence[str]
                     ) -> tuple[pd.DataFrame, dict[Any, tuple[Any, ...]]]:
    """The tuning criterion (:func:`rank_settings`) in two rounds, as the tuned studies fix it before their runs:
    round 1 ranks every setting of each group (``key[0]``: a method or series) over its seeds; a round-2
    setting (a new value of ``key[1]``) is ranked against round 1's choice *on round 2's seeds only*, and
    replaces it if it ranks first.  Returns both rounds' runs with their setting's criterion values and
    ``chosen`` (the run's setting is its group's choice), and per group the chosen ``key`` tuple."""
    group, varied = key[0], key[1]
    agg = rank_settings(round1, key)
    chosen = {r[group]: tuple(r[k] for k in key) for _, r in agg.groupby(group, sort=False).head(1).iterrows()}
    agg2 = pd.DataFrame(columns=agg.columns)
    for name, rows in round2.groupby(group):
        base = round1[(round1[list(key)].apply(tuple, axis=1) == chosen[name]) & round1["seed"].isin(rows["seed"])]
        ranked = rank_settings(pd.concat([base, rows]), key)
        agg2 = pd.concat([agg2, ranked[ranked[varied].isin(rows[varied])]], ignore_index=True)
        chosen[name] = tuple(ranked.iloc[0][k] for k in key)
    parts = [round1.merge(agg, on=list(key), how="left")]
    if len(round2):
        parts.append(round2.merge(agg2.astype(agg.dtypes.to_dict()), on=list(key), how="left"))
    out = pd.concat(parts, ignore_index=True)
    out["chosen"] = [chosen.get(r[group]) == tuple(r[k] for k in key) for _, r in out.iterrows()]
    return out, chosen


def censored_rows(series: str, g: pd.DataFrame, times: Sequence[tuple[str, str]]) -> list[Row]:
    """Median and 95 % interval over ``g``'s seeds of each (column, name) in ``times`` (time to target,
    NaN where not ``reached``: censored at +inf)."""
    rows: list[Row] = []
    for column, name in times:
        s = censored_summary(g[column].fillna(0), g["reached"])
        rows += [(series, f"{name}_median", s.median), (series, f"{name}_low", s.low), (series, f"{name}_high", s.high)]
    return rows


def paired_rows(name: str, a: pd.DataFrame, b: pd.DataFrame, columns: Sequence[tuple[str, str]],
                names: tuple[str, str]) -> list[Row]:
    """``a`` against ``b`` (the same seeds, in order) on each of ``columns``: ratio, interval, p, verdict."""
    rows: list[Row] = []
    for column, qn in columns:
        q = paired_comparison(a[column].fillna(0), a["reached"], b[column].fillna(0), b["reached"], names=names)
        rows += [(name, f"{qn}_ratio", q.ratio), (name, f"{qn}_ratio_low", q.low), (name, f"{qn}_ratio_high", q.high),
                 (name, f"{qn}_p", q.p_value), (name, f"{qn}_verdict", q.verdict)]
    return rows


def paired_series(ev: pd.DataFrame, a_name: str, b_name: str, time_column: str, times: Sequence[tuple[str, str]]
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[Row]] | None:
    """Series ``a_name`` and ``b_name`` of the evaluation runs ``ev`` (``series``, ``seed``, ``reached`` and the
    time columns) on the seeds both ran, in seed order, and their rows: seeds paired, seeds on which each reached
    the target sooner by ``time_column`` (a seed that does not reach it is later than any), and
    :func:`paired_rows` on ``times``; None when they share no seed."""
    a, b = (ev[ev["series"] == s].set_index("seed") for s in (a_name, b_name))
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        return None
    aa, bb = a.loc[seeds], b.loc[seeds]
    name = f"{a_name} vs {b_name}"
    ta, tb = (x[time_column].where(x["reached"], np.inf).to_numpy() for x in (aa, bb))
    rows: list[Row] = [(name, "paired_seeds", len(seeds)), (name, "seeds_a_sooner", int((ta < tb).sum())),
                       (name, "seeds_b_sooner", int((tb < ta).sum()))]
    return aa, bb, rows + paired_rows(name, aa, bb, times, (a_name, b_name))


def sign_flip_p(d: np.ndarray) -> float:
    """Exact two-sided paired sign-flip p of the mean difference (every one of the 2^n sign patterns)."""
    n = len(d)
    signs = np.array([[1 - 2 * ((k >> i) & 1) for i in range(n)] for k in range(2 ** n)])
    return float((np.abs((signs * d).mean(axis=1)) >= abs(d.mean()) - 1e-12).mean())


def median_interval(v: dict[tuple[str, str], float | str], series: str, name: str, fmt: str = ".4g") -> str:
    """``"median [low, high]"`` of :func:`censored_rows`' ``name`` for ``series`` in a {(series, quantity):
    value} map of the summary csv, "never" where censored."""
    return (f"{never(v[series, name + '_median'], fmt)} [{never(v[series, name + '_low'], fmt)}, "
            f"{never(v[series, name + '_high'], fmt)}]")


def ratio_interval(v: dict[tuple[str, str], float | str], pair: str, name: str) -> str:
    """``"ratio [low, high], p = p"`` of :func:`paired_rows`' ``name`` for ``pair`` ("A vs B") in a {(series,
    quantity): value} map of the summary csv ("inf" where a median is censored); "--" where the pair has none."""
    if (pair, f"{name}_ratio") not in v:
        return "--"
    r, lo, hi = (format(v[pair, f"{name}_{k}"], ".3g") for k in ("ratio", "ratio_low", "ratio_high"))
    return f"{r} [{lo}, {hi}], p = {v[pair, name + '_p']:.2g}"
