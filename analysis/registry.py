"""The figure registry: each figure module registers one ``build(results) -> Figure``.

Why: ``python -m testbed plot`` draws every registered figure, and adding a figure is adding a
module to this package -- no central list to edit.  ``build`` raises :class:`NotApplicable` with
the reason when the figure does not apply (no sweep axis, no topology file to draw on, ...).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from analysis.load import Results
from testbed.core.registry import Registry

Build = Callable[[Results], Figure]


class NotApplicable(Exception):  # noqa: N818 -- a signal, not an error
    """Raised by a figure's ``build`` when the results cannot show it; the message says why."""


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: file stem, one-line description, builder."""

    name: str
    description: str
    build: Build


FIGURES: Registry[FigureSpec] = Registry("figure")


def figure(name: str, description: str) -> Callable[[Build], Build]:
    """Register ``build`` as the figure ``name`` (written as ``name.png``)."""

    def register(build: Build) -> Build:
        FIGURES.add(name, FigureSpec(name, description, build))
        return build

    return register


def all_figures() -> Registry[FigureSpec]:
    """Every figure, after importing the figure modules."""
    import analysis

    for info in pkgutil.iter_modules(analysis.__path__):
        importlib.import_module(f"analysis.{info.name}")
    return FIGURES
