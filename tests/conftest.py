"""Shared test setup: tiny models run fastest single-threaded; caches go to a temp dir."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # One cache per session (the digits classifier is trained once), never the user's ~/.cache.
    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path_factory.getbasetemp() / "testbed-cache"))
