"""Coverage-aware dispatch and redeployment: dynamic MEXCLP (Jagtenberg et al.).

Expected coverage as in Daskin's MEXCLP: a demand point ``j`` with weight ``d_j`` (``Σ d_j = 1``)
reached within the *cover time* by ``k_j`` free units is covered with probability
``1 - q**k_j``, where ``q`` is the probability that a unit is busy. The cover time is the
priority-1 target less what the clock has already spent before a unit rolls: the expected
call-handling/dispatch delay and the turnout (``CoverageModel.delay_s``). ``q`` may vary by
weekday and hour (``busy_by_hour``, from the demand profile and the service times).

Two decisions use the same model:

- **Dispatch** (Jagtenberg, Bhulai & van der Mei 2017, "dynamic MEXCLP"): among the free units
  that reach the call within its own budget (its target less ``delay_s``), send the one whose
  departure loses the least expected coverage; if none can, the closest. The rule is a cost on
  every arc, so the exact solver keeps several simultaneous calls lexicographically optimal:
  an in-budget arc costs ``w[p]·(M·level + eta)``, an out-of-budget one
  ``w[p]·(M·(top + 1) + eta + late)``, where ``level`` is the unit's coverage loss in steps of
  ``LOSS_STEP`` of total demand and ``M`` exceeds every in-budget ETA, so a smaller loss always
  wins and ETA only breaks ties.
- **Redeployment** (Jagtenberg, van den Berg & van der Mei 2015, "DMEXCLP"): a unit that becomes
  free goes to the base, staffed or not, whose extra unit adds the most expected coverage,
  counting the other free units where they are (or where they are heading) and respecting
  each base's capacity (:func:`best_base`).

Units that are free, returning or relocating all count towards ``k_j`` at their current
position: they will be back in service soon, and a relocating unit can be dispatched on the way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from planner.arrays import BoolArray, FloatArray, IntArray
from planner.dispatch.candidates import weight_of
from planner.dispatch.domain import DispatchProblem, SolveOptions, UnitStatus
from planner.network.region import Region


class HasTarget(Protocol):
    """An incident code as the coverage model needs it."""

    @property
    def default_priority(self) -> int: ...

    @property
    def target_s(self) -> float: ...


LOSS_STEP = 0.001
"""Coverage losses are compared in steps of 0.1 % of total demand; closer ones count as equal
(then the nearer unit goes). A resolution of the model, not a tuned constant."""

COVERING_STATUSES = frozenset({UnitStatus.AVAILABLE, UnitStatus.RETURNING})
"""Units counted as cover at their current position."""


@dataclass(slots=True)
class CoverageModel:
    """Demand points, the cover time and the busy fraction of one region."""

    region: Region
    demand_nodes: IntArray
    demand_weights: FloatArray
    """Normalised to sum 1 on construction."""
    target_s: float
    """The cover time in seconds of driving (priority-1 target less ``delay_s``)."""
    busy_fraction: float
    """The mean busy probability ``q``."""
    delay_s: float = 0.0
    """Seconds spent before a unit rolls (call handling, dispatch, turnout): an incident's
    driving budget is its target less this."""
    busy_by_hour: FloatArray | None = None
    """``q`` by ``(weekday, hour)`` (7 × 24, Monday first, UTC); default: ``busy_fraction``."""
    priority_speed: Mapping[int, float] = field(default_factory=dict)
    """Speed multiplier of the drive to a call, by priority (e.g. 0.75 without siren): its
    budget of ``B`` seconds then allows ``B × factor`` seconds of the region's travel times."""
    _rows: dict[int, BoolArray] = field(default_factory=dict)
    _snaps: dict[tuple[float, float], int] = field(default_factory=dict)
    _version: object = None

    def __post_init__(self) -> None:
        w = np.asarray(self.demand_weights, dtype=np.float64)
        self.demand_weights = w / w.sum()
        self.demand_nodes = np.asarray(self.demand_nodes, dtype=np.int64)
        if not 0.0 < self.busy_fraction < 1.0:
            raise ValueError("busy_fraction must lie strictly between 0 and 1")
        if self.busy_by_hour is not None:
            q = np.asarray(self.busy_by_hour, dtype=np.float64)
            if q.shape != (7, 24) or not ((q > 0) & (q < 1)).all():
                raise ValueError("busy_by_hour must be 7 x 24 values strictly between 0 and 1")
            self.busy_by_hour = q

    def busy_at(self, when: float | None) -> float:
        """``q`` at ``when`` (POSIX seconds; ``None``: the mean)."""
        if self.busy_by_hour is None or when is None or not np.isfinite(when):
            return self.busy_fraction
        moment = datetime.fromtimestamp(when, tz=UTC)
        return float(self.busy_by_hour[moment.weekday(), moment.hour])

    def covered_by(self, node: int) -> BoolArray:
        """Demand points a unit at ``node`` reaches within the cover time."""
        row: BoolArray = self.rows([node])[0]
        return row

    def rows(self, nodes: Sequence[int] | IntArray) -> BoolArray:
        """``(len(nodes), demand points)``: which points a unit at each node reaches within the
        cover time. Rows are cached per node and the missing ones computed in one many-to-many
        call; the cache is dropped when closures or speeds change the region."""
        version = (getattr(self.region, "weights_version", None), tuple(self.region.closures))
        if version != self._version:
            self._rows.clear()
            self._version = version
        wanted = np.asarray(nodes, dtype=np.int64).reshape(-1).tolist()
        missing = [n for n in dict.fromkeys(wanted) if n not in self._rows]
        if missing:
            origins = np.array(missing, dtype=np.int64)
            # Road regions can stop each tree at the cover time: the same rows, far cheaper.
            within = getattr(self.region, "travel_times_within", None)
            seconds = (
                within(origins, self.demand_nodes, self.target_s)
                if within is not None
                else self.region.travel_time_matrix(origins, self.demand_nodes)
            )
            for n, row in zip(missing, seconds <= self.target_s, strict=True):
                self._rows[n] = row
        if not wanted:
            return np.zeros((0, len(self.demand_nodes)), dtype=bool)
        return np.stack([self._rows[n] for n in wanted])

    def node_of(self, lat: float, lon: float) -> int:
        key = (lat, lon)
        node = self._snaps.get(key)
        if node is None:
            node = self.region.snap(lat, lon, max_snap_m=float("inf")).node
            self._snaps[key] = node
        return node

    def counts(self, nodes: Sequence[int] | IntArray) -> FloatArray:
        """``k_j``: how many units at ``nodes`` cover each demand point."""
        k: FloatArray = self.rows(nodes).sum(axis=0, dtype=np.float64)
        return k

    def expected_coverage(
        self, nodes: Sequence[int] | IntArray, *, q: float | None = None
    ) -> float:
        """MEXCLP expected covered demand (fraction) with free units at ``nodes``."""
        q = self.busy_fraction if q is None else q
        return float(np.sum(self.demand_weights * (1.0 - q ** self.counts(nodes))))

    def losses(self, nodes: Sequence[int] | IntArray, *, q: float | None = None) -> FloatArray:
        """For each unit at ``nodes``: the expected coverage lost if it leaves (one pass over
        the units' coverage rows).

        The products are summed by ``einsum``'s own loop rather than a BLAS matrix product:
        the same sums to the last bit or two, but on one thread; BLAS threads spin for cores a
        busy machine does not have (a city-scale charge took twice the CPU time with them).
        """
        if not len(nodes):
            return np.zeros(0)
        q = self.busy_fraction if q is None else q
        rows = self.rows(nodes)
        k = rows.sum(axis=0, dtype=np.float64)
        marginal = self.demand_weights * q ** np.maximum(k - 1, 0) * (1.0 - q)
        return np.asarray(np.einsum("ij,j->i", rows, marginal), dtype=np.float64)

    def gains(
        self,
        candidates: Sequence[int] | IntArray,
        nodes: Sequence[int] | IntArray,
        *,
        q: float | None = None,
    ) -> FloatArray:
        """For each candidate node: the expected coverage one more unit there adds, with the
        other free units at ``nodes``."""
        if not len(candidates):
            return np.zeros(0)
        q = self.busy_fraction if q is None else q
        marginal = self.demand_weights * q ** self.counts(nodes) * (1.0 - q)
        return np.asarray(self.rows(candidates) @ marginal, dtype=np.float64)


def loss_levels(loss: FloatArray) -> IntArray:
    """Losses in whole steps of :data:`LOSS_STEP` (what the strict rule compares)."""
    return np.floor(np.asarray(loss) / LOSS_STEP + 1e-9).astype(np.int64)


def coverage_extra_cost(
    problem: DispatchProblem,
    options: SolveOptions,
    model: CoverageModel,
    *,
    q: float | None = None,
) -> FloatArray:
    """``(units, incidents)`` cost added to the optimal solver's ``w[p]·(eta + late)`` so that
    the arc costs become the strict dynamic-MEXCLP ranking described in the module docstring.

    Units that are not free (divertible ones) are ranked as losing nothing: they cover nothing
    now. Unreachable pairs get 0 (they have no arc). ``q`` overrides the model's busy fraction.
    """
    n_units, n_inc = len(problem.units), len(problem.incidents)
    extra = np.zeros((n_units, n_inc))
    if n_units == 0 or n_inc == 0:
        return extra
    tt = np.asarray(problem.travel_times_s, dtype=np.float64)
    if q is None:
        q = model.busy_at(decision_time(problem))
    covering = [
        (u, model.node_of(unit.location.lat, unit.location.lon))
        for u, unit in enumerate(problem.units)
        if unit.status in COVERING_STATUSES and unit.location is not None
    ]
    level = np.zeros(n_units, dtype=np.int64)
    if covering:
        loss = model.losses([node for _, node in covering], q=q)
        rows = np.array([u for u, _ in covering], dtype=np.int64)
        free = np.array(
            [problem.units[u].status == UnitStatus.AVAILABLE for u, _ in covering], dtype=bool
        )
        level[rows[free]] = loss_levels(loss[free])
    top = int(level.max())
    budget = remaining_budget_s(problem, model)
    finite = np.isfinite(tt)
    big_m = float(max(budget.max(), 0.0)) + 1.0
    late = tt > np.array([inc.target_s for inc in problem.incidents])[None, :]
    base = np.where(finite, tt + options.late_penalty_s * late, 0.0)
    in_budget = finite & (tt <= budget[None, :])
    wanted = np.where(
        in_budget,
        big_m * level[:, None] + np.where(finite, tt, 0.0),
        big_m * (top + 1) + base,
    )
    weights = np.array([weight_of(options, inc.priority) for inc in problem.incidents])
    extra = np.where(finite, weights[None, :] * (wanted - base), 0.0)
    return extra


def decision_time(problem: DispatchProblem) -> float | None:
    """The moment of the decision: ``problem.now_s``, else the latest ``opened_at``."""
    if problem.now_s is not None:
        return problem.now_s
    return max((inc.opened_at for inc in problem.incidents), default=None)


def remaining_budget_s(problem: DispatchProblem, model: CoverageModel) -> FloatArray:
    """Per incident: the region's travel seconds a unit sent now may take and still arrive in
    target: the target less ``delay_s`` and less any wait beyond ``delay_s`` (a held or queued
    call), scaled by the priority's ``priority_speed``."""
    now = decision_time(problem)
    opened = np.array([inc.opened_at for inc in problem.incidents], dtype=np.float64)
    waited = np.zeros_like(opened) if now is None else np.maximum(now - opened - model.delay_s, 0.0)
    target = np.array([inc.target_s for inc in problem.incidents], dtype=np.float64)
    speed = np.array([model.priority_speed.get(inc.priority, 1.0) for inc in problem.incidents])
    out: FloatArray = (target - model.delay_s - waited) * speed
    return out


def split_policy(policy: str) -> tuple[str, str | None]:
    """``DISPATCH[+RELOCATION]`` → ``(dispatch, relocation or None)``."""
    dispatch, _, relocation = policy.partition("+")
    return dispatch, relocation or None


def best_base(
    model: CoverageModel,
    *,
    bases: Sequence[int],
    room: Sequence[int],
    others: Sequence[int],
    origin: int,
    q: float | None = None,
    reach_s: FloatArray | None = None,
    max_drive_s: float = float("inf"),
) -> int | None:
    """DMEXCLP: the index into ``bases`` where one more unit adds the most expected coverage.

    ``room`` is each base's free capacity, ``others`` the nodes of the other free units (at
    their destination when relocating), ``reach_s`` (optional) the drive from ``origin`` to
    each base, used to honour ``max_drive_s`` and to break ties (nearer first). ``None``: no
    base has room within reach.
    """
    if not len(bases):
        return None
    gain = model.gains(bases, others, q=q)
    drive = np.zeros(len(bases)) if reach_s is None else np.asarray(reach_s, dtype=np.float64)
    ok = (np.asarray(room) > 0) & (drive <= max_drive_s)
    if not ok.any():
        return None
    levels = loss_levels(gain).astype(np.float64)
    key = np.where(ok, -levels * 1e9 + drive, np.inf)
    return int(np.argmin(key))


def region_coverage_model(region: Region, codes: Iterable[HasTarget]) -> CoverageModel:
    """A live centre's model: demand on every node of its region (by population share where
    the region has one), the cover time of its most urgent codes' tightest target. The busy
    fraction here is only a default; the engine passes the centre's own."""
    population = getattr(region, "population", None)
    weights = (
        np.asarray(population, dtype=np.float64)
        if population is not None
        else np.ones(region.n_nodes, dtype=np.float64)
    )
    nodes = np.flatnonzero(weights > 0).astype(np.int64)
    listed = list(codes)
    top = min(c.default_priority for c in listed)
    target = min(c.target_s for c in listed if c.default_priority == top)
    return CoverageModel(
        region=region,
        demand_nodes=nodes,
        demand_weights=weights[nodes],
        target_s=target,
        busy_fraction=0.3,
    )
