"""The experiment's ``network.compression`` block -> a frozen :class:`CompressionSpec`.

Why per message kind: what is worth compressing depends on what a message is -- top-k with error
feedback on gradients (``grads_g``), 8-bit or half precision on parameters (``params_d``) -- and the
kinds are each method's own.  So the block maps kinds to transforms, and a kind is accepted only if
the method says its payload is a float32 tensor (``Algorithm.compressible_kinds``)::

    network:
      compression:
        grads_g: {topk: 0.01}                 # or {topk: {ratio: 0.01, error_feedback: false}}
        grads_d: {topk: {ratio: 0.01, momentum_correction: 0.9, warmup: 300}}   # DGC (testbed.compression.topk)
        params_g: {quantize: 8}               # or {quantize: {bits: 8, bucket: 512, rounding: stochastic}}
        params_d: fp16

Error feedback carries what a message did not send into the next message of the same kind to the same
destination, which is only right when those messages are increments of one vector: a method's
gradient kinds (``Algorithm.gradient_kinds``: ``grads_g``, ``grads_d``, SQM's gradient answers).  So
it defaults on there and off elsewhere, and asking for it on another kind (MD-GAN's ``samples``: a
new batch every time; parameters) is an error naming the kind.  Every key and value is checked here;
a bad one is one ConfigError line naming the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from testbed.compression.base import TRANSFORMS, Transform
from testbed.core.errors import ConfigError

FIELD = "network.compression"


@dataclass(frozen=True)
class CompressionSpec:
    """Message kind -> the transform its payloads go through (empty: nothing is compressed)."""

    by_kind: tuple[tuple[str, Transform], ...] = field(default_factory=tuple)
    tagged: tuple[str, ...] = ()
    """Kinds whose error-feedback residual is kept per first element of the message's tag as well
    (``Algorithm.tagged_gradient_kinds``: one residual per parameter vector)."""

    def get(self, kind: str) -> Transform | None:
        """The transform for ``kind``, or None."""
        return dict(self.by_kind).get(kind)

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def to_dict(self) -> dict[str, Any]:
        """The resolved YAML block (what ``config.yaml`` holds)."""
        return {kind: transform.to_config() for kind, transform in self.by_kind}


def parse_compression(raw: Any, src: str, kinds: tuple[str, ...], method: str,
                      gradient_kinds: tuple[str, ...] = (), tagged_kinds: tuple[str, ...] = ()) -> CompressionSpec:
    """Check ``network.compression`` against the kinds ``method`` can compress; resolve error feedback
    (on for ``gradient_kinds`` unless turned off, refused on any other kind; per tag for ``tagged_kinds``)."""
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
        transform = parse_transform(value, src, fieldname)
        out.append((str(kind), _feedback_for(transform, str(kind), gradient_kinds, src, fieldname, method)))
    return CompressionSpec(tuple(out), tuple(k for k, _ in out if k in tagged_kinds))


def _feedback_for(transform: Transform, kind: str, gradient_kinds: tuple[str, ...], src: str, fieldname: str,
                  method: str) -> Transform:
    """``transform`` with its error feedback resolved for ``kind`` (transforms without the option unchanged)."""
    if "error_feedback" not in {f.name for f in dataclasses.fields(transform)}:  # type: ignore[arg-type]
        return transform
    gradient = kind in gradient_kinds
    if transform.error_feedback and not gradient:
        fix = (f"remove error_feedback: it is only for gradient kinds ({', '.join(gradient_kinds)})"
               if gradient_kinds else "remove error_feedback")
        raise ConfigError(src, f"{fieldname}.{transform.name}.error_feedback",
                          f"{kind!r} is not a gradient of {method}: error feedback would add one message's "
                          "residual into a different vector", fix)
    feedback = gradient if transform.error_feedback is None else bool(transform.error_feedback)
    needing = transform.needs_error_feedback()
    if needing and not feedback:
        fix = ("remove error_feedback: false" if gradient
               else f"remove {needing}: it is only for gradient kinds ({', '.join(gradient_kinds) or 'none here'})")
        raise ConfigError(src, f"{fieldname}.{transform.name}.{needing}",
                          f"{needing} keeps its vector in the error-feedback residual, which {kind!r} does not have "
                          "here", fix)
    return dataclasses.replace(transform, error_feedback=feedback)  # type: ignore[type-var]


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
