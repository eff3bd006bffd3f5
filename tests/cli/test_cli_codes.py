"""The CLI contract of ``planner codes check|list|show|seattle``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from planner.centre.codes import CodeTable, UnknownCodeError
from planner.cli import app

runner = CliRunner()


def test_check_reports_the_default_table() -> None:
    result = runner.invoke(app, ["codes", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {len(CodeTable.load())} codes")


def test_list_filters_by_service_and_prints_json() -> None:
    result = runner.invoke(app, ["codes", "list", "--service", "utility"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()]
    assert "GAS_LEAK" in names
    assert "CARDIAC_ARREST" not in names
    data = json.loads(runner.invoke(app, ["codes", "list", "--json"]).output)
    assert {c["service"] for c in data["codes"]} == {"ambulance", "fire", "police", "utility"}


def test_show_prints_levels_totals_and_advice() -> None:
    result = runner.invoke(app, ["codes", "show", "GAS_LEAK"])
    assert result.exit_code == 0, result.output
    assert "level 2: adds 1 ENGINE, 1 POLICE; total 1 GAS_CREW, 1 ENGINE, 1 POLICE" in result.output
    assert "Approved advice:" in result.output


def test_seattle_prints_the_derivation() -> None:
    result = runner.invoke(app, ["codes", "seattle"])
    assert result.exit_code == 0, result.output
    assert "10106 incidents" in result.output
    assert "FIRE_IN_BUILDING" in result.output


def _planner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args], capture_output=True, text=True, check=False
    )


def test_broken_table_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "codes.yaml"
    bad.write_text(
        "capabilities: {ENGINE: Engine}\ncodes:\n  CAR_FIRE:\n    label: Car fire\n"
        "    service: fire\n    default_priority: 7\n    target_s: 320\n"
        "    levels: [{ENGINE: 1}]\n    advice: [Move away.]\n"
    )
    result = _planner("codes", "check", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: codes.CAR_FIRE.default_priority: Input should be less than or equal to 5 ({bad})"
    ]


def test_show_unknown_code_raises_the_input_error_the_cli_maps_to_exit_2() -> None:
    result = runner.invoke(app, ["codes", "show", "CAR_FIRES"])
    assert isinstance(result.exception, UnknownCodeError)
    assert "did you mean CAR_FIRE," in str(result.exception)


def test_unknown_service_is_refused() -> None:
    result = runner.invoke(app, ["codes", "list", "--service", "coastguard"])
    assert result.exit_code == 2
