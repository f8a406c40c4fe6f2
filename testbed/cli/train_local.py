"""``python -m testbed train-local``: train one GAN on this machine and log its quality over time.

The loop lives in :mod:`testbed.training.local`; this file only parses
arguments, sets the thread count and writes ``metrics.csv`` and ``samples.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command
from testbed.core.errors import ConfigError
from testbed.core.fileio import check_output_dir


def _run(args: argparse.Namespace) -> int:
    import torch

    from testbed.quality import generate, headline_metric
    from testbed.training.local import default_config, train_local
    from testbed.training.plots import save_samples_png

    _check_flags(args)
    torch.set_num_threads(args.threads)
    config = default_config(args.dataset, model=args.model, batch_size=args.batch_size, lr_g=args.lr_g,
                            lr_d=args.lr_d, r1_gamma=args.r1_gamma, eval_n=args.eval_n)
    result = train_local(args.dataset, args.iterations, config=config, eval_every=args.eval_every,
                         seed=args.seed, data_dir=args.data_dir, progress=not args.quiet)
    metric, _ = headline_metric(args.dataset)
    shown = [c for c in ("iteration", "wall_time_s", "cpu_time_s", metric, "modes_covered",
                         "high_quality_fraction", "classifier_score", "precision", "recall")
             if c in result.metrics.columns]
    table = result.metrics[list(dict.fromkeys(shown))]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "metrics.csv.tmp"
        result.metrics.to_csv(tmp, index=False)
        tmp.replace(out / "metrics.csv")
        save_samples_png(generate(result.state.G, 2000, seed=args.seed), args.dataset, out / "samples.png")
        print(f"wrote {out / 'metrics.csv'} and {out / 'samples.png'}")
    return 0


FLAG_RANGES = {"iterations": (1, 10**9), "eval_every": (0, 10**9), "eval_n": (10, 100_000),
               "batch_size": (1, 65536), "lr_g": (1e-12, 10), "lr_d": (1e-12, 10), "r1_gamma": (0, 1e6),
               "seed": (0, 2**32 - 1), "threads": (1, 256)}


def _check_flags(args: argparse.Namespace) -> None:
    """Ranges first, then the data set name, then --out: one line each, before any training."""
    from testbed.data import canonical_dataset_name, dataset_spec

    for flag, (lo, hi) in FLAG_RANGES.items():
        value = getattr(args, flag)
        if value is not None and not lo <= value <= hi:
            name = f"--{flag.replace('_', '-')}"
            raise ConfigError("command line", name, f"{value:g} is outside [{lo:g}, {hi:g}]",
                              f"give {name} a value in [{lo:g}, {hi:g}]")
    args.dataset = canonical_dataset_name(args.dataset)
    try:
        dataset_spec(args.dataset)
    except ConfigError as err:
        raise ConfigError("command line", "--dataset", err.problem, err.fix) from None
    if args.out:
        check_output_dir(args.out)


@command("train-local", help="train one GAN on one machine (reference trainer) and log its quality")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="ring8")
    parser.add_argument("--iterations", type=int, default=6000)
    parser.add_argument("--model", default=None, help="model preset (default per data set)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="evaluate every K iterations (0: at start and end only)")
    parser.add_argument("--eval-n", type=int, default=None, help="samples per evaluation")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr-g", type=float, default=None)
    parser.add_argument("--lr-d", type=float, default=None)
    parser.add_argument("--r1-gamma", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (tiny models: 1 is fastest)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="directory for metrics.csv and samples.png")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)
