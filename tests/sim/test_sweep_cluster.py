"""Fleet-size sweeps, and the same runs on a Dask LocalCluster giving identical results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planner.errors import InputError
from planner.sim.deployment import apply_changes
from planner.sim.metrics import summarise
from planner.sim.scenario import load_scenario
from planner.sim.sweep import (
    parse_vary,
    run_sweep,
    sweep_summary,
    with_fleet_size,
    write_sweep_report,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
TIMING = ("wall_s_per_replication", "median_solve_ms")


def _without_timing(doc: Any) -> Any:
    """Summaries minus wall-clock figures (the only thing where a task runs may change)."""
    if isinstance(doc, dict):
        return {k: _without_timing(v) for k, v in doc.items() if k not in TIMING}
    if isinstance(doc, list):
        return [_without_timing(v) for v in doc]
    return doc


def test_vary_parses_a_range_and_names_the_flag() -> None:
    assert parse_vary("units=10..16") == [10, 11, 12, 13, 14, 15, 16]
    with pytest.raises(InputError, match=r"units=MIN\.\.MAX") as err:
        parse_vary("stations=1..2")
    assert err.value.field == "--vary"


def test_fleet_size_removes_the_last_units_or_copies_units_in_turn() -> None:
    tiny = load_scenario(FIXTURES / "tiny.yaml")
    assert [u.id for u in apply_changes(with_fleet_size(tiny, 1)).units] == ["A1"]
    bigger = apply_changes(with_fleet_size(tiny, 5)).units
    assert [u.id for u in bigger] == ["A1", "A2", "A1-1", "A2-1", "A1-2"]
    assert [u.station for u in bigger] == ["B3582", "B3812", "B3582", "B3812", "B3582"]


@pytest.mark.slow
def test_sweep_on_a_local_dask_cluster_equals_the_default_path(tmp_path: Path) -> None:
    """5 fleet sizes x 2 policies x 5 replications, in-process and on a LocalCluster."""
    tiny = load_scenario(FIXTURES / "tiny.yaml")
    sizes = [1, 2, 3, 4, 5]
    policies = ["closest_idle", "optimal"]
    plain = run_sweep(tiny, sizes, policies=policies, replications=5, workers=1)
    dask = run_sweep(tiny, sizes, policies=policies, replications=5, workers=2, cluster="local")
    for size in sizes:
        assert len(plain[size]) == len(dask[size]) == 10
        assert _without_timing(summarise(plain[size])) == _without_timing(summarise(dask[size]))
    summary = sweep_summary(plain)
    assert _without_timing(summary) == _without_timing(sweep_summary(dask))
    p1 = {r["units"]: r["p1_within_target"] for r in summary["points"] if r["policy"] == "optimal"}
    assert p1[5] >= p1[1]  # more units, same calls: never fewer within target here
    write_sweep_report(tiny, summary, tmp_path)
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert "| 5 | optimal |" in (tmp_path / "sweep.md").read_text()


def test_an_unreachable_scheduler_is_a_one_line_error() -> None:
    from planner.sim.cluster import run_on_cluster
    from planner.sim.simulator import run_task

    with pytest.raises(InputError, match="tcp://HOST:8786") as err:
        run_on_cluster([], run=run_task, address="nowhere:1")
    assert err.value.field == "--cluster"
