"""Experiment suites: a base experiment x a grid of changes, run resumably on a cluster.

``spec`` expands and validates a suite YAML into cells (its setting transforms -- ``bandwidth_scale``,
``latency_scale``, ``compute_scale`` -- live in testbed.experiment.transforms), ``replay_plan`` picks the
cells a ``replay: true`` suite re-costs from another cell instead of training, ``backends`` and
``scheduler`` run cells in local processes or on Ray (registered by testbed.runtime), ``index`` owns
``results/<suite>/index.csv`` and ``estimate`` answers ``--dry-run``.  The CLI entry is
``python -m testbed run SUITE.yaml``.
"""

from testbed.suite.options import BackendOptions
from testbed.suite.scheduler import SuiteOutcome, run_suite
from testbed.suite.spec import Cell, Suite, is_suite, load_suite, parse_suite

__all__ = ["BackendOptions", "Cell", "Suite", "SuiteOutcome", "is_suite", "load_suite", "parse_suite", "run_suite"]
