"""One exception type for bad user input, so every front end prints one line.

Researchers hand the testbed YAML files; when one is wrong they need to know
which file, which field, and how to fix it -- not a traceback.  Every loader
raises :class:`ConfigError`; the CLI catches it, prints ``str(err)`` and exits 2.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """Bad user input: names the source, the field, the problem and the fix."""

    def __init__(self, source: str | Path | None, field: str, problem: str, fix: str) -> None:
        self.source = str(source) if source is not None else "<input>"
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.source}: {field}: {problem} (fix: {fix})")
