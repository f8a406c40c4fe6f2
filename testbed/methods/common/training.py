"""The optimiser and batch settings every method trains with (the YAML's ``training:`` block).

It lives with the methods, not with the config parser, because the methods are what it
configures: the parser (testbed.experiment.spec) builds it, the node states read it, and so
the dependency points from the parser to the methods and never back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Training:
    """Optimiser and batch settings shared by every algorithm."""

    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    r1_gamma: float = 0.0
    lr_final_fraction: float = 1.0
    """Learning rates decay linearly to this fraction of their start over ``max_iterations`` (1 = constant)."""
    update_order: str | None = None
    """``alternating`` (D step, then G step against the new D) or ``simultaneous`` (both gradients from
    the same parameters); None until parsing resolves it to the method's native order."""
    fused_adam: bool = False
    """Use torch's fused Adam kernel (CPU and CUDA): faster per step, but a different rounding, so runs
    differ from the default (foreach) kernel's in the last bits -- and GAN training amplifies that."""
    deterministic: bool = False
    """Switch torch to deterministic algorithms in every executor process for the run
    (testbed.exec.devices.use_deterministic): on CUDA, ops such as ``index_add_`` (Gaia's mirror
    updates) and cuDNN's convolutions then give the same bits run after run, or raise if they cannot."""
