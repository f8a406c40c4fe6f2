"""``python -m testbed report RESULTS_DIR``: one self-contained HTML page per results directory.

Why: a results directory is dozens of files; a reviewer wants one page -- the figures, the summary
table, each run's resolved config and the command line that made it, the machine it ran on, and the
topology map -- that opens offline and can be mailed as one file.  The figures and the table are
:mod:`analysis`'s (what ``python -m testbed plot`` draws); this package only gathers run facts
(:mod:`~testbed.report.collect`), renders pictures to bytes (:mod:`~testbed.report.figures`) and
lays out the page (:mod:`~testbed.report.sections`, :mod:`~testbed.report.html`).
"""

from __future__ import annotations

from testbed.report.build import REPORT_FILE, write_report

__all__ = ["REPORT_FILE", "write_report"]

