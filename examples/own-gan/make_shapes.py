"""Make the example's image folder: coloured circles, squares and triangles, 32x32 PNG, seeded.

Why generated: the example must run offline, and a researcher should be able to see exactly what
the data are.  Every image is one shape of a random colour, size and position on a dark background;
the same seed gives byte-identical files (so the SHA-256 in config.yaml is the same everywhere).

    python examples/own-gan/make_shapes.py            # -> examples/own-gan/data/shapes/*.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 32
SHAPES = ("circle", "square", "triangle")


def draw(rng: np.random.Generator) -> Image.Image:
    """One image: a shape of random colour, size and place on a dark background."""
    image = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(0, 40, 3)))
    pen = ImageDraw.Draw(image)
    colour = tuple(int(v) for v in rng.integers(80, 256, 3))
    r = int(rng.integers(5, 12))
    cx, cy = (int(v) for v in rng.integers(r + 1, SIZE - r - 1, 2))
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    if kind == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "square":
        pen.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "shapes"))
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for i in range(args.n):
        draw(rng).save(out / f"{i:05d}.png", optimize=False)
    print(f"wrote {args.n} images of {SIZE}x{SIZE} to {out}")


if __name__ == "__main__":
    main()
