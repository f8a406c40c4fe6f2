"""The evaluator: measures generators outside virtual time.

Quality is observed, not part of training, so evaluation costs no virtual time
and sends nothing over the emulated network: the run hands the evaluator the
current generator parameters (a dict, or the G segments of the PS shards) and
gets the data set's metrics (testbed.quality) plus a few samples for the
``samples/`` pictures.  Several generators (``local``: one per site) are scored
one by one and their metrics averaged.
"""

from __future__ import annotations

import numpy as np
import torch

from testbed.gan import get_params, sample_latent, set_params, unflatten
from testbed.nodes.setup import NodeSetup
from testbed.quality import evaluate_samples

PICTURE_SAMPLES = {"mixture": 1000, "image": 64}


class Evaluator:
    """Scores generator parameters on the run's data set."""

    def __init__(self, setup: NodeSetup, device: str = "cpu") -> None:
        self.setup = setup
        state = setup.gan_state("cpu")
        self.G = state.G
        self.latent_dim = state.latent_dim
        self.template = get_params(self.G)
        from testbed.data import dataset_spec

        self.kind = dataset_spec(setup.dataset).kind

    def _samples(self, n: int, seed: int) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.G.eval()
            out = self.G(sample_latent(n, self.latent_dim, gen)).numpy()
            self.G.train()
        return out

    def evaluate(self, n: int, seed: int, *generators: dict[str, np.ndarray]) -> dict[str, object]:
        """Mean metrics over the given generators, and sample pictures from the first."""
        scores: list[dict[str, float]] = []
        picture = None
        for params in generators:
            set_params(self.G, params)
            samples = self._samples(n, seed)
            scores.append(evaluate_samples(samples, self.setup.dataset, n))
            if picture is None:
                picture = samples[: PICTURE_SAMPLES[self.kind]]
        metrics = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
        return {"metrics": metrics, "samples": picture}

    def evaluate_segments(self, n: int, seed: int, *g_segments: np.ndarray) -> dict[str, object]:
        """As :meth:`evaluate`, for a generator held as flat segments (parameter-server shards)."""
        return self.evaluate(n, seed, unflatten(np.concatenate(g_segments), self.template))
