"""The ``planner`` console script: usage errors exit 2 with one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLANNER = Path(sys.executable).parent / "planner"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLANNER), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("solve",), "'problem'"),
        (("solve", "p.json", "--bogus"), "--bogus"),
        (
            ("eta", "--region", "r", "--from", "1,2", "--to", "1,2", "--max-snap-m", "abc"),
            "--max-snap-m",
        ),
        (("simulate", "s.yaml", "-n", "abc"), "--replications"),
        (("no-such-command",), "no-such-command"),
    ],
)
def test_usage_error_is_one_line_exit_2(args: tuple[str, ...], names: str, tmp_path: Path) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert names in lines[0]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
