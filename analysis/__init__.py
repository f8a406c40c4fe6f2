"""Comparison plots and tables for testbed results (docs/analysis.md): ``python -m testbed plot RESULTS_DIR``.

Why a package at the repo root: analysis reads results, it never runs training, so it depends on
``testbed`` only for the topology map, units and errors.  :func:`load_results` turns a results path
into tidy frames; each figure module registers one figure; :func:`plot_all` draws them all and
writes the summary table.
"""

from __future__ import annotations

from analysis.load import Results, load_results
from analysis.plot import PlotReport, plot_all
from analysis.table import summary_table, write_summary

__all__ = ["PlotReport", "Results", "load_results", "plot_all", "summary_table", "write_summary"]
