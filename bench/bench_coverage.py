"""Coverage-aware dispatch and move-up at city scale, against the plain optimal solve.

The Columbus road layer (synthetic straight-line ETAs are not enough here: the coverage model
needs a region), 500 units at random nodes (10 % committed, 5 % out of service), 200 open
incidents (as ``bench_solver``), demand on 2,000 random nodes, a 480 s cover time, q = 0.3.
Timed end to end through ``solve`` (candidates, coverage charge, exact solve, explanations):

- ``optimal`` (the reference in the same run) and ``coverage`` (strict dynamic MEXCLP), and
  the coverage charge alone (``coverage_extra_cost``: every unit's loss, the arc costs);
- coverage *cold* (the first decision, every covering row computed) and *warm* (rows cached
  per node: units at stations and at recent positions, as live);
- move-up: DMEXCLP for one freed unit (60 bases), and the exact multi-unit move-up
  (``solve_moveup``, at most 2 moves, 1,200 s drive) over the ambulances that are free (at
  this size restricted to the neighbourhood of the largest gaps, ``moveup.WHOLE_UNITS``).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from bench.bench_solver import N_INCIDENTS, N_UNITS, city_instance
from planner.dispatch.coverage import CoverageModel, best_base, coverage_extra_cost
from planner.dispatch.domain import DispatchProblem, SolveOptions, UnitStatus
from planner.dispatch.holding import install
from planner.dispatch.moveup import MoveUpLimits, solve_moveup
from planner.dispatch.solver import solve
from planner.errors import PlannerError
from planner.network.geo import Location
from planner.network.region import Region, eta_matrix

SEEDS = (0, 1)
RUNS = 5
N_DEMAND = 2000
N_BASES = 60
Q = 0.3


def _instance(
    region: Region, seed: int
) -> tuple[DispatchProblem, CoverageModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lonlat = region.node_lonlat
    nodes = rng.integers(0, region.n_nodes, N_UNITS + N_INCIDENTS)
    points = [Location(lat=float(lonlat[k, 1]), lon=float(lonlat[k, 0])) for k in nodes]
    tt = eta_matrix(region, points[:N_UNITS], points[N_UNITS:])
    base = city_instance(seed, lambda _rng: (tt, "road"))
    units = tuple(replace(u, location=points[k]) for k, u in enumerate(base.units))
    incidents = tuple(
        replace(inc, location=points[N_UNITS + k]) for k, inc in enumerate(base.incidents)
    )
    model = CoverageModel(
        region=region,
        demand_nodes=rng.choice(region.n_nodes, N_DEMAND, replace=False),
        demand_weights=rng.random(N_DEMAND),
        target_s=480.0,
        busy_fraction=Q,
        delay_s=60.0,
    )
    bases = rng.choice(region.n_nodes, N_BASES, replace=False)
    return DispatchProblem(units, incidents, tt), model, nodes[:N_UNITS], bases


def _ms(fn: Callable[[], object], cpu: list[float] | None = None) -> float:
    """Wall ms of ``fn()``; its process CPU ms appended to ``cpu`` (the steadier number when
    other jobs share the cores)."""
    start, used = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append((time.process_time() - used) * 1000.0)
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    try:
        from planner.network.loader import load_region

        region = load_region("columbus")
    except (PlannerError, ImportError, OSError) as exc:
        print(f"skipped: the Columbus road layer is not available ({exc})")
        return
    print(
        f"{N_UNITS} units, {N_INCIDENTS} open incidents, Columbus road layer "
        f"({region.n_nodes} nodes), {N_DEMAND} demand points, {N_BASES} bases; "
        f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}"
    )
    optimal: list[float] = []
    optimal_cpu: list[float] = []
    warm_cpu: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    charge: list[float] = []
    dmexclp: list[float] = []
    moveup: list[float] = []
    moveup_status: list[str] = []
    for seed in SEEDS:
        problem, model, unit_nodes, bases = _instance(region, seed)
        install(model, name="coverage-bench")
        options = SolveOptions()
        covering = SolveOptions(policy="coverage-bench")
        cold.append(_ms(partial(solve, problem, covering)))
        for _ in range(RUNS):
            optimal.append(_ms(partial(solve, problem, options), optimal_cpu))
            warm.append(_ms(partial(solve, problem, covering), warm_cpu))
            charge.append(_ms(partial(coverage_extra_cost, problem, options, model)))
        # Move-up among the free ambulance-capable units (ALS/BLS), each at its nearest base.
        free = [
            u
            for u, unit in enumerate(problem.units)
            if unit.status == UnitStatus.AVAILABLE and "BLS" in unit.capabilities
        ]
        drive = region.travel_time_matrix(unit_nodes[free].astype(np.int64), bases.astype(np.int64))
        stay = np.argmin(drive, axis=1)
        stay[0] = -1
        others = [int(bases[b]) for b in stay[1:]]
        capacity = [max(2, int(np.sum(stay == b)) + 1) for b in range(N_BASES)]
        for _ in range(RUNS):
            dmexclp.append(
                _ms(
                    partial(
                        best_base,
                        model,
                        bases=bases.tolist(),
                        room=capacity,
                        others=others,
                        origin=0,
                        reach_s=drive[0],
                    )
                )
            )
            start = time.perf_counter()
            result = solve_moveup(
                model,
                bases=bases.tolist(),
                capacity=capacity,
                stay=stay.tolist(),
                drive_s=drive,
                moves_left=[6] * len(free),
                limits=MoveUpLimits(),
                q=Q,
            )
            moveup.append((time.perf_counter() - start) * 1000.0)
            moveup_status.append(result.status)
        print(f"  seed {seed}: {len(free)} free ambulances in the move-up")
    med = statistics.median
    ref = med(optimal)
    print(f"optimal (reference)         median {ref:8.1f} ms  (CPU {med(optimal_cpu):.1f} ms)")
    print(
        f"coverage, warm cache         median {med(warm):8.1f} ms  "
        f"({med(warm) / ref:.2f}x optimal; target <= 50 ms; CPU {med(warm_cpu):.1f} ms)"
    )
    print(f"  of which the coverage charge median {med(charge):8.1f} ms (losses of every unit)")
    print(f"coverage, cold (first call)  median {med(cold):8.1f} ms")
    print(f"DMEXCLP move-up (one unit)   median {med(dmexclp):8.1f} ms")
    print(
        f"exact move-up (CP-SAT)       median {med(moveup):8.1f} ms  "
        f"({med(moveup) / ref:.2f}x optimal; target <= 100 ms); "
        f"status {sorted(set(moveup_status))}"
    )
