"""The evaluator: measures generators outside virtual time, exactly as they were trained.

Quality is observed, not part of training, so evaluation costs no virtual time
and sends nothing over the emulated network.  The run hands the evaluator
*snapshots* of the generator(s) wherever they live -- ``{"params": {...},
"buffers": {...}}`` from a node that holds a whole G, or ``{"segments": [...],
"buffers": {...}}`` for a G held as flat key ranges by parameter-server shards --
and gets the data set's metrics (testbed.quality) plus a few samples for the
``samples/`` pictures -- or, when a snapshot holds a NaN or infinity, only where
(``non_finite``; testbed.core.finite), which stops the run as diverged.

Why buffers: BatchNorm generators (``dcgan``, ``mdgan-cnn``) sample in eval mode
with their *running statistics*; loading only the parameters leaves those at
their initial values and reports the FID of a generator nobody trained (327
instead of 23 on digits after 2,000 steps).  Samples are drawn by
:func:`testbed.quality.generate` -- the same function ``python -m testbed sample``
uses on the saved ``generator.pt`` -- so both paths give the same samples for
the same seed.  Several generators (``local``: one per site; ``gaia``: one per
datacenter) are scored one by one; the metrics are their mean, with the spread
(``<metric>_std``, sample std) beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from testbed.core.finite import first_non_finite
from testbed.gan import get_params, set_buffers, set_params, unflatten
from testbed.methods.common.setup import NodeSetup
from testbed.quality import evaluate_samples, generate

PICTURE_SAMPLES = {"mixture": 1000, "vector": 1000, "image": 64}
EVAL_SEED_OFFSET = 4242
"""The evaluator samples with seed ``spec.seed + EVAL_SEED_OFFSET``; ``generator.pt`` records it."""

Snapshot = dict[str, Any]
"""``{"params": ParamDict}`` or ``{"segments": [flat G parts]}``, plus ``"buffers": ParamDict``."""


class Evaluator:
    """Scores generator snapshots on the run's data set."""

    def __init__(self, setup: NodeSetup, device: str = "cpu") -> None:
        from testbed.data import dataset_spec

        self.setup = setup
        self.G = setup.gan_state("cpu").G
        self.template = get_params(self.G)
        self.kind = dataset_spec(setup.dataset).kind

    def load(self, snapshot: Snapshot) -> torch.nn.Module:
        """Put a snapshot's parameters and buffers into the evaluator's G; returns it."""
        if "segments" in snapshot:
            params = unflatten(np.concatenate(list(snapshot["segments"])), self.template)
        else:
            params = snapshot["params"]
        set_params(self.G, params)
        set_buffers(self.G, snapshot.get("buffers") or {})
        return self.G

    def evaluate(self, n: int, seed: int, generators: dict[str, Snapshot]) -> dict[str, Any]:
        """Metrics (mean over ``generators``, ``<metric>_std`` if several), per-generator metrics,
        and sample pictures from the first generator; ``{"non_finite": where}`` if a generator is not finite."""
        for label, snapshot in generators.items():
            found = first_non_finite(snapshot)
            if found is not None:
                return {"non_finite": f"generator {label}" + (f" ({found})" if found else "")}
        scores: dict[str, dict[str, float]] = {}
        picture = None
        for label, snapshot in generators.items():
            samples = generate(self.load(snapshot), n, seed)
            scores[label] = evaluate_samples(samples, self.setup.dataset, n)
            if picture is None:
                picture = samples[: PICTURE_SAMPLES[self.kind]]
        rows = list(scores.values())
        metrics = {key: float(np.mean([s[key] for s in rows])) for key in rows[0]}
        if len(rows) > 1:
            metrics.update({f"{key}_std": float(np.std([s[key] for s in rows], ddof=1)) for key in rows[0]})
        return {"metrics": metrics, "samples": picture, "by_generator": scores}

    def state_dicts(self, generators: dict[str, Snapshot]) -> dict[str, dict[str, torch.Tensor]]:
        """Each generator as a torch ``state_dict`` (parameters and buffers): what ``generator.pt`` holds."""
        return {label: {k: v.detach().clone() for k, v in self.load(snapshot).state_dict().items()}
                for label, snapshot in generators.items()}
