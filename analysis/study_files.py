"""Where a study script leaves its table: ``NAME.csv`` (every number) and ``NAME-table.md`` (the page's
table), side by side in the page's folder, and the table on stdout -- the same for every study, so
the pages under docs/studies/ can be regenerated and diffed the same way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.page_numbers import replace_generated


def write_study_table(df: pd.DataFrame, markdown: str, out_dir: Path, name: str, *, page: Path | None = None,
                      float_format: str | None = "%.6g") -> None:
    """Write ``out_dir/name.csv`` and ``out_dir/name-table.md``; print the markdown; and, if ``page`` exists, put
    the markdown between its ``<!-- begin numbers: name.csv -->`` marks (analysis.page_numbers)."""
    df.to_csv(out_dir / f"{name}.csv", index=False, float_format=float_format)
    (out_dir / f"{name}-table.md").write_text(markdown)
    print(markdown)
    if page is not None and page.exists():
        replace_generated(page, f"{name}.csv", markdown)
