"""Numbers in a study page's prose that must come from the page's csv files -- marked, found, checked.

Why: a study page is read for its sentences, and a sentence that quotes a number its own table does
not hold ("301 ± 11 at 571 MB" where the table says 478 MB) is the kind of error a reviewer finds and
a reader never does.  So a page marks the prose whose numbers come from its tables, and
``tests/test_study_pages.py`` checks each such number against the csv files the mark names:

* ``<!-- numbers: NAME.csv [OTHER.csv ...] -->`` on its own line marks the block that follows it
  (up to the next blank line: a paragraph, a list item, a sentence);
* ``<!-- begin numbers: NAME.csv [...] -->`` ... ``<!-- end numbers -->`` marks everything between,
  the form a study script uses when it writes the section itself (:func:`replace_generated`).

Inside a marked block every number must equal a value of one of the named csv files (any cell, any
column) rounded to the decimals the page shows: "500" matches 500.4, "0.0039" matches 0.00391635,
"1,438" matches 1438.  Numbers inside inline code (`` `swap_every_epochs: 1` ``) are settings, not
results, and are not checked; nor is a link's target.  A page with no mark is not checked -- adding
the marks is how a page opts in.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

MARK = re.compile(r"^<!--\s*numbers:\s*(?P<files>[^>]*?)\s*-->\s*$")
BEGIN = re.compile(r"^<!--\s*begin numbers:\s*(?P<files>[^>]*?)\s*-->\s*$")
END = re.compile(r"^<!--\s*end numbers\s*-->\s*$")
NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-−+]?\d+)?(?![\d.,]?\d)")
"""A number as a page writes it: 500, 0.0039, 1,438, -3.2, 2e-4 (2.5x and 12 % too: the unit is not part of it)."""
IGNORED = re.compile(r"`[^`]*`|\]\([^)]*\)|<!--.*?-->|https?://\S+")
"""Inline code, a link's target, a comment, a URL: not prose numbers."""
FILE_NAME = re.compile(r"[\w.-]+\.csv")


@dataclass(frozen=True)
class Block:
    """A marked part of a page: where it starts (1-based line), the csv files it names, its text."""

    line: int
    files: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Mismatch:
    """A number in a marked block that no named csv holds at the precision shown."""

    line: int
    number: str
    context: str


def _files(spec: str, where: str) -> tuple[str, ...]:
    files = tuple(FILE_NAME.findall(spec))
    if not files:
        raise ValueError(f"{where}: a numbers mark names no csv file ({spec!r}); write <!-- numbers: NAME.csv -->")
    return files


def marked_blocks(page: str, name: str = "page") -> list[Block]:
    """The blocks of ``page`` (markdown text) marked as holding numbers from csv files."""
    lines = page.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        mark, begin = MARK.match(lines[i].strip()), BEGIN.match(lines[i].strip())
        if begin:
            files, start = _files(begin["files"], f"{name}:{i + 1}"), i + 1
            end = next((j for j in range(start, len(lines)) if END.match(lines[j].strip())), None)
            if end is None:
                raise ValueError(f"{name}:{i + 1}: '<!-- begin numbers -->' without '<!-- end numbers -->'")
            blocks.append(Block(start + 1, files, "\n".join(lines[start:end])))
            i = end + 1
        elif mark:
            files, start = _files(mark["files"], f"{name}:{i + 1}"), i + 1
            end = next((j for j in range(start, len(lines)) if not lines[j].strip()), len(lines))
            if end == start:
                raise ValueError(f"{name}:{i + 1}: a numbers mark with nothing under it (a blank line follows)")
            blocks.append(Block(start + 1, files, "\n".join(lines[start:end])))
            i = end
        else:
            i += 1
    return blocks


def csv_values(path: Path) -> list[float]:
    """Every numeric cell of a csv file (header and text cells skipped)."""
    out: list[float] = []
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            for cell in row:
                try:
                    value = float(cell)
                except ValueError:
                    continue
                if math.isfinite(value):
                    out.append(value)
    return out


def _shown(token: str) -> tuple[float, int]:
    """A number token's value and how many decimals the page shows (sci notation: exact)."""
    clean = token.replace(",", "").replace("−", "-")
    if "e" in clean.lower():
        return float(clean), -1
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    return float(clean), decimals


def matches(token: str, values: list[float]) -> bool:
    """Whether some value, rounded to the decimals ``token`` shows, equals it (a sign on either side
    is ignored: the prose says "3.2 s faster" of a difference the csv holds as -3.2)."""
    shown, decimals = _shown(token)
    for value in values:
        if decimals < 0:
            if math.isclose(abs(value), abs(shown), rel_tol=1e-9):
                return True
        elif math.isclose(abs(round(value, decimals)), abs(shown), rel_tol=0, abs_tol=0.5 * 10 ** -(decimals + 3)):
            return True
    return False


def check_page(path: Path) -> list[Mismatch]:
    """Every number in ``path``'s marked blocks that none of the block's csv files holds (a missing csv
    file is reported as one mismatch naming it)."""
    found: list[Mismatch] = []
    cache: dict[str, list[float]] = {}
    for block in marked_blocks(path.read_text(), str(path)):
        values: list[float] = []
        for name in block.files:
            csv_path = path.parent / name
            if not csv_path.is_file():
                found.append(Mismatch(block.line, name, f"no csv file {csv_path}"))
                continue
            if name not in cache:
                cache[name] = csv_values(csv_path)
            values += cache[name]
        for offset, line in enumerate(block.text.splitlines()):
            prose = IGNORED.sub(" ", line)
            for token in NUMBER.findall(prose):
                if not matches(token, values):
                    found.append(Mismatch(block.line + offset, token, line.strip()[:120]))
    return found


def replace_generated(page: Path, files: str, text: str) -> None:
    """Write ``text`` into ``page`` between its ``<!-- begin numbers: FILES -->`` and ``<!-- end numbers -->``
    lines (appended at the end, with the marks, if the page has none for ``files`` yet)."""
    begin = f"<!-- begin numbers: {files} -->"
    lines = page.read_text().splitlines() if page.exists() else []
    start = next((i for i, line in enumerate(lines) if line.strip() == begin), None)
    body = text.rstrip("\n").splitlines()
    if start is None:
        lines += ["", begin, *body, "<!-- end numbers -->"]
    else:
        end = next(j for j in range(start + 1, len(lines)) if END.match(lines[j].strip()))
        lines[start + 1:end] = body
    page.write_text("\n".join(lines) + "\n")
