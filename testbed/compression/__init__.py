"""Compression as a wire transform: ``topk`` (error feedback), ``quantize`` (bits), ``fp16``.

Why a package of its own: any method may compress any of its float32 message kinds, so the
transforms are not a method's code.  ``base`` (the Transform interface, the packet, the registry),
one file per transform, ``tree`` (payload <-> flat vector), ``spec`` (the YAML block),
``endpoint`` (the calls on node states) and ``wire`` (the engine's hook).  Importing the package
registers every transform.
"""

from __future__ import annotations

from testbed.compression import fp16, quantize, topk  # noqa: F401  (registration side effect)
from testbed.compression.base import TRANSFORMS, Packet, Transform
from testbed.compression.spec import CompressionSpec, parse_compression

__all__ = ["TRANSFORMS", "CompressionSpec", "Packet", "Transform", "parse_compression"]
