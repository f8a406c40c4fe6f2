"""Every script in scripts/ answers ``--help`` with its usage, and a missing argument with one line and exit 2.

Why: the scripts reproduce the study pages; several used to take ``sys.argv[1:3]`` by position, so
``--help`` or a forgotten argument died in a TypeError traceback, and one wrote its output to a file
named ``--help``.  Run in process (runpy), so the suite pays pandas' import once.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in (Path(__file__).resolve().parents[1] / "scripts").glob("*.py")
                 if 'if __name__ == "__main__"' in p.read_text())


def _run(script: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", [str(script), *argv])
    monkeypatch.syspath_prepend(str(script.parent))  # as `python scripts/x.py` does: siblings importable
    monkeypatch.chdir(script.parent)  # a script that wrote a file anyway would write it here: caught below
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    return int(exit_info.value.code or 0)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_prints_usage_and_writes_nothing(script: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = set(script.parent.iterdir())
    assert _run(script, ["--help"], monkeypatch) == 0
    assert "usage:" in capsys.readouterr().out
    assert set(script.parent.iterdir()) == before


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.name != "make_example_trace.py"], ids=lambda p: p.name)
def test_a_missing_argument_is_one_line_and_exit_2(script: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Every script but make_example_trace.py (whose one argument is optional) needs an argument."""
    before = set(script.parent.iterdir())
    assert _run(script, [], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{script.name}: error:") and "Traceback" not in "".join(err)
    assert set(script.parent.iterdir()) == before


@pytest.mark.parametrize("script", [p for p in SCRIPTS if '"out_dir"' in p.read_text()], ids=lambda p: p.name)
def test_a_missing_out_dir_is_one_line_and_exit_2(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Caught before any analysis runs: the scripts write their csv files into OUT_DIR and do not create it."""
    names = script.read_text().split("positional(__doc__, ")[1].split(")")[0]
    argv = [str(tmp_path / "missing") if name == '"out_dir"' else str(tmp_path)
            for name in (n.strip() for n in names.split(",")) if not name.startswith('"[')]
    assert _run(script, argv, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{script.name}: error: OUT_DIR") and "Traceback" not in "".join(err)


def test_a_results_root_without_the_suites_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = next(p for p in SCRIPTS if p.name == "study_regime_map.py")
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "nothing"), str(tmp_path)])
    monkeypatch.syspath_prepend(str(script.parent))
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert "none of the suites" in str(exit_info.value.code)


def test_the_scripts_are_found() -> None:
    assert len(SCRIPTS) >= 10 and any(p.name == "study_regime_map.py" for p in SCRIPTS)
