"""The CLI answers --help and unknown commands without a traceback."""

import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testbed", *args], capture_output=True, text=True)


def test_help_lists_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "version" in result.stdout


def test_version() -> None:
    result = _run("version")
    assert result.returncode == 0
    assert result.stdout.strip()


def test_unknown_command_is_one_line_error() -> None:
    result = _run("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
