"""Every bad own-data or own-model input is one line: non-zero exit, no traceback, the field named.

The researcher's npz/npy/image-folder data sets and custom G/D classes, each case against files written by
``own_workdir`` (good ones and broken ones); the shared checker is ``bad_inputs_common.py``.
"""


from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bad_inputs_common import (
    DELETE,
    EXPERIMENT,
    _changed,
    _check_one_line,
    _dump,
    workdir,
)
from own_files import custom_model, write_folder, write_model, write_npz

__all__ = ["workdir"]  # the fixture, shared

# -- the researcher's own data and model (files written by ``own_workdir``): (case id, change(s), field) -------
NPZ = {"name": "npz", "path": "data.npz", "key": "x", "labels": "y"}
IMAGES = {"name": "images", "dir": "imgs"}
CUSTOM = custom_model("tinygan", Path("."))
OWN_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("own-npz-bare-name", {"dataset": "npz"}, "dataset"),
    ("own-npz-no-path", {"dataset": {"name": "npz", "key": "x"}}, "dataset.path"),
    ("own-npz-missing-file", {"dataset": {**NPZ, "path": "nope.npz"}}, "dataset.path"),
    ("own-npz-path-number", {"dataset": {**NPZ, "path": 3}}, "dataset.path"),
    ("own-npz-corrupt", {"dataset": {**NPZ, "path": "corrupt.npz"}}, "dataset.path"),
    ("own-npz-wrong-key", {"dataset": {**NPZ, "key": "images"}}, "dataset.key"),
    ("own-npz-key-needed", {"dataset": {"name": "npz", "path": "data.npz"}}, "dataset.key"),
    ("own-npz-wrong-labels", {"dataset": {**NPZ, "labels": "z"}}, "dataset.labels"),
    ("own-npz-labels-length", {"dataset": {**NPZ, "path": "short.npz"}}, "dataset.labels"),
    ("own-npz-float-labels", {"dataset": {**NPZ, "path": "floaty.npz"}}, "dataset.labels"),
    ("own-npz-range-backwards", {"dataset": {**NPZ, "range": [1, 0]}}, "dataset.range"),
    ("own-npz-range-word", {"dataset": {**NPZ, "range": "bytes"}}, "dataset.range"),
    ("own-npz-range-too-narrow", {"dataset": {**NPZ, "range": [0, 100]}}, "dataset.range"),
    ("own-npz-float-range-unknown", {"dataset": {**NPZ, "path": "wide.npz"}}, "dataset.range"),
    ("own-npz-five-dims", {"dataset": {**NPZ, "path": "five.npz"}}, "dataset.key"),
    ("own-npz-nan", {"dataset": {**NPZ, "path": "nan.npz"}}, "dataset.key"),
    ("own-npz-unknown-key", {"dataset": {**NPZ, "colour": 1}}, "dataset.colour"),
    ("own-npz-sha256-changed", {"dataset": {**NPZ, "sha256": "0" * 64}}, "dataset.sha256"),
    ("own-npz-nbytes-changed", {"dataset": {**NPZ, "nbytes": 1}}, "dataset.nbytes"),
    ("own-npz-n-zero", {"dataset": {**NPZ, "n": 0}}, "dataset.n"),
    ("own-npz-too-few", {"dataset": {**NPZ, "path": "few.npz"}}, "dataset.path"),
    ("own-npy-given-npz", {"dataset": {"name": "npy", "path": "data.npz"}}, "dataset.path"),
    ("own-npy-labels-missing", {"dataset": {"name": "npy", "path": "x.npy", "labels": "nope.npy"}},
     "dataset.labels"),
    ("own-vectors-range", {"dataset": {**NPZ, "path": "vec.npz", "range": [0, 1]}}, "dataset.range"),
    ("own-images-empty", {"dataset": {**IMAGES, "dir": "empty"}}, "dataset.dir"),
    ("own-images-dir-is-file", {"dataset": {**IMAGES, "dir": "data.npz"}}, "dataset.dir"),
    ("own-images-mixed-sizes", {"dataset": {**IMAGES, "dir": "mixed"}}, "dataset.size"),
    ("own-images-corrupt-png", {"dataset": {**IMAGES, "dir": "broken"}}, "dataset.dir"),
    ("own-images-size-word", {"dataset": {**IMAGES, "size": "big"}}, "dataset.size"),
    ("own-images-size-two", {"dataset": {**IMAGES, "size": 2}}, "dataset.size"),
    ("own-images-channels-two", {"dataset": {**IMAGES, "channels": 2}}, "dataset.channels"),
    ("own-images-labels-word", {"dataset": {**IMAGES, "labels": "yes"}}, "dataset.labels"),
    ("own-images-labels-loose-files", {"dataset": {**IMAGES, "labels": "folders"}}, "dataset.labels"),
    ("own-files-with-data-dir", {"data_dir": "imgs"}, "data_dir"),
    ("own-unlabelled-dirichlet", {"dataset": IMAGES, "partition": "dirichlet(0.5)"}, "partition"),
    ("own-unlabelled-by-datacenter", {"dataset": IMAGES, "partition": "by_datacenter"}, "partition"),
    ("custom-no-generator", {"model": {**CUSTOM, "generator": DELETE}}, "model.generator"),
    ("custom-path-no-colon", {"model": {**CUSTOM, "generator": "tinygan.Gen"}}, "model.generator"),
    ("custom-path-number", {"model": {**CUSTOM, "discriminator": 5}}, "model.discriminator"),
    ("custom-module-missing", {"model": {**CUSTOM, "generator": "nogan:Gen"}}, "model.generator"),
    ("custom-module-raises", {"model": {**CUSTOM, "generator": "raising:Gen"}}, "model.generator"),
    ("custom-class-missing", {"model": {**CUSTOM, "generator": "tinygan:Generator"}}, "model.generator"),
    ("custom-not-a-module", {"model": {**CUSTOM, "discriminator": "tinygan:NotAModule"}}, "model.discriminator"),
    ("custom-d-as-generator", {"model": {**CUSTOM, "generator": "tinygan:Disc"}}, "model.generator"),
    ("custom-g-as-discriminator", {"model": {**CUSTOM, "discriminator": "tinygan:Gen"}}, "model.discriminator"),
    ("custom-g-wrong-shape", {"model": {**CUSTOM, "generator": "tinygan:TinyImages"}}, "model.generator"),
    ("custom-d-two-logits", {"model": {**CUSTOM, "discriminator": "tinygan:TwoLogits"}}, "model.discriminator"),
    ("custom-lazy-discriminator", {"model": {**CUSTOM, "discriminator": "tinygan:LazyDisc"}}, "model.discriminator"),
    ("custom-no-latent-dim", {"model": {**CUSTOM, "latent_dim": DELETE}}, "model.latent_dim"),
    ("custom-latent-dim-word", {"model": {**CUSTOM, "latent_dim": "big"}}, "model.latent_dim"),
    ("custom-kwargs-unused", {"model": {**CUSTOM, "kwargs": {"depth": 3}}}, "model.kwargs.depth"),
    ("custom-kwargs-list", {"model": {**CUSTOM, "kwargs": [1, 2]}}, "model.kwargs"),
    ("custom-kwargs-latent-dim", {"model": {**CUSTOM, "kwargs": {"latent_dim": 3}}}, "model.kwargs.latent_dim"),
    ("custom-kwargs-bad-value", {"model": {**CUSTOM, "kwargs": {"width": "wide"}}}, "model.generator"),
    ("custom-import-dir-missing", {"model": {**CUSTOM, "import_dir": "nowhere"}}, "model.import_dir"),
    ("custom-import-dir-number", {"model": {**CUSTOM, "import_dir": 3}}, "model.import_dir"),
    ("custom-hidden", {"model": {**CUSTOM, "hidden": 3}}, "model.hidden"),
    ("preset-with-generator", {"model": {"name": "mlp2d", "generator": "tinygan:Gen"}}, "model.generator"),
]


@pytest.fixture
def own_workdir(workdir: Path) -> Path:
    """``workdir`` plus the own files the cases point at: good ones and broken ones."""
    write_npz(workdir / "data.npz", n=60)
    write_folder(workdir / "imgs", n=60)
    write_model(workdir)
    (workdir / "raising.py").write_text("raise RuntimeError('this module does not import')\n")
    (workdir / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    x = np.zeros((60, 8, 8), np.uint8)
    np.savez(workdir / "short.npz", x=x, y=np.zeros(50, np.int64))
    np.savez(workdir / "floaty.npz", x=x, y=np.linspace(0, 1, 60))
    np.savez(workdir / "wide.npz", x=np.linspace(0, 9, 60 * 64).reshape(60, 8, 8), y=np.arange(60) % 2)
    np.savez(workdir / "five.npz", x=np.zeros((60, 2, 2, 2, 2)), y=np.arange(60) % 2)
    np.savez(workdir / "nan.npz", x=np.full((60, 4), np.nan), y=np.arange(60) % 2)
    np.savez(workdir / "vec.npz", x=np.zeros((60, 4), np.float32), y=np.arange(60) % 2)
    np.savez(workdir / "few.npz", x=x[:10], y=np.arange(10) % 2)
    np.save(workdir / "x.npy", x)
    (workdir / "empty").mkdir()
    write_folder(workdir / "mixed", n=55, size=8)
    write_folder(workdir / "mixed", n=5, size=6, seed=1)  # overwrites 0000..0004 with 6x6 images
    write_folder(workdir / "broken", n=60)
    (workdir / "broken" / "0007.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return workdir


def _own_case(tmp: Path, change: dict[str, Any]) -> list[str]:
    data = {**EXPERIMENT, "dataset": NPZ}
    for key, value in change.items():
        data = _changed(data, key, value) if "." in key else {**data, key: value}
        if key == "model" and isinstance(value, dict):
            data["model"] = {k: v for k, v in value.items() if v is not DELETE}
    path = tmp / "bad-exp.yaml"
    path.write_text(_dump(data))
    return ["run", str(path), "--out", str(tmp / "out")]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in OWN_CASES], ids=[c[0] for c in OWN_CASES])
def test_bad_own_data_or_model(own_workdir: Path, change: dict[str, Any], expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(_own_case(own_workdir, change), expected, own_workdir, capsys)
