"""``python -m testbed sample RUN_DIR --n N --out FILE.npy [--png FILE]``: samples from a saved generator.

Why: the second path to every quality number.  The run's evaluator and this
command draw from the same saved generator (``generator.pt``: parameters and
BatchNorm buffers) in eval mode; by default with the evaluator's own seed, so
``testbed sample`` reproduces the samples the run scored.  Samples come in the
data's own shape (``(n, 2)`` for mixtures, ``(n, 1, H, W)`` for images).  A generator that holds
NaN or infinity (a run that diverged) is refused, not sampled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command
from testbed.core.errors import ConfigError

MAX_SAMPLES = 100_000
"""As ``eval_samples``' limit: 100,000 28x28 images are 314 MB; a billion used to kill the process."""
MAX_SEED = 2**63 - 1
"""torch seeds are 64-bit; 2**77 used to end in an overflow traceback."""


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from testbed.experiment.generator_file import load_generator_file, sample_saved
    from testbed.experiment.sample_pictures import save_samples_picture

    if not args.out and not args.png:
        raise ConfigError(None, "--out", "nothing to write", "give --out FILE.npy and/or --png FILE.png")
    for flag, value, lo, hi in (("--n", args.n, 1, MAX_SAMPLES), ("--seed", args.seed, 0, MAX_SEED)):
        if value is not None and not lo <= value <= hi:
            raise ConfigError("command line", flag, f"{value} is outside [{lo}, {hi:,}]",
                              f"give {flag} a whole number in [{lo}, {hi:,}]")
    run_dir = Path(args.run_dir)
    dataset = load_generator_file(run_dir)["dataset"]
    label, samples = sample_saved(run_dir, args.n, seed=args.seed, label=args.generator)
    if args.out:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as f:
                np.save(f, samples)
        except OSError as err:
            raise ConfigError(out, "--out", f"cannot be written ({err.strerror})", "choose a writable path") from None
        print(f"wrote {out}: {samples.shape[0]} samples of shape {samples.shape[1:]} from generator {label!r}")
    if args.png:
        picture = samples[:64] if samples.ndim > 2 else samples
        save_samples_picture(picture, dataset, Path(args.png), title=f"{run_dir.name} · {label} · saved generator")
        print(f"wrote {args.png}")
    return 0


@command("sample", help="draw samples from a finished run's saved generator (generator.pt)")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
    parser.add_argument("--n", type=int, default=1000, help=f"number of samples, 1 to {MAX_SAMPLES:,} (default 1000)")
    parser.add_argument("--out", default=None, help="write the samples as a .npy array")
    parser.add_argument("--png", default=None, help="write a picture (scatter or image grid of the first 64)")
    parser.add_argument("--seed", type=int, default=None,
                        help="latent seed (default: the seed the run's evaluator used)")
    parser.add_argument("--generator", default=None,
                        help="which generator (local: a site, gaia: a datacenter; default: the first)")
    parser.set_defaults(handler=_run)
