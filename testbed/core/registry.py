"""One registry helper: name -> item, for every "adding one is adding an entry" extension point.

Why: data sets, model builders and presets, compute models, suite backends, CLI commands and
figures are all looked up by a name the user wrote, and each had its own dict, its own
"registered twice" check and its own "unknown X; use one of ..." message.  :class:`Registry`
is that once: :meth:`~Registry.add` / :meth:`~Registry.register` refuse a second entry under a
name (two modules claiming one name is a bug, found at import), a lookup of an unknown name
raises a ``KeyError`` that lists the known names, and :meth:`~Registry.require` turns the same
into a one-line :class:`~testbed.core.errors.ConfigError` for user input.

It is a ``dict`` (so ``name in registry``, ``.items()``, ``sorted(registry)`` keep working, and
tests may ``monkeypatch.setitem`` an entry; plain item assignment replaces, on purpose).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from testbed.core.errors import ConfigError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """Items of one kind by name; ``what`` names the kind in messages (``"compute model"``)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name`` (RuntimeError if the name is taken); returns the item."""
        if name in self:
            raise RuntimeError(f"{self.what} {name!r} registered twice")
        self[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REGISTRY.register("name")``."""

        def add(item: T) -> T:
            return self.add(name, item)

        return add

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self)

    def __missing__(self, name: str) -> T:
        raise KeyError(f"unknown {self.what} {name!r}; use one of {self.names()}")

    def require(self, name: str, source: str | Path | None, field: str) -> T:
        """The item called ``name``, or a ConfigError naming ``source``, ``field`` and the known names."""
        if name not in self:
            raise ConfigError(source, field, f"unknown {self.what} {name!r}", f"use one of {', '.join(self.names())}")
        return self[name]
