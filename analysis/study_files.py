"""Where a study script leaves its table: ``NAME.csv`` (every number) and ``NAME-table.md`` (the page's
table), side by side in the page's folder, and the table on stdout -- the same for every study, so
the pages under docs/studies/ can be regenerated and diffed the same way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_study_table(df: pd.DataFrame, markdown: str, out_dir: Path, name: str) -> None:
    """Write ``out_dir/name.csv`` and ``out_dir/name-table.md``; print the markdown."""
    df.to_csv(out_dir / f"{name}.csv", index=False, float_format="%.6g")
    (out_dir / f"{name}-table.md").write_text(markdown)
    print(markdown)
