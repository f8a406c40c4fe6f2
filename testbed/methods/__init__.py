"""The distribution methods, one package (or module) each, found by name.

Adding a method is adding ``testbed/methods/<name>/`` (or ``<name>.py``) whose class carries
``@register("<name>")`` (testbed.methods.api); :func:`algorithm_class` imports every method on
first use, so the registry is complete without a list to keep in sync.  Each method package
reads top to bottom: ``__init__.py`` (its Params and the Algorithm: who is hosted where, what is
spawned), ``protocol.py`` (what each node does, in order), ``state.py`` (what lives on an
executor).  ``api.py`` is all a method may use of the testbed; ``common/`` what methods share.
docs/adding-a-method.md is the checklist for a new one, worked through on ``gossip/``.
"""

from __future__ import annotations

import importlib
import pkgutil

from testbed.methods.api import ALGORITHMS, Algorithm, Session, register
from testbed.methods.params import parse_params

NOT_METHODS = frozenset({"api", "params", "common"})


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name not in NOT_METHODS:
            importlib.import_module(f"{__name__}.{info.name}")


def algorithm_class(name: str) -> type[Algorithm]:
    """The class registered as ``name`` (KeyError with the known names otherwise)."""
    _load_all()
    return ALGORITHMS[name]


def algorithm_names() -> list[str]:
    """Every registered method's name, sorted."""
    _load_all()
    return ALGORITHMS.names()


__all__ = ["ALGORITHMS", "Algorithm", "Session", "algorithm_class", "algorithm_names", "parse_params", "register"]
