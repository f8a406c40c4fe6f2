"""The summary table: one row per method (and sweep value), mean ± std over seeds -- CSV, markdown, LaTeX.

Why: a paper or a design review quotes numbers, not curves.  Every row says how many runs it
averages and how many failed; a method whose runs all failed still gets its row (marked failed),
and the markdown lists every failed or unfinished run with its error, so nothing disappears.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.axes import short_name
from analysis.load import Results
from analysis.separation import separation_markdown
from analysis.style import format_nbytes

TOTALS = (("iterations", "iterations"), ("virtual_time_s", "virtual time (s)"), ("wall_time_s", "wall time (s)"),
          ("wan_bytes", "WAN bytes"), ("lan_bytes", "LAN bytes"), ("egress_usd", "egress (USD)"))
BYTE_COLUMNS = frozenset({"wan_bytes", "lan_bytes"})


def summary_table(results: Results) -> pd.DataFrame:
    """One row per (dataset, method, sweep values): ``runs``, ``failed``, ``<col>_mean``, ``<col>_std``."""
    keys = results.group_columns
    runs = results.runs.copy()
    runs[keys] = runs[keys].astype(object).where(runs[keys].notna(), "?")
    values = [c for c in runs.columns if c.startswith("final_")] + [c for c, _ in TOTALS]
    done = runs[runs["status"] == "complete"]
    stats = done.groupby(keys, sort=True)[values].agg(["mean", "std"]) if len(done) else pd.DataFrame()
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    counts = runs.groupby(keys, sort=True)["status"].agg(
        runs=lambda s: int((s == "complete").sum()), failed=lambda s: int((s != "complete").sum()))
    table = counts.join(stats).reset_index()
    std_columns = [c for c in table.columns if c.endswith("_std")]
    table[std_columns] = table[std_columns].where(table["runs"] != 1, 0.0)  # one seed: no spread
    return table


def quality_columns(results: Results, table: pd.DataFrame) -> list[str]:
    """The ``final_*`` metric names in the table: the data sets' key metrics first (headline first), then
    the rest alphabetically."""
    names = [c[len("final_"):-len("_mean")] for c in table.columns if c.startswith("final_") and c.endswith("_mean")]
    lead: list[str] = []
    for dataset in sorted(results.complete["dataset"].unique()):
        lead += [m for m in results.key_metrics(dataset) if m in names and m not in lead]
    return lead + sorted(m for m in names if m not in lead)


def _cell(row: pd.Series, column: str) -> str:
    mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
    if mean is None or pd.isna(mean):
        return "—"
    if column in BYTE_COLUMNS:
        return f"{format_nbytes(mean)} ± {format_nbytes(std)}"
    return f"{mean:.4g} ± {std:.2g}"


def display_table(results: Results, table: pd.DataFrame) -> pd.DataFrame:
    """The table as strings: identity, runs, each metric and total as ``mean ± std``."""
    keys = results.group_columns
    shown = table[keys].rename(columns={k: short_name(k) for k in keys}).astype(str)
    shown["runs"] = [f"{r} ok" + (f", {f} FAILED" if f else "") for r, f in zip(table["runs"], table["failed"],
                                                                                strict=True)]
    footing = None
    if "update_order" in results.runs:
        runs = results.runs.copy()
        runs[keys] = runs[keys].astype(object).where(runs[keys].notna(), "?")
        footing = runs.groupby(keys, sort=True)[["update_order", "steps_per_iteration"]].first()
    for column, label in (("update_order", "G/D updates"), ("steps_per_iteration", "optimiser steps / iteration")):
        if footing is not None and footing[column].notna().any():
            lookup = footing[column].to_dict()
            shown[label] = [str(lookup.get(tuple(row[k] for k in keys), "?")) for _, row in table.iterrows()]
    for metric in quality_columns(results, table):
        shown[metric] = [_cell(row, f"final_{metric}") for _, row in table.iterrows()]
    for column, label in TOTALS:
        shown[label] = [_cell(row, column) for _, row in table.iterrows()]
    if shown["dataset"].nunique() == 1:
        shown = shown.drop(columns="dataset")
    return shown


def to_markdown(results: Results, table: pd.DataFrame) -> str:
    """``summary.md``: the table, what it means, and every failed or unfinished run."""
    shown = display_table(results, table)
    lines = [f"# Summary of {results.root}", "",
             "Mean ± std over seeds of each method's final evaluation and totals "
             "(std is 0 for a single run). `runs`: completed runs averaged; FAILED ones are listed below. "
             "`G/D updates`: simultaneous (both gradients from the same parameters) or alternating (G steps "
             "against the D just updated); `optimiser steps / iteration`: Adam steps one iteration applies to G "
             "and to D, summed over every copy (so equal-iteration rows are read on the right footing).", "",
             _markdown_rows(shown), "", *separation_markdown(results, table)]
    bad = results.runs[results.runs["status"] != "complete"]
    if len(bad):
        lines += ["", "## Failed or unfinished runs", "",
                  _markdown_rows(bad[["run", "method", "status", "error"]].fillna("").astype(str))]
    return "\n".join(lines) + "\n"


def _markdown_rows(frame: pd.DataFrame) -> str:
    def clean(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(clean(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(clean(str(v)) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_latex(results: Results, table: pd.DataFrame) -> str:
    """A booktabs ``tabular`` of the same table, ready to ``\\input`` into a paper."""
    shown = display_table(results, table)

    def tex(value: str) -> str:
        return (value.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("%", "\\%").replace("$", "\\$")
                .replace("&", "\\&").replace("#", "\\#").replace(" ± ", " $\\pm$ ").replace("—", "--"))

    lines = ["% generated by python -m testbed plot; needs \\usepackage{booktabs}",
             "\\begin{tabular}{" + "l" * len(shown.columns) + "}", "\\toprule",
             " & ".join(tex(c) for c in shown.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(tex(str(v)) for v in row) + " \\\\" for row in shown.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_summary(results: Results, out_dir: Path, latex: bool = False) -> list[Path]:
    """Write ``summary.csv`` and ``summary.md`` (and ``summary.tex``) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = summary_table(results)
    paths = [out_dir / "summary.csv", out_dir / "summary.md"]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(to_markdown(results, table))
    if latex:
        paths.append(out_dir / "summary.tex")
        paths[2].write_text(to_latex(results, table))
    return paths
