"""Censored time-to-target per cell and paired tests over seeds against a reference cell: the numbers a
study's "no difference measured" (or its measured difference) rests on.

Usage: python scripts/study_paired.py RESULTS_DIR OUT_DIR NAME --target T --reference CELL
                                      [--metric M] [--also M2=T2 ...] [--cells A,B,...]

Used by the beyond-the-seed study (docs/studies/beyond-the-seed.md).  A suite with ``repeat`` runs each
cell on the same seeds, so cell and reference pair by seed.  Per cell (analysis/censored.py): how many
seeds reach and hold the target, the median rounds (the runs' ``iteration``), virtual seconds and WAN
MB to it with percentile-bootstrap 95 % intervals (a seed that never holds it counted as later than any
budget), and the final metric.  Per cell against the reference: the ratio of medians with its paired
bootstrap interval and the paired sign-flip p for the final metric and for rounds and virtual seconds
to target; a difference is claimed only when p < 0.05 and the interval excludes 1.  ``--also M2=T2``
(repeatable) adds a condition the same evaluation must meet too -- issue 25's coverage target is
``--target 0.7 --also modes_covered=7`` -- held as one target (analysis/censored.py); the final metric is
still M's.  Writes
OUT_DIR/NAME.csv (one row per cell and quantity) and NAME-table.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from study_target import cell_name

from analysis import load_results
from analysis.censored import censored_summary, paired_comparison, reached_and_held
from analysis.study_files import write_study_table

TIMES = (("iteration", "rounds"), ("virtual_time_s", "virtual_s"), ("wan_MB", "wan_MB"))
"""(column of reached_and_held's rows, name on the page) of each time to target."""


def per_run(results, metric: str, target: float, also: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per complete run: cell, seed, reached, each time to target, final metric.  ``also``: further
    metrics' thresholds (higher is better) the same evaluation must meet."""
    runs = results.complete.set_index("run")
    higher = bool(runs["higher_is_better"].iloc[0])
    condition = {metric: (target, higher), **{m: (t, True) for m, t in (also or {}).items()}}
    try:
        hits = reached_and_held(results.metrics, condition)
    except KeyError as e:  # a metric the runs do not record: one line, not a traceback
        raise SystemExit(f"{e.args[0]}; fix --metric / --also") from None
    hits = hits[hits["run"].isin(runs.index)].copy()
    hits["cell"] = hits["run"].map(cell_name)
    hits["seed"] = hits["run"].map(runs["seed"]).astype(int)
    hits["final"] = hits["run"].map(runs[f"final_{metric}"])
    hits["wan_MB"] = hits["wan_bytes"] / 1e6
    return hits.sort_values(["cell", "seed"]).reset_index(drop=True)


def stats(hits: pd.DataFrame, reference: str, higher: bool) -> pd.DataFrame:
    """Long form (cell, quantity, value): every number the table and the page quote."""
    rows: list[tuple[str, str, float]] = []
    ref = hits[hits["cell"] == reference].set_index("seed")
    for cell, g in hits.groupby("cell", sort=True):
        rows += [(cell, "seeds", len(g)), (cell, "reached", int(g["reached"].sum())),
                 (cell, "final_mean", g["final"].mean()), (cell, "final_std", g["final"].std()),
                 (cell, "final_median", g["final"].median())]
        for column, name in TIMES:
            s = censored_summary(g[column].fillna(0), g["reached"])
            rows += [(cell, f"{name}_median", s.median), (cell, f"{name}_low", s.low), (cell, f"{name}_high", s.high)]
        if cell == reference:
            continue
        mine = g.set_index("seed")
        seeds = sorted(set(mine.index) & set(ref.index))
        a, b = mine.loc[seeds], ref.loc[seeds]
        q = paired_comparison(a["final"], [True] * len(seeds), b["final"], [True] * len(seeds))
        rows += [(cell, "paired_seeds", len(seeds)), (cell, "final_ratio", q.ratio), (cell, "final_low", q.low),
                 (cell, "final_high", q.high), (cell, "final_p", q.p_value),
                 (cell, "seeds_final_higher", int((a["final"].to_numpy() > b["final"].to_numpy()).sum())),
                 (cell, "final_verdict", _verdict(q, higher))]
        for column, name in TIMES[:2]:
            t = paired_comparison(a[column].fillna(0), a["reached"], b[column].fillna(0), b["reached"])
            rows += [(cell, f"{name}_ratio", t.ratio), (cell, f"{name}_ratio_low", t.low),
                     (cell, f"{name}_ratio_high", t.high), (cell, f"{name}_p", t.p_value),
                     (cell, f"{name}_verdict", _verdict(t, higher=False))]
    return pd.DataFrame(rows, columns=["cell", "quantity", "value"])


def _verdict(q, higher: bool) -> str:
    """"higher", "lower" (the cell against the reference) or "no difference measured"."""
    if q.verdict == "no difference measured":
        return q.verdict
    word = ("higher" if q.ratio > 1 else "lower") if higher else ("longer" if q.ratio > 1 else "shorter")
    return f"{word} (measured)"


def _f(v: object, fmt: str) -> str:
    if isinstance(v, str):
        return v
    v = float(v)  # type: ignore[arg-type]
    return "never" if math.isinf(v) else "--" if math.isnan(v) else format(v, fmt)


def _pair(v: dict, c: str, n: str) -> str:
    """"ratio [low, high], p = p" of cell ``c``'s quantity ``n`` against the reference."""
    low, high = ("low", "high") if n == "final" else ("ratio_low", "ratio_high")
    return (f"{_f(v[c, f'{n}_ratio'], '.3g')} [{_f(v[c, f'{n}_{low}'], '.3g')}, "
            f"{_f(v[c, f'{n}_{high}'], '.3g')}], p = {_f(v[c, f'{n}_p'], '.3g')}")


def parse_also(items: Sequence[str]) -> dict[str, float]:
    """``["modes_covered=7"]`` -> ``{"modes_covered": 7.0}``; a malformed item is one line and exit 2."""
    out: dict[str, float] = {}
    for item in items:
        metric, _, value = item.partition("=")
        try:
            out[metric.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"--also {item!r}: expected METRIC=NUMBER, e.g. --also modes_covered=7") from None
        if not metric.strip():
            raise SystemExit(f"--also {item!r}: expected METRIC=NUMBER, e.g. --also modes_covered=7")
    return out


def markdown(st: pd.DataFrame, reference: str, metric: str, target: float,
             also: Mapping[str, float] | None = None) -> str:
    v = {(c, q): x for c, q, x in st.itertuples(index=False)}
    cells = sorted(st["cell"].unique())
    condition = " and ".join([f"{metric} {target:g}", *(f"{m} {t:g}" for m, t in (also or {}).items())])
    out = (f"| cell | seeds reaching and holding {condition} | median rounds to target [95 %] "
           "| median virtual s to target [95 %] | median WAN MB to target [95 %] | final (mean ± std) |\n"
           "|---|---|---|---|---|---|\n")
    for c in cells:
        t = {n: f"{_f(v[c, n + '_median'], '.3g')} [{_f(v[c, n + '_low'], '.3g')}, {_f(v[c, n + '_high'], '.3g')}]"
             for _, n in TIMES}
        out += (f"| {c} | {v[c, 'reached']:.0f} of {v[c, 'seeds']:.0f} | {t['rounds']} | {t['virtual_s']} | "
                f"{t['wan_MB']} | {v[c, 'final_mean']:.3f} ± {v[c, 'final_std']:.3f} |\n")
    out += (f"\n| cell vs {reference} (paired by seed) | seeds | final: ratio of medians [95 %], p "
            "| seeds ending higher | rounds to target: ratio [95 %], p | virtual s to target: ratio [95 %], p "
            "| verdict (final; rounds; virtual s) |\n"
            "|---|---|---|---|---|---|---|\n")
    for c in cells:
        if c == reference:
            continue
        out += (f"| {c} | {v[c, 'paired_seeds']:.0f} | {_pair(v, c, 'final')} | {v[c, 'seeds_final_higher']:.0f} | "
                f"{_pair(v, c, 'rounds')} | {_pair(v, c, 'virtual_s')} | {v[c, 'final_verdict']}; "
                f"{v[c, 'rounds_verdict']}; {v[c, 'virtual_s_verdict']} |\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--metric", default="high_quality_fraction")
    p.add_argument("--target", type=float, required=True)
    p.add_argument("--reference", required=True, help="the cell every other cell is paired against")
    p.add_argument("--also", action="append", default=[], metavar="METRIC=T",
                   help="a further condition of the target (higher is better), e.g. modes_covered=7; repeatable")
    p.add_argument("--cells", help="comma-separated cells to keep (default: all)")
    args = p.parse_args(argv)
    also = parse_also(args.also)
    results = load_results(args.results)
    hits = per_run(results, args.metric, args.target, also)
    if args.cells:
        hits = hits[hits["cell"].isin([*args.cells.split(","), args.reference])]
    higher = bool(results.complete["higher_is_better"].iloc[0])
    st = stats(hits, args.reference, higher)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_study_table(st, markdown(st, args.reference, args.metric, args.target, also), out, args.name)
    hits.drop(columns=["wan_bytes"]).to_csv(out / f"{args.name}-runs.csv", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
