"""``planner solve``: plan on stdout or to a file; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner.cli import main


def problem_json() -> dict[str, Any]:
    return {
        "units": [
            {"id": "M1", "capabilities": ["ALS"], "location": {"lat": 40.27, "lon": -76.88}},
            {"id": "M7", "capabilities": ["ALS"]},
        ],
        "incidents": [
            {
                "id": "I1",
                "priority": 1,
                "code": "CARDIAC",
                "requirements": {"ALS": 1},
                "target_s": 420,
            },
        ],
        "travel_times_s": {"M1": {"I1": 300.0}, "M7": {"I1": 410.0}},
        "options": {"policy": "optimal"},
    }


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``planner solve ARGS`` in process through the real entry point."""

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["planner", "solve", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_solve_to_stdout_and_file(tmp_path: Path, run: Callable[..., Result]) -> None:
    problem = write(tmp_path / "problem.json", problem_json())
    shown = run(str(problem))
    assert shown.returncode == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert plan["status"] == "optimal"
    assert plan["assignments"][0]["unit"] == "M1"
    out = tmp_path / "plan.json"
    written = run(str(problem), "-o", str(out))
    assert written.returncode == 0
    assert json.loads(out.read_text())["assignments"] == plan["assignments"]


def test_closest_idle_policy(tmp_path: Path, run: Callable[..., Result]) -> None:
    data = problem_json()
    data["options"]["policy"] = "closest_idle"
    plan = json.loads(run(str(write(tmp_path / "p.json", data))).stdout)
    assert plan["policy"] == "closest_idle"


def test_bad_input_exits_2_naming_the_field_and_writes_nothing(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    data = problem_json()
    data["incidents"][0]["priority"] = 9
    out = tmp_path / "plan.json"
    result = run(str(write(tmp_path / "p.json", data)), "-o", str(out))
    assert result.returncode == 2
    assert "incidents[0].priority" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_malformed_json_and_unknown_policy_exit_2(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    result = run(str(write(tmp_path / "p.json", '{"units": [')))
    assert result.returncode == 2
    assert "malformed JSON" in result.stderr
    data = problem_json()
    data["options"]["policy"] = "psychic"
    result = run(str(write(tmp_path / "q.json", data)))
    assert result.returncode == 2
    assert "policy" in result.stderr and "psychic" in result.stderr


def test_missing_file_exits_2(tmp_path: Path, run: Callable[..., Result]) -> None:
    result = run(str(tmp_path / "nope.json"))
    assert result.returncode == 2
