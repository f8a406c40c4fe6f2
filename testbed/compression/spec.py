"""The experiment's ``network.compression`` block -> a frozen :class:`CompressionSpec`.

Why per message kind: what is worth compressing depends on what a message is -- top-k with error
feedback on gradients (``grads_g``), 8-bit or half precision on parameters (``params_d``) -- and the
kinds are each method's own.  So the block maps kinds to transforms, and a kind is accepted only if
the method says its payload is a float32 tensor (``Algorithm.compressible_kinds``)::

    network:
      compression:
        grads_g: {topk: 0.01}                 # or {topk: {ratio: 0.01, error_feedback: false}}
        grads_d: {quantize: 8}                # or {quantize: {bits: 8, bucket: 512}}
        params_d: fp16

Every key and value is checked here; a bad one is one ConfigError line naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testbed.compression.base import TRANSFORMS, Transform
from testbed.core.errors import ConfigError

FIELD = "network.compression"


@dataclass(frozen=True)
class CompressionSpec:
    """Message kind -> the transform its payloads go through (empty: nothing is compressed)."""

    by_kind: tuple[tuple[str, Transform], ...] = field(default_factory=tuple)

    def get(self, kind: str) -> Transform | None:
        """The transform for ``kind``, or None."""
        return dict(self.by_kind).get(kind)

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def to_dict(self) -> dict[str, Any]:
        """The resolved YAML block (what ``config.yaml`` holds)."""
        return {kind: transform.to_config() for kind, transform in self.by_kind}


def parse_compression(raw: Any, src: str, kinds: tuple[str, ...], method: str) -> CompressionSpec:
    """Check ``network.compression`` against the kinds ``method`` can compress."""
    if raw is None:
        return CompressionSpec()
    if not isinstance(raw, dict):
        raise ConfigError(src, FIELD, f"expected a mapping of message kinds, got {raw!r}",
                          "write e.g. compression: {grads_g: {topk: 0.01}}")
    out = []
    for kind, value in raw.items():
        fieldname = f"{FIELD}.{kind}"
        if kind not in kinds:
            fix = f"use one of {list(kinds)}" if kinds else f"{method} sends no tensor messages; remove the block"
            raise ConfigError(src, fieldname, f"{kind!r} is not a message kind {method} can compress", fix)
        out.append((str(kind), parse_transform(value, src, fieldname)))
    return CompressionSpec(tuple(out))


def parse_transform(value: Any, src: str, fieldname: str) -> Transform:
    """``fp16`` or a one-key mapping ``{name: argument}``: the transform it names, argument checked."""
    if isinstance(value, str):
        name, argument = value, None
    elif isinstance(value, dict) and len(value) == 1:
        name, argument = next(iter(value.items()))
    else:
        raise ConfigError(src, fieldname, f"expected one transform, got {value!r}",
                          f"write one of {TRANSFORMS.names()}, e.g. {{topk: 0.01}}")
    cls = TRANSFORMS.require(str(name), src, fieldname)
    return cls.parse(argument, src, f"{fieldname}.{name}")  # type: ignore[attr-defined]
