"""The CPU facts in run_info.json: a quality value that moved between hosts must be traceable.

Why: the same commit re-run on another host gave other quality values (docs/design.md §2); these
facts are what tells a host change from a code change, so they must be recorded and must reflect
the kernel path actually forced.
"""

from __future__ import annotations

import pytest
import torch

from testbed.core import provenance


def test_machine_records_the_kernel_path_torch_uses() -> None:
    facts = provenance.machine()
    assert facts["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert facts["cpu_model"]
    assert facts["numpy"].count(".") >= 1


def test_forced_kernel_paths_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in provenance.KERNEL_ENV:
        monkeypatch.delenv(key, raising=False)
    assert provenance.cpu()["kernel_env"] == {}
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    assert provenance.cpu()["kernel_env"] == {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def test_vector_flags_come_from_the_first_processor_block(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse4_2 avx2 fma amx_tile\n\n"
                       "processor\t: 1\nmodel name\t: Other CPU\nflags\t\t: avx512f\n")
    real_open = open

    def fake_open(path, *args, **kwargs):  # a stand-in for builtins.open
        return real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    facts = provenance.cpu()
    assert facts["cpu_model"] == "Test CPU"
    assert facts["cpu_vector_flags"] == "amx_tile avx2 fma sse4_2"
