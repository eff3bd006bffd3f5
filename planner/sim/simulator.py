"""Discrete-event simulation of a scenario, driving the live engine on a simulated clock.

The simulator plays the outside world and nothing else: callers (incidents open), dispatchers
(who accept the engine's recommendation once the call-handling delay has passed), and crews
(who acknowledge, drive, arrive, treat, transport, hand over and return). Every one of these is
an event submitted to an in-memory :class:`planner.centre.engine.Engine`, the same engine and
solver as live operation; which unit goes where is only ever the engine's recommendation.

The world (region, fleet, demand) and the calls of each replication come from
:mod:`planner.sim.world`, identical for every policy (common random numbers).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from planner.centre.config import EngineConfig, EscalationConfig
from planner.dispatch.coverage import COVERING_STATUSES, best_base, split_policy
from planner.dispatch.domain import Plan, UnitStatus
from planner.dispatch.moveup import solve_moveup
from planner.dispatch.solver import check_policy
from planner.sim.metrics import (
    CoverageSnapshot,
    HospitalVisit,
    IncidentRecord,
    ReplicationResult,
    UnitRecord,
)
from planner.sim.scenario import Scenario, UnitSpec
from planner.sim.world import Call, World, generate_calls, prepare_world, road_windows

__all__ = ["Call", "Simulation", "World", "generate_calls", "prepare_world", "simulate"]


# --------------------------------------------------------------------------------------------
# One replication of one policy


@dataclass(slots=True)
class _UnitState:
    spec: UnitSpec
    station: str | None
    """Current base (``None``: off duty)."""
    node: int
    status: UnitStatus = UnitStatus.AVAILABLE
    trip: int = 0
    """Bumped whenever the unit's plan changes, so stale timed events are ignored."""
    incident: str | None = None
    origin: int = 0
    busy_since: float | None = None
    busy_s: float = 0.0
    on_duty_s: float = 0.0
    dispatches: int = 0
    off_after_job: bool = False
    dest: str | None = None
    """The base a relocating unit is heading to (``None``: its duty station)."""
    busy_h: list[float] = field(default_factory=lambda: [0.0] * 24)
    duty_h: list[float] = field(default_factory=lambda: [0.0] * 24)
    """Busy and on-duty seconds by clock hour (utilisation by hour of day)."""


@dataclass(slots=True)
class _IncidentState:
    call: Call
    id: str
    ready_s: float
    dispatched_s: float = math.nan
    arrived_s: float = math.nan
    units: set[str] = field(default_factory=set)
    on_scene: list[str] = field(default_factory=list)
    preempted: int = 0
    closed: bool = False
    clear_s: float | None = None


class Simulation:
    """One policy on one replication's calls: the world's side of the conversation."""

    def __init__(
        self, world: World, calls: Sequence[Call], *, policy: str, replication: int
    ) -> None:
        from planner.centre.engine import Engine

        self.world = world
        self.calls = calls
        self.policy = policy
        self.replication = replication
        sc = world.scenario
        self.start = sc.start.replace(tzinfo=UTC) if sc.start.tzinfo is None else sc.start
        self.duration_s = sc.duration_h * 3600.0
        self.end_s = self.duration_s + sc.drain_h * 3600.0
        self.warmup_s = sc.warmup_h * 3600.0
        self.now = 0.0
        config = EngineConfig(
            solver=sc.solver.model_copy(update={"policy": policy}),
            escalation=EscalationConfig(enabled=sc.options.escalation),
        )
        self.engine = Engine(
            codes=world.codes,
            region=world.region,
            config=config,
            clock=self._clock,
            coverage=world.coverage,
            move_up=False,  # the simulation moves its units itself (_relocate)
        )
        self.units: dict[str, _UnitState] = {}
        self.incidents: dict[str, _IncidentState] = {}
        self.heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        self.events = 0
        self.solve_ms: list[float] = []
        self._closures: list[str] = []
        self._reached = 0
        self.relocation = split_policy(policy)[1]
        self.diverts = (
            split_policy(policy)[0] == "coverage" and sc.solver.divert_margin_s is not None
        )
        """Units en route may be diverted: they report their position on the way."""
        self._releases: set[tuple[str, float]] = set()
        self.moves: dict[str, int] = {}
        """Move-ups of idle units this shift, per unit (``mip`` limits them)."""
        self._day_s = float(self.start.hour * 3600 + self.start.minute * 60 + self.start.second)
        n_hospitals = len(world.deployment.hospitals)
        self.bays: list[int | None] = [h.bays for h in world.deployment.hospitals]
        self.in_bay = [0] * n_hospitals
        self.queues: list[deque[str]] = [deque() for _ in range(n_hospitals)]
        self._visits: dict[str, dict[str, Any]] = {}
        self.visits: list[HospitalVisit] = []
        self.snapshots: list[CoverageSnapshot] = []

    # -- plumbing ------------------------------------------------------------------------

    def _clock(self) -> datetime:
        return self.start + timedelta(seconds=self.now)

    def _push(self, t: float, kind: str, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, self._seq, kind, args))

    def _submit(self, event: dict[str, Any]) -> Plan | None:
        event.setdefault("at", self._clock())
        outcome = self.engine.submit(event)
        self.events += 1
        plan: Plan | None = outcome.plan
        if plan is not None:
            self.solve_ms.append(plan.solve_ms)
        return plan

    def _position(self, node: int) -> dict[str, float]:
        lat, lon = self.world.lonlat(node)
        return {"lat": lat, "lon": lon}

    def _set_status(self, uid: str, status: UnitStatus) -> Plan | None:
        self.units[uid].status = status
        return self._submit(
            {
                "type": "unit_status_changed",
                "unit_id": uid,
                "status": status.value,
                "actor": f"unit:{uid}",
            }
        )

    def _move(self, uid: str, node: int) -> Plan | None:
        self.units[uid].node = node
        return self._submit(
            {
                "type": "unit_moved",
                "unit_id": uid,
                "location": self._position(node),
                "actor": f"unit:{uid}",
            }
        )

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> ReplicationResult:
        wall = time.perf_counter()
        try:
            self._setup()
            while self.heap:
                t, _, kind, args = heapq.heappop(self.heap)
                if t > self.end_s:
                    break
                self.now = t
                plan = getattr(self, f"_on_{kind}")(*args)
                if plan is not None:
                    self._dispatch(plan)
                if kind != "duty" and self._all_done():
                    break
        finally:
            for closure_id in self._closures:
                if closure_id in self.world.region.closures:
                    self.world.region.lift_closure(closure_id)
        self._account(min(self.now, self.duration_s))
        for unit in self.units.values():
            if unit.busy_since is not None:  # still busy when the run ended
                self._add_busy(unit, unit.busy_since, min(self.now, self.duration_s))
        return ReplicationResult(
            scenario=self.world.scenario.name,
            policy=self.policy,
            replication=self.replication,
            seed=self.world.scenario.seed,
            incidents=tuple(
                self._record(inc)
                for inc in self.incidents.values()
                if inc.call.t_s >= self.warmup_s
            ),
            units=tuple(
                UnitRecord(
                    u.spec.id or "",
                    u.spec.station,
                    u.on_duty_s,
                    u.busy_s,
                    u.dispatches,
                    kind="/".join(u.spec.capabilities),
                    busy_by_hour=tuple(u.busy_h),
                    on_duty_by_hour=tuple(u.duty_h),
                )
                for u in self.units.values()
            ),
            hospitals=tuple(v for v in self.visits if v.arrived_s >= self.warmup_s),
            coverage=tuple(self.snapshots),
            zone_edges=self.world.zone_edges(),
            wall_s=time.perf_counter() - wall,
            events=self.events,
            solve_ms=tuple(self.solve_ms),
        )

    def _all_done(self) -> bool:
        """Past the horizon with every call reached: nothing left to measure."""
        return self.now >= self.duration_s and self._reached == len(self.calls)

    def _record(self, inc: _IncidentState) -> IncidentRecord:
        call = inc.call
        when = self.start + timedelta(seconds=call.t_s)
        lat, lon = self.world.lonlat(call.node)
        return IncidentRecord(
            call=call.index,
            code=call.code,
            priority=call.priority,
            target_s=self.world.scenario.targets_s.get(
                call.priority, self.world.codes[call.code].target_s
            ),
            t_call_s=call.t_s,
            hour=when.hour,
            node=call.node,
            ready_s=inc.ready_s,
            dispatched_s=inc.dispatched_s if not math.isnan(inc.dispatched_s) else self.now,
            arrived_s=inc.arrived_s,
            units=len(inc.units),
            preempted=inc.preempted,
            lat=lat,
            lon=lon,
            sent=";".join(sorted(inc.units)),
        )

    def _setup(self) -> None:
        world = self.world
        for spec in world.deployment.units:
            uid = spec.id or ""
            station = world.deployment.station_at(spec, self.start.hour, self.start.weekday())
            node = world.station_node[station or spec.station]
            state = _UnitState(spec=spec, station=station, node=node)
            state.status = UnitStatus.AVAILABLE if station else UnitStatus.OUT_OF_SERVICE
            self.units[uid] = state
            self._submit(
                {
                    "type": "unit_registered",
                    "unit_id": uid,
                    "capabilities": list(spec.capabilities),
                    "station": spec.station,
                    "home": self._position(node),
                    "status": state.status.value,
                    "actor": "system:simulator",
                }
            )
        for call in self.calls:
            self._push(call.t_s, "call", call)
        hours = math.ceil(self.duration_s / 3600.0)
        offset = 3600.0 - (self.start.minute * 60 + self.start.second)
        for h in range(hours + 1):
            t = (offset % 3600.0) + 3600.0 * h
            if 0 < t <= self.duration_s:
                self._push(t, "duty")
        for road, on_s, off_s in road_windows(
            world.deployment.road_closures, start=self.start, duration_s=self.duration_s
        ):
            self._push(on_s, "road_on", road)
            if off_s is not None:
                self._push(off_s, "road_off", road.id)
        self._last_duty = 0.0
        self._snapshot()

    # -- outside-world events ---------------------------------------------------------------

    def _on_call(self, call: Call) -> Plan | None:
        iid = f"C{call.index}"
        self.incidents[iid] = _IncidentState(call=call, id=iid, ready_s=call.t_s + call.delay_s)
        event: dict[str, Any] = {
            "type": "incident_opened",
            "incident_id": iid,
            "code": call.code,
            "priority": call.priority,
            "location": self._position(call.node),
            "actor": "dispatcher:sim",
        }
        if call.casualties:
            event["methane"] = {"major_incident": True, "casualties": call.casualties}
        if call.delay_s > 0:
            self._push(call.t_s + call.delay_s, "ready", iid)
        return self._submit(event)

    def _on_ready(self, iid: str) -> Plan | None:
        return self.engine.plan

    def _on_release(self) -> Plan | None:
        """A hold's bound: the engine releases it (logged) and recommends again."""
        self.events += len(self.engine.tick(self._clock()))
        return self.engine.plan

    def _on_en_route(self, uid: str, node: int, trip: int) -> Plan | None:
        """An AVL report on the way to a call (only where units may be diverted)."""
        unit = self.units[uid]
        if unit.trip != trip or unit.status != UnitStatus.EN_ROUTE:
            return None
        return self._move(uid, node)

    def _on_arrive(self, uid: str, iid: str, trip: int) -> Plan | None:
        unit = self.units[uid]
        if unit.trip != trip:
            return None
        inc = self.incidents[iid]
        unit.status = UnitStatus.ON_SCENE
        unit.node = inc.call.node
        plan = self._submit({"type": "unit_arrived", "unit_id": uid, "actor": f"unit:{uid}"})
        if math.isnan(inc.arrived_s):
            self._reached += 1
            inc.arrived_s = self.now
            inc.clear_s = self.now + inc.call.on_scene_s
            self._push(inc.clear_s, "clear", iid)
        inc.on_scene.append(uid)
        return plan

    def _on_clear(self, iid: str) -> Plan | None:
        """On-scene work is done: one unit transports (if needed), the rest go back."""
        inc = self.incidents[iid]
        inc.closed = True
        transporter = inc.on_scene[0] if inc.call.transport and inc.on_scene else None
        plan = self.engine.plan
        for uid in inc.on_scene:
            if uid == transporter:
                plan = self._set_status(uid, UnitStatus.TRANSPORTING)
                hospital, seconds, diverted = self._choose_hospital(inc.call.node)
                seconds /= self._speed_factor(inc.call.priority)
                self.units[uid].trip += 1
                self._push(
                    self.now + seconds, "at_hospital", uid, hospital, diverted, self.units[uid].trip
                )
            else:
                plan = self._go_home(uid)
        en_route = [u for u in inc.units if u not in inc.on_scene and self.units[u].incident == iid]
        plan = self._submit(
            {
                "type": "incident_closed",
                "incident_id": iid,
                "outcome": "treated",
                "actor": "dispatcher:sim",
            }
        )
        for uid in en_route:
            # Closing released them in the engine (available where they were); stop the trip.
            unit = self.units[uid]
            unit.trip += 1
            unit.incident = None
            unit.status = UnitStatus.AVAILABLE
            plan = self._free(uid, unit.origin)
        return plan

    def _choose_hospital(self, origin: int) -> tuple[int, float, bool]:
        """The nearest hospital, or with ``divert_at_queue`` the nearest whose hand-over queue
        is shorter than that (``diverted``: not the nearest); all queues full: the nearest."""
        ranked = self.world.hospitals_by_time(origin)
        limit = self.world.scenario.service.divert_at_queue
        if limit is not None and len(self.queues[ranked[0][0]]) >= limit:
            for k, seconds in ranked[1:]:
                if len(self.queues[k]) < limit:
                    return k, seconds, True
        return ranked[0][0], ranked[0][1], False

    def _on_at_hospital(self, uid: str, k: int, diverted: bool, trip: int) -> Plan | None:
        unit = self.units[uid]
        if unit.trip != trip:
            return None
        hospital = int(self.world.hospital_nodes[k])
        if self.world.scenario.service.return_to != "station":
            self._move(uid, hospital)  # it will become available there
        else:
            unit.node = hospital  # busy until back at its station: no AVL report needed
        plan = self._set_status(uid, UnitStatus.AT_HOSPITAL)
        inc = self.incidents.get(unit.incident or "")
        self._visits[uid] = {
            "hospital": self.world.deployment.hospitals[k].id,
            "k": k,
            "unit": uid,
            "call": inc.call.index if inc is not None else -1,
            "arrived_s": self.now,
            "diverted": diverted,
        }
        unit.trip += 1  # queued: nothing of the old trip may fire
        bays = self.bays[k]
        if bays is None or self.in_bay[k] < bays:
            self.in_bay[k] += 1
            self._start_handover(uid)
        else:
            self.queues[k].append(uid)
        return plan

    def _start_handover(self, uid: str) -> None:
        unit = self.units[uid]
        self._visits[uid]["handover_start_s"] = self.now
        inc = self.incidents.get(unit.incident or "")
        handover = inc.call.handover_s if inc is not None else 0.0
        unit.trip += 1
        self._push(self.now + handover, "handed_over", uid, unit.trip)

    def _on_handed_over(self, uid: str, trip: int) -> Plan | None:
        if self.units[uid].trip != trip:
            return None
        visit = self._visits.pop(uid)
        k = visit.pop("k")
        self.visits.append(HospitalVisit(**visit, left_s=self.now))
        self.in_bay[k] -= 1
        if self.queues[k]:
            self.in_bay[k] += 1
            self._start_handover(self.queues[k].popleft())
        return self._go_home(uid)

    def _go_home(self, uid: str) -> Plan | None:
        """Back to base: ``station`` (busy until there), ``station_available`` (dispatchable
        on the way, from where it has got to), or ``where_they_are`` (available on the spot);
        with a relocation rule, to the base that rule picks."""
        unit = self.units[uid]
        unit.incident = None
        mode = self.world.scenario.service.return_to
        if self.relocation is not None and unit.station is not None:
            return self._relocate(uid)
        base = unit.station or unit.spec.station
        if mode == "where_they_are" or unit.node == self.world.station_node[base]:
            return self._free(uid, unit.node)
        return self._send(uid, base, freed=True)

    def _on_home(self, uid: str, trip: int) -> Plan | None:
        unit = self.units[uid]
        if unit.trip != trip:
            return None  # dispatched again on the way
        base = unit.dest or unit.station or unit.spec.station
        return self._free(uid, self.world.station_node[base])

    # -- move-up: where a freed unit waits (policy ``DISPATCH+RELOCATION``) --------------

    def _relocate(self, uid: str) -> Plan | None:
        """Where a freed unit waits: DMEXCLP sends it to the base where one more unit adds the
        most expected coverage (the others counted where they wait or are heading); ``mip``
        solves the multi-unit move-up, which may also move idle units within the limits."""
        unit = self.units[uid]
        world = self.world
        when = (self.start + timedelta(seconds=self.now)).timestamp()
        q = world.coverage.busy_at(when)
        if self.relocation == "mip":
            return self._moveup(uid, q)
        bases, room, others = self._bases(exclude=uid)
        pick = best_base(
            world.coverage,
            bases=[world.station_node[b] for b in bases],
            room=room,
            others=others,
            origin=unit.node,
            q=q,
            reach_s=np.array([self._drive_to_base_s(unit.node, b) for b in bases]),
        )
        target = bases[pick] if pick is not None else (unit.station or unit.spec.station)
        return self._send(uid, target, freed=True)

    def _moveup(self, uid: str, q: float) -> Plan | None:
        """The exact move-up over every free or returning unit with a base (returning ones may
        not be moved), the freed unit placed wherever it helps most."""
        world = self.world
        bases, room, _ = self._bases(exclude=uid)
        index = {b: k for k, b in enumerate(bases)}
        taken = [0] * len(bases)
        members = [uid]
        stay = [-1]
        for vid, v in self.units.items():
            where = v.dest or v.station
            if vid == uid or where not in index:
                continue
            if v.status not in (UnitStatus.AVAILABLE, UnitStatus.RETURNING):
                continue
            members.append(vid)
            stay.append(index[where])
            taken[index[where]] += 1
        limits = world.moveup
        moves_left = [
            limits.max_moves_per_unit - self.moves.get(vid, 0)
            if self.units[vid].status == UnitStatus.AVAILABLE and vid != uid
            else (0 if vid != uid else 1)
            for vid in members
        ]
        drive = np.array(
            [[self._drive_to_base_s(self.units[v].node, b) for b in bases] for v in members]
        )
        result = solve_moveup(
            world.coverage,
            bases=[world.station_node[b] for b in bases],
            capacity=[r + t for r, t in zip(room, taken, strict=True)],
            stay=stay,
            drive_s=drive,
            moves_left=moves_left,
            limits=limits,
            q=q,
        )
        plan = self._send(uid, bases[result.destination[0]], freed=True)
        for k in result.moved:
            if k == 0:
                continue
            vid = members[k]
            self.moves[vid] = self.moves.get(vid, 0) + 1
            plan = self._send(vid, bases[result.destination[k]], freed=False) or plan
        return plan

    def _send(self, uid: str, target: str, *, freed: bool) -> Plan | None:
        """Drive ``uid`` to base ``target``, with AVL waypoints on the way. A freed unit obeys
        the scenario's ``return_to`` (busy until there for ``station``); an idle unit that is
        moved up stays dispatchable, from where it has got to."""
        unit = self.units[uid]
        world = self.world
        unit.dest = target
        plan = self._move(uid, unit.node)
        factor = self._speed_factor(None)
        seconds = self._drive_to_base_s(unit.node, target)
        if freed and world.scenario.service.return_to == "station" and seconds > 0:
            plan = self._set_status(uid, UnitStatus.RETURNING)
        elif freed:
            plan = self._free(uid, unit.node) or plan
        unit.trip += 1
        if seconds > 0 and np.isfinite(seconds):
            for t, node in world.waypoints(unit.node, target, seconds * factor):
                self._push(self.now + t / factor, "waypoint", uid, node, unit.trip)
            self._push(self.now + seconds, "home", uid, unit.trip)
        return plan

    def _drive_to_base_s(self, node: int, base: str) -> float:
        """A drive to a base starting now (return, relocation or move-up; no siren): the
        region's travel time at this hour's speed factor, as every other simulated drive."""
        return self.world.seconds_to_station(node, base) / self._speed_factor(None)

    def _bases(self, *, exclude: str) -> tuple[list[str], list[int], list[int]]:
        """Open bases, their free room (capacity: the on-duty units based there, at least
        one) and the nodes of the other free or returning units (where they wait or are
        heading)."""
        capacity: dict[str, int] = {}
        for u in self.units.values():
            if u.station is not None:
                capacity[u.station] = capacity.get(u.station, 0) + 1
        hour = (self.start + timedelta(seconds=self.now)).hour
        bases = self.world.deployment.open_stations(hour)
        taken: dict[str, int] = {}
        others: list[int] = []
        for vid, v in self.units.items():
            if vid == exclude or v.status not in (UnitStatus.AVAILABLE, UnitStatus.RETURNING):
                continue
            where = v.dest or v.station
            if where is not None:
                taken[where] = taken.get(where, 0) + 1
                others.append(self.world.station_node[where])
            else:
                others.append(v.node)
        room = [max(capacity.get(b, 0), 1) - taken.get(b, 0) for b in bases]
        return bases, room, others

    def _on_waypoint(self, uid: str, node: int, trip: int) -> Plan | None:
        unit = self.units[uid]
        if unit.trip != trip or unit.status not in (UnitStatus.AVAILABLE, UnitStatus.RETURNING):
            return None
        return self._move(uid, node)

    def _free(self, uid: str, node: int) -> Plan | None:
        """Back in service at ``node`` (or off duty if the shift ended meanwhile)."""
        unit = self.units[uid]
        if unit.busy_since is not None:
            self._add_busy(unit, unit.busy_since, min(self.now, self.duration_s))
            unit.busy_since = None
        plan = self._move(uid, node) if unit.node != node else self.engine.plan
        off = unit.off_after_job or unit.station is None
        unit.off_after_job = False
        wanted = UnitStatus.OUT_OF_SERVICE if off else UnitStatus.AVAILABLE
        if unit.status == wanted:
            return plan
        return self._set_status(uid, wanted)

    def _add_busy(self, unit: _UnitState, since: float, until: float) -> None:
        """Busy time from ``since`` to ``until`` (counted from the end of the warm-up)."""
        since = max(since, self.warmup_s)
        unit.busy_s += max(0.0, until - since)
        self._by_hour(unit.busy_h, since, until)

    def _by_hour(self, into: list[float], a: float, b: float) -> None:
        """Add the seconds ``a``–``b`` (simulated) to ``into`` by clock hour."""
        t = a
        while t < b:
            clock = self._day_s + t
            end = min(b, (math.floor(clock / 3600.0) + 1) * 3600.0 - self._day_s)
            into[int(clock // 3600.0) % 24] += end - t
            t = end

    def _snapshot(self) -> None:
        """Coverage now: the share of top-priority demand that a free unit (available or
        returning, where it is) reaches within the cover time (top-priority target less
        dispatcher delay and turnout) at this hour's speed; per map zone too."""
        if self.now < self.warmup_s or self.now >= self.duration_s:
            return
        world = self.world
        top = min(m.priority for m in world.mix)
        hour = (self.start + timedelta(seconds=self.now)).hour
        budget = world.coverage.target_s * self._speed_factor(top)
        nodes = [u.node for u in self.units.values() if u.status in COVERING_STATUSES]
        covered = world.covered(nodes, budget_s=budget)
        self.snapshots.append(
            CoverageSnapshot(
                t_s=self.now,
                hour=hour,
                fraction=float(world.demand_weights[covered].sum()),
                free_units=len(nodes),
                zones=world.zone_fractions(covered),
            )
        )

    def _on_duty(self) -> Plan | None:
        self._account(self.now)
        moment = self.start + timedelta(seconds=self.now)
        hour = moment.hour
        plan = self.engine.plan
        for uid, unit in self.units.items():
            station = self.world.deployment.station_at(unit.spec, hour, moment.weekday())
            unit.station = station
            if station is None:
                if unit.status == UnitStatus.AVAILABLE:
                    plan = self._set_status(uid, UnitStatus.OUT_OF_SERVICE)
                elif unit.status != UnitStatus.OUT_OF_SERVICE:
                    unit.off_after_job = True
                continue
            unit.off_after_job = False
            node = self.world.station_node[station]
            stays = self.relocation is not None and unit.status == UnitStatus.AVAILABLE
            if (
                unit.status in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE)
                and unit.node != node
                and not stays
            ):
                unit.dest = None
                plan = self._move(uid, node)
            if unit.status == UnitStatus.OUT_OF_SERVICE:
                self.moves.pop(uid, None)  # a new shift
                plan = self._set_status(uid, UnitStatus.AVAILABLE)
        self._snapshot()
        return plan

    def _account(self, t: float) -> None:
        """Add on-duty time since the last duty check (units on duty at its start)."""
        since = max(self._last_duty, self.warmup_s)
        span = max(0.0, t - since)
        for unit in self.units.values():
            if unit.station is not None:
                unit.on_duty_s += span
                self._by_hour(unit.duty_h, since, t)
        self._last_duty = t

    def _on_road_on(self, road: Any) -> Plan | None:
        self._closures.append(road.id)
        event: dict[str, Any] = {
            "type": "road_closure_on",
            "closure_id": road.id,
            "centre": {"lat": road.lat, "lon": road.lon},
            "radius_m": road.radius_m,
            "actor": "system:simulator",
        }
        if road.factor is not None:
            event["factor"] = road.factor
        return self._submit(event)

    def _on_road_off(self, closure_id: str) -> Plan | None:
        return self._submit(
            {"type": "road_closure_off", "closure_id": closure_id, "actor": "system:simulator"}
        )

    # -- the dispatcher: accept the engine's recommendations --------------------------------

    def _dispatch(self, plan: Plan | None) -> None:
        """Accept the first ready call's recommendation, then re-read the new plan.

        Each acceptance re-solves, and with holds and diversions the next plan may
        recommend other units for the remaining calls, so one call is taken per round.
        """
        for _ in range(1000):
            if plan is None:
                return
            self._schedule_releases(plan)
            by_incident: dict[str, list[tuple[str, float, str | None]]] = {}
            for a in plan.assignments:
                inc = self.incidents.get(a.incident)
                if inc is None or inc.closed or self.now < inc.ready_s:
                    continue
                unit = self.units[a.unit]
                if unit.incident == a.incident:
                    continue
                by_incident.setdefault(a.incident, []).append((a.unit, a.eta_s, a.preempted_from))
            if not by_incident:
                return
            iid, chosen = next(iter(by_incident.items()))
            plan = self._accept(iid, chosen)
        raise RuntimeError("the dispatcher did not settle after 1000 rounds")

    def _schedule_releases(self, plan: Plan) -> None:
        """Wake the engine at the bound of every hold the plan announces (once each)."""
        epoch = self.start.timestamp()
        for hold in plan.holds:
            key = (hold.incident, hold.until)
            if key not in self._releases:
                self._releases.add(key)
                self._push(max(hold.until - epoch, self.now), "release")

    def _turnout(self, spec: UnitSpec) -> float:
        """Seconds from accepting to rolling: the first of the unit's capabilities listed."""
        turnout = self.world.scenario.service.turnout_s
        for capability in spec.capabilities:
            if capability in turnout:
                return turnout[capability]
        return turnout.get("default", 0.0)

    def _speed_factor(self, priority: int | None) -> float:
        """Speed multiplier for a drive starting now (``None``: no siren-related factor)."""
        hour = (self.start + timedelta(seconds=self.now)).hour
        speeds = self.world.scenario.speeds
        if priority is None:
            return speeds.factor(priority=-1, hour=hour)
        return speeds.factor(priority=priority, hour=hour)

    def _accept(self, iid: str, chosen: list[tuple[str, float, str | None]]) -> Plan | None:
        inc = self.incidents[iid]
        plan = self._submit(
            {
                "type": "dispatch_accepted",
                "incident_id": iid,
                "units": [uid for uid, _, _ in chosen],
                "actor": "dispatcher:sim",
            }
        )
        if math.isnan(inc.dispatched_s):
            inc.dispatched_s = self.now
        for uid, eta_s, preempted_from in chosen:
            unit = self.units[uid]
            if preempted_from is not None and preempted_from in self.incidents:
                self.incidents[preempted_from].preempted += 1
            unit.trip += 1
            unit.incident = iid
            unit.origin = unit.node
            unit.status = UnitStatus.EN_ROUTE
            unit.dispatches += 1
            if unit.busy_since is None:
                unit.busy_since = min(self.now, self.duration_s)
            inc.units.add(uid)
            plan = self._submit(
                {"type": "unit_acknowledged", "unit_id": uid, "actor": f"unit:{uid}"}
            )
            factor = self._speed_factor(inc.call.priority)
            # A diverted unit is already on the road: no second turnout.
            rolls = self.now + (0.0 if preempted_from is not None else self._turnout(unit.spec))
            self._push(rolls + eta_s / factor, "arrive", uid, iid, unit.trip)
            if self.diverts:
                for t, node in self.world.route_points(unit.node, inc.call.node, eta_s):
                    self._push(rolls + t / factor, "en_route", uid, node, unit.trip)
        return plan


# --------------------------------------------------------------------------------------------
# Replications in parallel processes

_WORLD: World | None = None


def _init_worker(scenario: Scenario) -> None:
    global _WORLD
    _WORLD = prepare_world(scenario)


def _run_task(policy: str, replication: int) -> ReplicationResult:
    assert _WORLD is not None
    return simulate_one(_WORLD, policy=policy, replication=replication)


_WORLDS: dict[str, World] = {}
"""Per (Dask worker) process: prepared worlds by scenario content."""


def run_task(scenario: Scenario, policy: str, replication: int) -> ReplicationResult:
    """One task on a cluster worker: prepare (or reuse) the scenario's world, simulate."""
    key = hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]
    if key not in _WORLDS:
        _WORLDS[key] = prepare_world(scenario)
    return simulate_one(_WORLDS[key], policy=policy, replication=replication)


def simulate_one(world: World, *, policy: str, replication: int) -> ReplicationResult:
    """One policy on one replication's calls."""
    calls = generate_calls(world, replication)
    return Simulation(world, calls, policy=policy, replication=replication).run()


def tasks(policies: Sequence[str], replications: int) -> Iterator[tuple[str, int]]:
    for r in range(replications):
        for p in policies:
            yield p, r


def simulate(
    scenario: Scenario,
    *,
    policies: Sequence[str] | None = None,
    replications: int | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    cluster: str | None = None,
) -> list[ReplicationResult]:
    """Every policy on every replication, in ``workers`` processes (1: in this process), or
    on a Dask ``cluster`` (``local`` or a scheduler address; see :mod:`planner.sim.cluster`).

    Results come back ordered by replication, then policy. ``progress(done, total)`` is called
    as tasks finish.
    """
    policies = list(policies or scenario.policies)
    replications = replications or scenario.replications
    todo = list(tasks(policies, replications))
    world = prepare_world(scenario)  # validates (and fails) here, before forking workers
    for name in policies:
        check_policy(name)
    results: dict[tuple[str, int], ReplicationResult] = {}
    if cluster is not None:
        from planner.sim.cluster import run_on_cluster

        prepare_world(scenario)  # validate (and fail) here, before shipping tasks
        return run_on_cluster(
            [(scenario, p, r) for p, r in todo],
            run=run_task,
            address=cluster,
            workers=workers,
            progress=progress,
        )
    if workers <= 1 or len(todo) == 1:
        for k, (p, r) in enumerate(todo, start=1):
            results[(p, r)] = simulate_one(world, policy=p, replication=r)
            if progress:
                progress(k, len(todo))
    else:
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(scenario,)
        ) as pool:
            futures = {pool.submit(_run_task, p, r): (p, r) for p, r in todo}
            for k, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress:
                    progress(k, len(todo))
    return [results[key] for key in todo]
