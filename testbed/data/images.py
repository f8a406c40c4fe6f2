"""A folder of PNG / JPEG files as a data set, read with Pillow (no torchvision, nothing downloaded).

Why these rules: a researcher's folder is rarely tidy, so each decision is stated once.  Every
``.png``, ``.jpg`` and ``.jpeg`` under ``dir`` (sub-folders included, hidden files skipped) is one
sample; ``channels`` (1 or 3, default 3) converts each to grey or RGB; without ``size`` the images
must all have one size (mixed sizes are a one-line error naming two of them), with ``size: N``
each is resized so its shorter side is N and centre-cropped to N x N (torchvision's Resize +
CenterCrop, bilinear).  ``labels: folders`` makes each first-level sub-folder a class.  The
experiment parser only reads headers (and checks each file's integrity, ``Image.verify``); pixels
are decoded once per process, on first use, to (N, C, H, W) float32 in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from testbed.data.files import FileFormat, FileRef, Probe, fail, labels_from, register_format

SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = {1: "L", 3: "RGB"}


def _size(value: Any, base_dir: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 4 <= value <= 1024:
        raise fail("size", f"expected an integer in [4, 1024], got {value!r}",
                   "write the side in pixels, e.g. size: 32 (images are resized and centre-cropped to it)")
    return str(value)


def _channels(value: Any, base_dir: Path) -> str:
    if value not in MODES or isinstance(value, bool):
        raise fail("channels", f"expected 1 (grey) or 3 (RGB), got {value!r}", "write channels: 1 or channels: 3")
    return str(value)


def _labels(value: Any, base_dir: Path) -> str:
    if value != "folders":
        raise fail("labels", f"expected folders, got {value!r}",
                   "write labels: folders (each sub-folder of dir is a class), or leave labels out")
    return value


def _image_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise fail("dir", f"{root} holds no {' / '.join(SUFFIXES)} files",
                   "put the images in it (sub-folders are searched too)")
    return files


def _open_error(root: Path, path: Path, err: Exception) -> Exception:
    return fail("dir", f"{path.relative_to(root)} is not a readable image ({type(err).__name__}: {err})",
                "remove or replace the file")


def _probe(fref: FileRef) -> Probe:
    from PIL import Image

    root = Path(fref.path)
    files = _image_files(root)
    sizes: dict[tuple[int, int], Path] = {}
    for path in files:
        try:
            with Image.open(path) as image:
                sizes.setdefault(image.size, path)
                image.verify()
        except Exception as err:  # Pillow raises many kinds (UnidentifiedImageError, OSError, SyntaxError)
            raise _open_error(root, path, err) from None
    size, channels = fref.option("size"), int(fref.option("channels") or 3)
    if size is None and len(sizes) > 1:
        (a, pa), (b, pb) = list(sizes.items())[:2]
        raise fail("size", f"the images differ in size: {pa.relative_to(root)} is {a[0]}x{a[1]}, "
                           f"{pb.relative_to(root)} is {b[0]}x{b[1]}",
                   "give size: N (each image is resized and centre-cropped to N x N)")
    width, height = (int(size), int(size)) if size is not None else next(iter(sizes))
    codes, classes = None, ()
    if fref.option("labels") == "folders":
        loose = [p for p in files if p.parent == root]
        if loose:
            raise fail("labels", f"folders, but {loose[0].name} lies directly in {root}",
                       "move every image into its class's sub-folder")
        codes, classes = labels_from(np.array([p.relative_to(root).parts[0] for p in files]), "labels")
    scaling = f"{MODES[channels]} pixels scaled from [0, 255] to [-1, 1]" + (
        f", resized and centre-cropped to {size}x{size}" if size is not None else "")
    return Probe(len(files), (channels, height, width), "image", codes, classes, scaling, tuple(files))


def _square(image: Any, side: int) -> Any:
    from PIL import Image

    w, h = image.size
    scale = side / min(w, h)
    image = image.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.Resampling.BILINEAR)
    w, h = image.size
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


def _read(fref: FileRef, probe: Probe) -> np.ndarray:
    from PIL import Image

    root, channels = Path(fref.path), probe.sample_shape[0]
    size = fref.option("size")
    pixels = np.empty((probe.count, *probe.sample_shape[1:], channels), np.uint8)
    for i, path in enumerate(probe.files):
        try:
            with Image.open(path) as image:
                image = image.convert(MODES[channels])
                if size is not None:
                    image = _square(image, int(size))
                pixels[i] = np.asarray(image).reshape(pixels.shape[1:])
        except Exception as err:
            raise _open_error(root, path, err) from None
    return np.moveaxis(pixels, 3, 1).astype(np.float32) / 127.5 - 1.0


register_format(FileFormat(
    name="images", location="dir", options={"size": _size, "channels": _channels, "labels": _labels},
    probe=_probe, read=_read, example="dataset: {name: images, dir: images/, size: 32, channels: 3}"))
