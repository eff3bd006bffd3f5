"""Coverage-aware dispatch: the optimal solver, charged for the cover a dispatch takes away.

Expected coverage as in Daskin's MEXCLP: a demand point ``j`` with weight ``d_j`` reached within
the target by ``k_j`` available units is covered with probability ``1 - q**k_j``, where ``q`` is
the probability that a unit is busy. Sending unit ``u`` away lowers expected covered demand by

    L_u = Σ_j d_j · c_uj · q**(k_j - 1) · (1 - q)          (c_uj = 1 if u covers j)

with ``Σ_j d_j = 1``. The ``coverage`` policy adds ``w[p] · coverage_weight_s · L_u`` to every
assignment of ``u`` (``DispatchProblem.extra_cost_s``) and solves exactly as ``optimal`` does:
losing all expected cover costs as much as arriving ``coverage_weight_s`` seconds later. The
priority-lexicographic filling is unchanged; only *which* unit goes shifts towards units whose
absence hurts the rest of the area least (the dynamic MEXCLP dispatch idea of Jagtenberg et al.).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.dispatch.domain import DispatchProblem, Plan, SolveOptions, UnitStatus
from planner.dispatch.solver import register_policy, solve_optimal
from planner.network.region import Region


@dataclass(slots=True)
class CoverageModel:
    """Demand points, the coverage target and the busy fraction of one region."""

    region: Region
    demand_nodes: IntArray
    demand_weights: FloatArray
    """Normalised to sum 1 on construction."""
    target_s: float
    busy_fraction: float
    weight_s: float = 1800.0
    _rows: dict[int, BoolArray] = field(default_factory=dict)
    _snaps: dict[tuple[float, float], int] = field(default_factory=dict)
    _version: object = None

    def __post_init__(self) -> None:
        w = np.asarray(self.demand_weights, dtype=np.float64)
        self.demand_weights = w / w.sum()
        self.demand_nodes = np.asarray(self.demand_nodes, dtype=np.int64)
        if not 0.0 < self.busy_fraction < 1.0:
            raise ValueError("busy_fraction must lie strictly between 0 and 1")

    def covered_by(self, node: int) -> BoolArray:
        """Demand points a unit at ``node`` reaches within the target (cached per node)."""
        version = (getattr(self.region, "weights_version", None), tuple(self.region.closures))
        if version != self._version:
            self._rows.clear()
            self._version = version
        row = self._rows.get(node)
        if row is None:
            seconds = self.region.travel_time_matrix(
                np.array([node], dtype=np.int64), self.demand_nodes
            )[0]
            row = seconds <= self.target_s
            self._rows[node] = row
        return row

    def node_of(self, lat: float, lon: float) -> int:
        key = (lat, lon)
        node = self._snaps.get(key)
        if node is None:
            node = self.region.snap(lat, lon, max_snap_m=float("inf")).node
            self._snaps[key] = node
        return node

    def expected_coverage(self, nodes: list[int]) -> float:
        """MEXCLP expected covered demand (fraction) with available units at ``nodes``."""
        k = self._counts(nodes)
        return float(np.sum(self.demand_weights * (1.0 - self.busy_fraction**k)))

    def losses(self, nodes: list[int]) -> FloatArray:
        """``L_u`` for each unit at ``nodes``: the expected cover lost if it leaves."""
        if not nodes:
            return np.zeros(0)
        q = self.busy_fraction
        k = self._counts(nodes)
        marginal = self.demand_weights * q ** np.maximum(k - 1, 0) * (1.0 - q)
        return np.array([float(marginal[self.covered_by(n)].sum()) for n in nodes])

    def _counts(self, nodes: list[int]) -> FloatArray:
        k = np.zeros(len(self.demand_nodes))
        for n in nodes:
            k += self.covered_by(n)
        return k


def coverage_extra_cost(
    problem: DispatchProblem, options: SolveOptions, model: CoverageModel
) -> FloatArray:
    """``(units, incidents)`` weighted seconds of lost cover; zero for units not available."""
    extra = np.zeros((len(problem.units), len(problem.incidents)))
    idle = [
        (u, model.node_of(unit.location.lat, unit.location.lon))
        for u, unit in enumerate(problem.units)
        if unit.status == UnitStatus.AVAILABLE and unit.location is not None
    ]
    if not idle or not problem.incidents:
        return extra
    loss = model.losses([node for _, node in idle])
    weights = np.array(
        [options.priority_weights.get(inc.priority, 1.0) for inc in problem.incidents]
    )
    rows = np.array([u for u, _ in idle], dtype=np.int64)
    extra[rows, :] = model.weight_s * np.outer(loss, weights)
    return extra


def install(model: CoverageModel, *, name: str = "coverage") -> None:
    """Register the coverage policy for ``model``'s region in the solver's registry."""

    def policy(problem: DispatchProblem, options: SolveOptions, previous: Plan | None) -> Plan:
        extra = coverage_extra_cost(problem, options, model)
        if problem.extra_cost_s is not None:
            extra = extra + problem.extra_cost_s
        plan = solve_optimal(replace(problem, extra_cost_s=extra), options, previous)
        return replace(plan, policy=name)

    register_policy(name, policy)
