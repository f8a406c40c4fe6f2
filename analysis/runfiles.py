"""Reading a run directory's files with their shapes checked: one ConfigError line naming the file and the fix.

Why: ``plot``, ``report`` and the study scripts read files the testbed wrote -- but a copy cut short, a
hand edit or another tool's file of the same name can be valid JSON, CSV or parquet of the wrong
shape (a ``summary.json`` that is a list, text where a number belongs, a header-only ``metrics.csv``,
a parquet file with another schema), which used to end in a pandas traceback deep inside a figure.
Each reader here checks what the figures and tables rely on: a JSON object with numbers where numbers
belong, the columns each table needs with their types, at least one row where a finished run always
has one, and the parquet schema before any row is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from testbed.core.errors import ConfigError

RERUN_FIX = "re-run that experiment (python -m testbed run X.yaml --out DIR) or delete the directory"
SUMMARY_NUMBERS = ("iterations", "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes", "lan_bytes",
                   "egress_usd")
SUMMARY_MAPPINGS = ("final_quality", "final_quality_std", "footing", "bytes_by_kind", "wan_bytes_by_kind")
TEXT, NUMBER = "text", "number"
TABLES: dict[str, tuple[dict[str, str], int]] = {
    # file: ({column: kind}, least rows a finished run has)
    "metrics.csv": ({"iteration": NUMBER, "virtual_time_s": NUMBER, "total_bytes": NUMBER, "wan_bytes": NUMBER}, 1),
    "nodes.csv": ({"node": TEXT, "compute_s": NUMBER, "communication_s": NUMBER, "waiting_s": NUMBER}, 1),
    "links.csv": ({"a": TEXT, "b": TEXT, "scope": TEXT, "bytes_ab": NUMBER, "bytes_ba": NUMBER}, 0),
    "traffic": ({"kind": TEXT, "scope": TEXT, "src_dc": TEXT, "dst_dc": TEXT, "nbytes": NUMBER,
                 "payload_nbytes": NUMBER, "egress_usd": NUMBER}, 0),
}
"""What each table must hold; metrics.csv's other columns (quality, lr) must be numbers too."""


def read_summary(path: Path) -> dict[str, Any] | None:
    """``summary.json`` as a JSON object whose totals are numbers and whose ``final_quality`` maps names to
    numbers; None when the file is missing (the run has not finished)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(path, "summary.json", f"is not valid JSON ({err.msg}, line {err.lineno})",
                          RERUN_FIX) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "summary.json", f"cannot be read ({err})", RERUN_FIX) from None
    if not isinstance(data, dict):
        raise ConfigError(path, "summary.json", f"holds a {type(data).__name__}, not a JSON object", RERUN_FIX)
    for key in SUMMARY_NUMBERS:
        if data.get(key) is not None and not _is_number(data[key]):
            raise ConfigError(path, key, f"expected a number, got {data[key]!r}", RERUN_FIX)
    for key in SUMMARY_MAPPINGS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ConfigError(path, key, f"expected a JSON object, got {type(data[key]).__name__}", RERUN_FIX)
    for name, value in (data.get("final_quality") or {}).items():
        if value is not None and not _is_number(value):
            raise ConfigError(path, f"final_quality.{name}", f"expected a number, got {value!r}", RERUN_FIX)
    for key in ("status", "headline_metric", "error"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(path, key, f"expected text, got {data[key]!r}", RERUN_FIX)
    return data


def read_config(path: Path) -> dict[str, Any] | None:
    """``config.yaml`` as a mapping (None when missing or not a mapping)."""
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(path, "config.yaml", f"is not valid YAML ({str(err).splitlines()[0]})", RERUN_FIX) from None
    return data if isinstance(data, dict) else None


def read_table(path: Path) -> pd.DataFrame:
    """``metrics.csv``, ``nodes.csv``, ``links.csv`` or ``traffic.csv``, with the columns :data:`TABLES` names."""
    if not path.is_file():
        raise ConfigError(path, path.name, "missing from a complete run", RERUN_FIX)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ConfigError(path, path.name, f"cannot be read ({str(err).splitlines()[0]})", RERUN_FIX) from None
    name = "traffic" if path.name == "traffic.csv" else path.name
    check_frame(frame, path, name)
    return frame


def read_traffic_log(run_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The per-message traffic log (``traffic.parquet``, else ``traffic.csv``), its schema checked first."""
    parquet, csv = run_dir / "traffic.parquet", run_dir / "traffic.csv"
    if parquet.is_file():
        check_parquet_schema(parquet)
        try:
            frame = pd.read_parquet(parquet, columns=columns)
        except Exception as err:  # pyarrow raises several unrelated types
            raise ConfigError(parquet, "traffic.parquet", f"cannot be read ({type(err).__name__})", RERUN_FIX) from None
        return frame
    if csv.is_file():
        frame = read_table(csv)
        return frame if columns is None else frame[columns]
    raise ConfigError(parquet, "traffic.parquet", "missing from a complete run", RERUN_FIX)


def check_parquet_schema(path: Path) -> None:
    """ConfigError unless ``traffic.parquet`` can be opened and holds the traffic columns with their types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several unrelated types
        problem = " ".join(str(err).split())[:120]
        raise ConfigError(path, "traffic.parquet", f"cannot be read ({type(err).__name__}: {problem})",
                          RERUN_FIX) from None
    for column, kind in TABLES["traffic"][0].items():
        if column not in schema.names:
            raise ConfigError(path, column, "column missing (not a traffic log the testbed wrote)", RERUN_FIX)
        field_type = schema.field(column).type
        if pa.types.is_dictionary(field_type):
            field_type = field_type.value_type
        ok = pa.types.is_null(field_type) or (  # null: an empty log (a method that sends nothing)
              pa.types.is_string(field_type) or pa.types.is_large_string(field_type) if kind == TEXT
              else pa.types.is_integer(field_type) or pa.types.is_floating(field_type))
        if not ok:
            raise ConfigError(path, column, f"is {field_type}, expected {kind}", RERUN_FIX)


def check_frame(frame: pd.DataFrame, path: Path, name: str) -> None:
    """ConfigError unless ``frame`` has :data:`TABLES` ``[name]``'s columns, their kinds and enough rows."""
    columns, least_rows = TABLES[name]
    for column in columns:
        if column not in frame.columns:
            raise ConfigError(path, column, "column missing", RERUN_FIX)
    numbers = [c for c, kind in columns.items() if kind == NUMBER]
    if name == "metrics.csv":
        numbers = list(frame.columns)
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(frame[column]) and frame[column].notna().any():
            raise ConfigError(path, column, "holds text where numbers belong", RERUN_FIX)
    if len(frame) < least_rows:
        raise ConfigError(path, path.name, f"has no rows (a finished run writes at least {least_rows})", RERUN_FIX)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
