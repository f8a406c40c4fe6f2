"""What a wire transform is, the packet it puts on the wire, and the registry of transforms.

Why a transform is a small object with a byte formula: the engine must know a message's size the
moment it is sent, while the payload is still being computed on an executor (docs/design.md §2).
So every transform states its wire bytes as a function of the number of float32 entries alone
(:meth:`Transform.nbytes`), and its :meth:`Transform.encode` produces exactly that many bytes --
the in-process executor checks the two against each other on every send.  The payload's structure
(names and shapes of its arrays) is known to both ends from the model and is not counted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from testbed.compression.tree import Tree
from testbed.core.errors import ConfigError
from testbed.core.registry import Registry

INDEX_NBYTES = 4
"""Sparse indices travel as int32."""
VALUE_NBYTES = 4
"""Values and scales travel as float32 unless a transform says otherwise."""


class Transform(ABC):
    """A lossy encoding of a flat float32 vector, with an exact byte formula."""

    name: ClassVar[str] = ""
    error_feedback: bool | None = False
    """Whether the sender keeps what was not sent and adds it to its next message (top-k); None until the
    message kind resolves it (on for gradient kinds: testbed.compression.spec)."""
    momentum_correction: float | None = None
    """DGC's momentum correction m (top-k): the sender keeps a velocity u <- m u + g per (kind, destination) and
    zeroes it where it sent (testbed.compression.endpoint); None: off."""

    @abstractmethod
    def nbytes(self, numel: int) -> int:
        """Wire bytes of a message of ``numel`` float32 entries (the docstring of each gives the formula)."""

    @abstractmethod
    def encode(self, values: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """The arrays that travel for the flat float32 vector ``values`` (their nbytes sum to :meth:`nbytes`);
        ``rng``: the sender's stream for this (kind, destination), for a randomised transform."""

    @abstractmethod
    def decode(self, parts: dict[str, np.ndarray], numel: int) -> np.ndarray:
        """The float32 vector of ``numel`` entries the receiver reconstructs from ``parts``."""

    @abstractmethod
    def to_config(self) -> Any:
        """The YAML value this transform was parsed from, fully resolved (for ``config.yaml``)."""

    def at_message(self, index: int) -> Transform:
        """The transform in effect for a sender's message number ``index`` (from 0) of one (kind, destination):
        itself, unless it changes over messages (top-k's sparsity warm-up).  The engine calls it before the
        values exist, so a message's size stays a formula of (entries, index)."""
        return self

    def sent_indices(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The entries a packet's ``parts`` carry (momentum factor masking zeroes the velocity there); only a
        sparse transform can answer, and only one of those takes ``momentum_correction``."""
        raise NotImplementedError(f"{self.name} sends every entry: it has no momentum correction")

    def needs_error_feedback(self) -> str | None:
        """The name of a set option that only works with error feedback (refused without it), or None."""
        return None


@dataclass(frozen=True)
class Packet:
    """A compressed message: the arrays that travel, and the structure the receiver rebuilds.

    ``nbytes`` (what testbed.core.payload counts) is the travelling arrays only: the structure is known
    to both ends from the model's shapes."""

    transform: Transform
    parts: dict[str, np.ndarray]
    numel: int
    tree: Tree

    @property
    def nbytes(self) -> int:
        """Bytes on the wire: the travelling arrays' nbytes."""
        return int(sum(part.nbytes for part in self.parts.values()))


TRANSFORMS: Registry[type[Transform]] = Registry("compression transform")
"""Transform classes by the name written in the YAML (``topk``, ``quantize``, ``fp16``); each class
has a ``parse(value, src, fieldname)`` classmethod that checks its argument."""


def register(name: str) -> Any:
    """Class decorator: register a transform under ``name`` (its YAML name) and set ``cls.name``."""

    def add(cls: type[Transform]) -> type[Transform]:
        cls.name = name
        return TRANSFORMS.add(name, cls)

    return add


def argument_mapping(value: Any, src: str, fieldname: str, keys: tuple[str, ...], example: str) -> dict[str, Any]:
    """A transform's argument as a mapping: a bare value is its first key's (``topk: 0.01`` is
    ``{ratio: 0.01}``); unknown keys and a missing first key are one-line ConfigErrors."""
    mapping = value if isinstance(value, dict) else {keys[0]: value}
    for key in mapping:
        if key not in keys:
            raise ConfigError(src, f"{fieldname}.{key}", "unknown key", f"use one of {list(keys)}")
    if keys[0] not in mapping:
        raise ConfigError(src, f"{fieldname}.{keys[0]}", "missing", f"give it, e.g. {example}")
    return mapping
