"""Positional command-line arguments of the study and plot scripts (``scripts/``), parsed one way.

Why: a script run with a missing argument, or with ``--help``, must print its usage and exit 2 (0 for
``--help``) -- not a TypeError traceback from ``main(*sys.argv[1:3])``, which is what several scripts did
(the project's bad-input rule: one clear line, a non-zero exit, never a traceback).  An argument named
``out_dir`` must be an existing folder (a script writing its csv files into a missing one died in an
OSError traceback, after its analysis had run).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def positional(doc: str | None, *names: str) -> list[Any]:
    """The values of the positional arguments ``names`` (shown upper-case in the usage line), parsed from
    sys.argv with the script's docstring's first paragraph as the description.  ``"[name]"`` is optional
    (None when left out); ``"name..."`` takes one or more values (a list)."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().split("\n\n")[0])
    dests = []
    for name in names:
        dest = name.strip("[]").removesuffix("...").lower()
        nargs = "?" if name.startswith("[") else "+" if name.endswith("...") else None
        parser.add_argument(dest, metavar=dest.upper(), nargs=nargs)
        dests.append(dest)
    args = parser.parse_args()
    out_dir = getattr(args, "out_dir", None)
    if out_dir is not None and not Path(out_dir).is_dir():
        parser.error(f"OUT_DIR {out_dir}: no such folder (create it, or give docs/studies)")
    return [getattr(args, dest) for dest in dests]
