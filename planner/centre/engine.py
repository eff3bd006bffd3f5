"""The live dispatch engine: validate an event, log it, fold it, re-solve, escalate.

``submit`` runs one event through the pipeline:

1. stamp ``at`` from the engine clock if absent and validate it against the state (a rejected
   event raises, and nothing is logged or changed);
2. append it to the incident log (one transaction; personal fields go to the log's separate
   personal part) and fold it into the state;
3. re-solve when the event can change the plan, passing the previous plan for stability;
   if the recommendation changed, emit a ``recommendation_issued`` event (logged and folded);
4. evaluate the escalation rules and run each ``incident_escalated`` through steps 2-4.

Everything the engine decides is itself an event in the log, and every ``centre_configured``
carries the code table in force from it on, so :meth:`Engine.replay` rebuilds the same state
and the same recommendations from the log alone, whatever the code file says now. Per-event
work is bounded by the active picture (units, open incidents), never by the history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from planner.arrays import FloatArray
from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig
from planner.centre.escalation import evaluate
from planner.centre.events import (
    ENGINE_ONLY_TYPES,
    CentreConfigured,
    DispatchAccepted,
    Event,
    HoldReleased,
    IncidentOpened,
    IncidentUpdated,
    RecommendationIssued,
    RelocationAccepted,
    RelocationRecommended,
    RoadClosureOff,
    RoadClosureOn,
    UnitMoved,
    UnitRegistered,
    event_incident,
    parse_event,
    split_personal,
    without_personal,
)
from planner.centre.recommendations import (
    PlanChanges,
    build_problem,
    plan_changes,
    plan_from_recommendation,
    plan_key,
    recommendation_event,
)
from planner.centre.relocation import Trigger, kept_notes, move_key, recommend, stations
from planner.centre.state import (
    FREE_STATUSES,
    CentreState,
    ClosureState,
    apply,
    recommended_units,
)
from planner.dispatch.coverage import (
    CoverageModel,
    region_coverage_model,
    split_policy,
)
from planner.dispatch.domain import (
    COMMITTED_STATUSES,
    DispatchProblem,
    Plan,
    SolveOptions,
    UnitStatus,
)
from planner.dispatch.holding import solve_coverage
from planner.dispatch.solver import check_policy_name, solve
from planner.errors import ConflictError, InputError, InvalidTransitionError, PlannerError
from planner.log.incident_log import AUDIT_KINDS, IncidentLog, LogEntry, NewEntry
from planner.network import crow_fly
from planner.network.closures import Closure
from planner.network.geo import Location
from planner.network.loader import load_region
from planner.network.region import Region
from planner.settings import get_settings

logger = logging.getLogger(__name__)

PLAN_AFFECTING_TYPES = frozenset(
    {
        "centre_configured",
        "unit_registered",
        "unit_removed",
        "incident_opened",
        "incident_updated",
        "incident_escalated",
        "hold_released",
        "incident_downgraded",
        "unit_status_changed",
        "unit_moved",
        "dispatch_accepted",
        "dispatch_overridden",
        "unit_arrived",
        "incident_closed",
        "road_closure_on",
        "road_closure_off",
    }
)
"""Events after which the engine may re-solve; the others cannot change the recommendation
(an acknowledgement keeps a unit committed to the same incident)."""


def affects_plan(event: Event, before: CentreState) -> bool:
    """Whether ``event`` can change the recommendation, judged on the state before it.

    An AVL report of a unit that is neither free nor divertible changes no recommendation.
    """
    if event.type not in PLAN_AFFECTING_TYPES:
        return False
    if isinstance(event, UnitMoved):
        unit = before.units.get(event.unit_id)
        config = before.config
        diverts = config is not None and (
            config.solver.allow_preemption
            or (
                split_policy(config.solver.policy)[0] == "coverage"
                and config.solver.divert_margin_s is not None
            )
        )
        divertible = diverts and unit is not None and unit.status in COMMITTED_STATUSES
        return unit is None or unit.status == UnitStatus.AVAILABLE or divertible
    return True


ETA_CHANGING_TYPES = frozenset({"road_closure_on", "road_closure_off"})
"""Events after which changed ETAs alone call for a new recommendation: a slow-down that
keeps the same units would otherwise leave the dispatcher reading the old ETAs."""


def needs_recommendation(event: Event, before: Plan | None, after: Plan | None) -> bool:
    """Whether the plan solved after ``event`` is logged as a new recommendation: when who
    goes where (or what is short) changed, or a closure changed an ETA by a second or more."""
    if plan_key(after) != plan_key(before):
        return True
    if event.type not in ETA_CHANGING_TYPES or before is None or after is None:
        return False
    old = {(a.unit, a.incident): round(a.eta_s) for a in before.assignments}
    return any(old.get((a.unit, a.incident)) != round(a.eta_s) for a in after.assignments)


FREEING_TYPES = frozenset({"unit_status_changed", "incident_closed"})
"""Events that can make a unit free, after which the move-up re-runs."""

MAX_ESCALATION_ROUNDS = 100
"""Safety bound on escalations triggered by one event (rules fire once per level anyway)."""


class ReplayMismatchError(PlannerError):
    """Replaying the log recomputed a recommendation that differs from the logged one."""


@dataclass(frozen=True, slots=True)
class _Saved:
    """The engine's mutable picture before a decision (see ``Engine._save``)."""

    state: CentreState
    plan: Plan | None
    version: int
    codes: CodeTable
    logged_codes: str | None
    region: Region | None
    region_spec: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one accepted event: where the log is now and what the engine derived."""

    version: int
    """The log head (or in-memory event count) after the event and everything it caused."""
    seq: int
    """The event's own sequence number."""
    event: Event
    """The event as stamped and stored, without its personal fields."""
    plan: Plan | None
    changes: PlanChanges
    """The recommendation changes since before the event (derived events included)."""
    derived: tuple[Event, ...] = ()
    """Events the engine emitted because of it: escalations and recommendations."""
    incident: str | None = None
    """The incident the event concerns, as logged (for a unit event: its unit's incident)."""


Subscriber = Callable[[Outcome], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Engine:
    """The control room's engine: current state, current plan, and the log behind them.

    ``log=None`` runs in memory (the simulator); ``region=None`` uses crow-fly ETAs. The engine
    owns its region's closures: give each engine its own region
    (``load_region(spec, fresh=True)``); closures already on it are lifted at start.
    """

    def __init__(
        self,
        *,
        codes: CodeTable,
        region: Region | None = None,
        log: IncidentLog | None = None,
        config: EngineConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        coverage: CoverageModel | None = None,
        move_up: bool = True,
    ) -> None:
        config = config or EngineConfig()
        if region is not None and config.region is None:
            config = config.model_copy(update={"region": region.name})
        self.codes = codes
        self._config = config
        self._region = region
        self._region_spec = config.region if region is not None else None
        self._log = log
        self._clock = clock or utc_now
        self._state = CentreState()
        self._plan: Plan | None = None
        self._version = 0
        self._subscribers: list[Subscriber] = []
        self._lock = threading.RLock()
        self._node_cache: dict[Location, int] = {}
        self._tables: dict[str, CodeTable] = {}
        self._logged_codes: str | None = None
        self._max_snap_m = get_settings().max_snap_m
        self._coverage = coverage
        """The coverage model of the ``coverage`` dispatch rule and of move-up (built from the
        region on first use when not given; the simulator passes its scenario's)."""
        self._own_coverage = coverage is None
        """Whether the model is the engine's own: then its busy fraction is the centre's."""
        self._move_up = move_up
        """Recommend relocations (``False``: the caller moves units itself, as the simulator
        does with the same policy)."""
        self._moveup_at: datetime | None = None
        """When the relocation timer last re-ran the move-up (in memory: a restart re-runs)."""
        self._max_skew = timedelta(seconds=get_settings().max_clock_skew_s)
        if region is not None:
            for closure_id in list(region.closures):
                region.lift_closure(closure_id)
        if log is not None and any(e.kind not in AUDIT_KINDS for e in log.entries(limit=1)):
            raise InputError(
                "the log already holds events; rebuild the engine with Engine.replay(log)",
                field="log",
            )
        if log is not None:
            self._version = log.head()

    # -- read side -----------------------------------------------------------------------------

    @property
    def state(self) -> CentreState:
        return self._state

    @property
    def plan(self) -> Plan | None:
        """The latest recommendation (``None`` before the first solve)."""
        return self._plan

    @property
    def version(self) -> int:
        """The log head when logged, otherwise the number of events accepted."""
        return self._version

    @property
    def config(self) -> EngineConfig:
        return self._state.config or self._config

    @property
    def region(self) -> Region | None:
        return self._region

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every outcome (submits and ticks); returns the unsubscriber."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- write side ----------------------------------------------------------------------------

    def submit(
        self,
        event: Event | Mapping[str, Any],
        *,
        expected_version: int | None = None,
        before_commit: Callable[[Outcome], None] | None = None,
        durable: bool = True,
    ) -> Outcome:
        """Validate, log, fold, re-solve and escalate one event; raises and changes nothing
        if the event is malformed (``InputError``), forbidden (``InvalidTransitionError``) or
        based on a stale version (``ConflictError``).

        The event and everything derived from it are one log transaction; ``before_commit``
        runs inside it (the API stores the idempotency record there), and a failure anywhere
        before the commit leaves neither the log nor the engine changed. The log is flushed
        to disk after the engine's lock is released (group commit, see
        :meth:`IncidentLog.sync`), before this returns; with ``durable=False`` the caller
        calls ``log.sync()`` itself before it acknowledges the event."""
        parsed = parse_event(event)
        if parsed.type in ENGINE_ONLY_TYPES:
            raise InvalidTransitionError(
                f"{parsed.type} is emitted by the engine only", field="type"
            )
        with self._lock:
            if expected_version is not None and expected_version != self._version:
                raise ConflictError(
                    f"the state is at version {self._version}, not {expected_version}",
                    field="expected_version",
                )
            self._check_skew(parsed)
            plan_before = self._plan
            saved = self._save()
            try:
                with self._transaction(defer_sync=True):
                    stamped = self._stamp(parsed)
                    derived: list[Event] = []
                    if self._state.config is None and not isinstance(stamped, CentreConfigured):
                        configure = self._normalise(
                            CentreConfigured.from_config(self._config, at=stamped.at)
                        )
                        self._check(apply(self._state, configure, codes=self.codes), stamped)
                        _, stored_configure, _ = self._process(configure, derived)
                        derived.insert(0, stored_configure)
                    stamped = self._normalise(stamped)
                    seq, stored, incident = self._process(stamped, derived)
                    self._escalate(stamped.at or self._clock(), derived)
                    outcome = self._outcome(
                        seq, stored, incident=incident, plan_before=plan_before, derived=derived
                    )
                    if before_commit is not None:
                        before_commit(outcome)
            except BaseException:
                self._restore(saved)
                raise
            self._publish(outcome)
        if durable and self._log is not None:
            self._log.sync()
        return outcome

    def tick(self, now: datetime | None = None) -> list[Outcome]:
        """Evaluate the time-based escalation rules at ``now`` (default: the engine clock) and
        release the holds whose bound has passed; each escalation or release and what it
        causes is one log transaction."""
        with self._lock:
            now = now or self._clock()
            if now.tzinfo is None:
                raise InputError("must be timezone-aware", field="now")
            if self._state.last_at is not None and now < self._state.last_at:
                raise InvalidTransitionError(
                    f"{now.isoformat()} is earlier than the last event", field="now"
                )
            if self._state.config is None:
                return []
            outcomes: list[Outcome] = []
            for _ in range(MAX_ESCALATION_ROUNDS):
                due = evaluate(
                    self._state, codes=self.codes, config=self.config.escalation, now=now
                )
                if not due:
                    break
                for escalation in due:
                    plan_before = self._plan
                    saved = self._save()
                    try:
                        with self._transaction():
                            derived: list[Event] = []
                            seq, stored, incident = self._process(escalation, derived)
                            outcome = self._outcome(
                                seq,
                                stored,
                                incident=incident,
                                plan_before=plan_before,
                                derived=derived,
                            )
                    except BaseException:
                        self._restore(saved)
                        raise
                    outcomes.append(self._publish(outcome))
            outcomes.extend(self._release_holds(now))
            moveup = self._timed_moveup(now)
            if moveup is not None:
                outcomes.append(moveup)
            return outcomes

    def _release_holds(self, now: datetime) -> list[Outcome]:
        """End every hold of the current plan whose bound has passed: one logged
        ``hold_released`` (and the re-solve it causes) per held call."""
        outcomes: list[Outcome] = []
        for _ in range(MAX_ESCALATION_ROUNDS):
            plan = self._plan
            due = [h for h in (plan.holds if plan else ()) if h.until <= now.timestamp()]
            if not due:
                break
            release = HoldReleased(
                at=now,
                actor="system",
                incident_id=due[0].incident,
                reason=f"hold bound reached: {due[0].reason}",
            )
            plan_before = plan
            saved = self._save()
            try:
                with self._transaction():
                    derived: list[Event] = []
                    seq, stored, incident = self._process(release, derived)
                    outcome = self._outcome(
                        seq, stored, incident=incident, plan_before=plan_before, derived=derived
                    )
            except BaseException:
                self._restore(saved)
                raise
            outcomes.append(self._publish(outcome))
        return outcomes

    def _timed_moveup(self, now: datetime) -> Outcome | None:
        """Re-run the move-up when the relocation timer is due; an outcome only on change."""
        interval = self.config.relocation.interval_s
        if self._relocation_rule() is None or interval is None:
            return None
        if self._moveup_at is not None and (now - self._moveup_at).total_seconds() < interval:
            return None
        if not stations(self._state):
            return None  # nothing to place yet: the first timed run waits for a fleet
        self._moveup_at = now
        plan_before = self._plan
        saved = self._save()
        try:
            with self._transaction():
                derived: list[Event] = []
                self._relocate("timer", (), now, derived)
                if not derived:
                    return None
                outcome = self._outcome(
                    self._version, derived[0], incident=None, plan_before=plan_before, derived=[]
                )
        except BaseException:
            self._restore(saved)
            raise
        return self._publish(outcome)

    def resolve_now(self) -> Outcome | None:
        """Re-solve the current picture and log the recommendation if it differs from the
        logged one (a log written before decisions were atomic may end on an event whose
        recommendation was never logged); start-up calls this so the live plan is always
        the one ``planner log replay`` computes."""
        with self._lock:
            if self._state.config is None:
                return None
            plan_before = self._plan
            saved = self._save()
            try:
                with self._transaction():
                    plan = self._solve()
                    if plan_key(plan) == plan_key(self._plan):
                        self._plan = plan
                        return None
                    changes = plan_changes(self._plan, plan)
                    self._plan = plan
                    event = recommendation_event(plan, changes, at=self._state.last_at)
                    new_state = apply(self._state, event, codes=self.codes)
                    seq, stored, incident = self._record(event, new_state)
                    self._state = new_state
                    outcome = self._outcome(
                        seq, stored, incident=incident, plan_before=plan_before, derived=[]
                    )
            except BaseException:
                self._restore(saved)
                raise
            return self._publish(outcome)

    def adopt_codes(self, codes: CodeTable) -> Outcome | None:
        """Put ``codes`` in force; a log that carries another table (or none) gets a
        ``centre_configured`` by ``system`` recording the new one, so the change is in the
        record. Identical content logs nothing (the file's path and comments do not count)."""
        with self._lock:
            if self._state.config is None or self._logged_codes == codes.sha256:
                self.codes = codes
                return None
            cause = "code table changed" if self._logged_codes else "code table recorded"
            return self.submit(
                CentreConfigured.from_config(
                    self.config,
                    actor="system",
                    codes=codes.to_data(),
                    codes_sha256=codes.sha256,
                    codes_source=codes.source,
                    reason=f"{cause}: {codes.source} (sha256 {codes.sha256})",
                )
            )

    def catch_up(self) -> int:
        """Fold the entries other processes appended since this engine's version, taking
        their logged recommendations as they are; a hot standby follows the leader's log this
        way. Returns how many events it folded."""
        with self._lock:
            if self._log is None:
                return 0
            entries = self._log.entries(after_seq=self._version)
            folded = 0
            for entry in entries:
                if entry.kind in AUDIT_KINDS:
                    continue
                event = parse_event(entry.payload, logged=True)
                table = self._codes_for(event)
                new_state = apply(self._state, event, codes=table)
                self._region = self._region_for(event)
                self._side_effects(event, new_state, table)
                self._state = new_state
                if isinstance(event, RecommendationIssued):
                    self._plan = plan_from_recommendation(event, self.config)
                folded += 1
            if entries:
                self._version = max(self._version, entries[-1].seq)
            return folded

    def adopt_policy(self, policy: str) -> Outcome | None:
        """Put the dispatch/relocation ``policy`` in force; a change is logged as a
        ``centre_configured`` by ``system``, so a replay solves with it from there on."""
        check_policy_name(policy)
        dispatch, relocation = split_policy(policy)
        if dispatch == "coverage" and self._region is None:
            raise InputError("coverage dispatch needs a region (--region)", field="policy")
        if relocation is not None and self._region is None:
            raise InputError(f"relocation {relocation} needs a region (--region)", field="policy")
        with self._lock:
            if policy == self.config.solver.policy:
                return None
            solver = self.config.solver.model_copy(update={"policy": policy})
            config = self.config.model_copy(update={"solver": solver})
            if self._state.config is None:
                self._config = config
                return None
            return self.submit(
                CentreConfigured.from_config(
                    config, actor="system", reason=f"dispatch policy set to {policy}"
                )
            )

    # -- replay --------------------------------------------------------------------------------

    @classmethod
    def replay(
        cls,
        log: IncidentLog,
        *,
        codes: CodeTable | None = None,
        region: Region | None = None,
        resolve: bool = True,
        clock: Callable[[], datetime] | None = None,
        coverage: CoverageModel | None = None,
    ) -> Engine:
        """Rebuild an engine purely from ``log`` (configuration from ``centre_configured``).

        The code table is the one each ``centre_configured`` carries; ``codes`` (default: the
        bundled file) is only for older logs whose configuration does not embed one. With
        ``resolve`` the engine re-solves exactly as it did live and checks every logged
        recommendation against its own (``ReplayMismatchError`` on a difference); without,
        it takes the logged recommendations as they are (fast). The returned engine appends
        to ``log``. ``coverage``: the model the live engine was given, if any (the simulator's).
        Logged move-up recommendations are recomputed on the state before each and compared.
        """
        entries = [e for e in log.entries() if e.kind not in AUDIT_KINDS]
        if not entries:
            raise InputError("the log holds no events to replay", field="log")
        engine = cls._configured_as(
            entries[0], codes=codes, region=region, clock=clock, coverage=coverage
        )
        pending: Plan | None = None
        for entry in entries:
            pending = engine._replay_entry(entry, pending, resolve=resolve)
        engine._log = log
        engine._version = log.head()
        return engine

    @classmethod
    def _configured_as(
        cls,
        entry: LogEntry,
        *,
        codes: CodeTable | None,
        region: Region | None,
        clock: Callable[[], datetime] | None,
        coverage: CoverageModel | None = None,
    ) -> Engine:
        """An empty engine with the configuration of the log's first entry, which must be
        ``centre_configured`` (its own code table and region win over the arguments)."""
        first = parse_event(entry.payload, logged=True)
        if not isinstance(first, CentreConfigured):
            raise InputError(
                f"the log's first event is {first.type}, not centre_configured", field="log"
            )
        config = first.config()
        if region is None and config.region is not None:
            region = load_region(config.region, fresh=True)
        if first.codes is not None:
            codes = _logged_table(first)
        return cls(
            codes=codes or CodeTable.load(),
            region=region,
            config=config,
            clock=clock,
            coverage=coverage,
        )

    def _replay_entry(self, entry: LogEntry, pending: Plan | None, *, resolve: bool) -> Plan | None:
        """Apply one logged event as the live engine did. ``pending`` is the recommendation the
        engine owes (the next logged ``recommendation_issued`` must match it); returns the new one.
        """
        event = parse_event(entry.payload, logged=True)
        before = self._state
        if resolve and isinstance(event, RelocationRecommended):
            self._check_relocation(event, entry.seq)
        table = self._codes_for(event)
        new_state = apply(before, event, codes=table)
        self._region = self._region_for(event)
        self._side_effects(event, new_state, table)
        self._state = new_state
        if isinstance(event, RecommendationIssued):
            if not resolve:
                self._plan = plan_from_recommendation(event, self.config)
            elif pending is None or plan_key(pending) != plan_key(event):
                raise ReplayMismatchError(
                    f"entry {entry.seq}: the logged recommendation differs from the replayed one",
                    field="seq",
                )
            return None
        if resolve and affects_plan(event, before):
            plan = self._solve()
            if needs_recommendation(event, self._plan, plan):
                pending = plan
            self._plan = plan
        return pending

    def _check_relocation(self, logged: RelocationRecommended, seq: int) -> None:
        """Recompute a logged move-up recommendation on the state before it (replay)."""
        again = self._moveup(logged.trigger, logged.units_freed, logged.at)
        if again is None or move_key(again.moves) != move_key(logged.moves):
            raise ReplayMismatchError(
                f"entry {seq}: the logged relocation recommendation differs from the replayed one",
                field="seq",
            )

    # -- pipeline ------------------------------------------------------------------------------

    def _check_skew(self, event: Event) -> None:
        """Refuse an event dated further ahead of the engine clock than the allowed skew."""
        if event.at is None:
            return
        limit = self._clock() + self._max_skew
        if event.at > limit:
            raise InputError(
                f"{event.at.isoformat()} is more than {self._max_skew.total_seconds():.0f} s "
                "ahead of the centre's clock",
                field="at",
            )

    def _stamp(self, event: Event) -> Event:
        if event.at is not None:
            return event
        now = self._clock()
        last = self._state.last_at
        return event.model_copy(update={"at": now if last is None or now >= last else last})

    def _normalise(self, event: Event) -> Event:
        """Make implicit choices explicit, so the log says exactly what happened."""
        if isinstance(event, DispatchAccepted) and (event.units is None or event.not_sent is None):
            recommended = recommended_units(self._state, event.incident_id)
            units = recommended if event.units is None else event.units
            not_sent = [u for u in recommended if u not in units]
            return event.model_copy(update={"units": units, "not_sent": not_sent})
        if isinstance(event, RelocationAccepted) and event.to_station is None:
            move = self._state.relocations.get(event.unit_id)
            if move is not None:
                return event.model_copy(update={"to_station": move.to_station})
        if isinstance(event, CentreConfigured):
            if event.codes is None:
                table = self.codes
                source: str | None = event.codes_source or table.source
            else:
                table = CodeTable.from_data(event.codes, source="centre_configured.codes")
                if event.codes_sha256 not in (None, table.sha256):
                    raise InputError(
                        f"is not the SHA-256 of the given table ({table.sha256})",
                        field="codes_sha256",
                    )
                source = event.codes_source
            self._tables[table.sha256] = table
            return event.model_copy(
                update={
                    "codes": table.to_data(),
                    "codes_sha256": table.sha256,
                    "codes_source": source,
                }
            )
        return event

    def _codes_for(self, event: Event) -> CodeTable:
        """The code table in force after ``event``: a configuration's own, else the current."""
        if not isinstance(event, CentreConfigured) or event.codes is None:
            return self.codes
        sha = event.codes_sha256
        if sha == self.codes.sha256:
            return self.codes
        table = self._tables.get(sha) if sha is not None else None
        if table is None:
            table = _logged_table(event)
            self._tables[table.sha256] = table
        return table

    def _check(self, state: CentreState, event: Event) -> None:
        """Validate ``event`` on top of ``state`` without keeping the result."""
        apply(state, self._normalise(event), codes=self.codes)
        self._check_locations(event)

    def _process(self, event: Event, derived: list[Event]) -> tuple[int, Event, str | None]:
        """Validate, log, fold, and re-solve; append any recommendation to ``derived``."""
        before = self._state
        table = self._codes_for(event)
        new_state = apply(before, event, codes=table)
        self._check_locations(event)
        region = self._region_for(event)
        closure = self._try_closure(event, new_state)
        try:
            seq, stored, incident = self._record(event, new_state)
        except BaseException:
            if closure is not None and self._region is not None:
                self._region.lift_closure(closure)
            raise
        self._region = region
        self._side_effects(event, new_state, table)
        self._state = new_state
        if affects_plan(event, before):
            plan = self._solve()
            changed = needs_recommendation(event, self._plan, plan)
            changes = plan_changes(self._plan, plan)
            self._plan = plan
            if changed:
                recommendation = recommendation_event(plan, changes, at=new_state.last_at)
                self._record_derived(recommendation, derived)
        if event.type in FREEING_TYPES and self._relocation_rule() is not None:
            freed = _freed(before, new_state)
            if freed:
                self._relocate("unit_freed", freed, new_state.last_at, derived)
        return seq, stored, incident

    # -- move-up -------------------------------------------------------------------------------

    def _relocation_rule(self) -> str | None:
        """``dmexclp`` or ``mip`` when the policy has a relocation part and ETAs are on roads."""
        if not self._move_up or self._region is None or self._state.config is None:
            return None
        return split_policy(self.config.solver.policy)[1]

    def _coverage_model(self) -> CoverageModel:
        assert self._region is not None
        if self._coverage is None:
            self._coverage = region_coverage_model(self._region, self.codes)
        return self._coverage

    def _busy(self, when: datetime | None) -> float:
        """The busy fraction ``q``: the given model's by hour, else the centre's own (the share
        of its in-service units not free), so a replay recomputes exactly the same."""
        model = self._coverage_model()
        if not self._own_coverage:
            return model.busy_at(None if when is None else when.timestamp())
        in_service = [u for u in self._state.units.values() if u.status != "out_of_service"]
        busy = sum(1 for u in in_service if u.status != "available")
        return min(max(busy / max(len(in_service), 1), 0.05), 0.95)

    def _moveup(
        self, trigger: Trigger, freed: Sequence[str], at: datetime | None
    ) -> RelocationRecommended | None:
        """The move-up recommendation for the current state (``None``: no relocation rule)."""
        rule = self._relocation_rule()
        if rule is None:
            return None
        return recommend(
            self._state,
            rule=rule,
            policy=self.config.solver.policy,
            trigger=trigger,
            freed=freed,
            at=at,
            model=self._coverage_model(),
            q=self._busy(at),
            drive=self._etas,
            limits=self.config.relocation.to_limits(),
        )

    def _relocate(
        self, trigger: Trigger, freed: Sequence[str], at: datetime | None, derived: list[Event]
    ) -> None:
        """Log a ``relocation_recommended`` when the pending moves change."""
        advice = self._moveup(trigger, freed, at)
        if advice is None:
            return
        if move_key(advice.moves) == move_key(list(self._state.relocations.values())):
            return
        self._record_derived(advice, derived)

    def _record_derived(self, event: Event, derived: list[Event]) -> None:
        new_state = apply(self._state, event, codes=self.codes)
        _, stored, _ = self._record(event, new_state)
        self._state = new_state
        derived.append(stored)

    def _escalate(self, now: datetime, derived: list[Event]) -> None:
        for _ in range(MAX_ESCALATION_ROUNDS):
            due = evaluate(self._state, codes=self.codes, config=self.config.escalation, now=now)
            if not due:
                return
            for escalation in due:
                _, stored, _ = self._process(escalation, derived)
                derived.append(stored)

    def _record(self, event: Event, new_state: CentreState) -> tuple[int, Event, str | None]:
        """Append to the log (if any) in one transaction; returns the seq, the stored event and
        the incident it concerns."""
        payload, private = split_personal(event)
        stored = without_personal(event)
        incident = event_incident(event) or _unit_incident(event, self._state, new_state)
        if self._log is None:
            self._version += 1
            return self._version, stored, incident
        entry = NewEntry(
            kind=event.type,
            payload=payload,
            personal=private,
            incident=incident,
            actor=event.actor,
            recorded_at=event.at or self._clock(),
        )
        try:
            # The log's own audit entries (personal-data reads) may have moved the head; any
            # other writer's entry is a conflict, checked under the log's write lock.
            appended = self._log.append(
                entry, expected_seq=self._version, ignore_audit_entries=True
            )
        except ConflictError as exc:
            raise ConflictError(
                f"{exc.message}; another writer appended to the log: rebuild the engine with "
                "Engine.replay",
                field="expected_version",
            ) from exc
        self._version = appended.seq
        return appended.seq, stored, incident

    def _outcome(
        self,
        seq: int,
        stored: Event,
        *,
        incident: str | None,
        plan_before: Plan | None,
        derived: list[Event],
    ) -> Outcome:
        """The outcome of the event just processed."""
        return Outcome(
            version=self._version,
            seq=seq,
            event=stored,
            plan=self._plan,
            changes=plan_changes(plan_before, self._plan),
            derived=tuple(derived),
            incident=incident,
        )

    def _publish(self, outcome: Outcome) -> Outcome:
        """Pass a committed outcome to every subscriber."""
        for callback in list(self._subscribers):
            try:
                callback(outcome)
            except Exception:
                logger.exception("engine subscriber failed")
        return outcome

    # -- transaction boundary ------------------------------------------------------------------

    def _transaction(self, *, defer_sync: bool = False) -> AbstractContextManager[Any]:
        """The log transaction one decision runs in (nothing to commit in memory)."""
        return nullcontext() if self._log is None else self._log.transaction(defer_sync=defer_sync)

    def _save(self) -> _Saved:
        """What a decision may change, to put back if it does not commit."""
        return _Saved(
            state=self._state,
            plan=self._plan,
            version=self._version,
            codes=self.codes,
            logged_codes=self._logged_codes,
            region=self._region,
            region_spec=self._region_spec,
        )

    def _restore(self, saved: _Saved) -> None:
        """Undo a decision that did not commit, closures on the region included."""
        if saved.region is not self._region:
            self._node_cache.clear()
        self._state = saved.state
        self._plan = saved.plan
        self._version = saved.version
        self.codes = saved.codes
        self._logged_codes = saved.logged_codes
        self._region = saved.region
        self._region_spec = saved.region_spec
        if self._region is None:
            return
        wanted = self._state.closures
        for closure_id in list(self._region.closures):
            if closure_id not in wanted:
                self._region.lift_closure(closure_id)
        for closure_id, closure in wanted.items():
            if closure_id not in self._region.closures:
                self._region.apply_closure(closure_id, _closure(closure))

    # -- region and ETAs -----------------------------------------------------------------------

    def _region_for(self, event: Event) -> Region | None:
        """The region after ``event``: a reconfiguration may name another one."""
        if not isinstance(event, CentreConfigured) or event.region == self._region_spec:
            return self._region
        return load_region(event.region, fresh=True) if event.region is not None else None

    def _side_effects(self, event: Event, new_state: CentreState, codes: CodeTable) -> None:
        """Keep the code table and the region in step with the state."""
        if isinstance(event, CentreConfigured):
            self.codes = codes
            self._logged_codes = event.codes_sha256 if event.codes is not None else None
        if isinstance(event, CentreConfigured) and event.region != self._region_spec:
            self._region_spec = event.region
            self._node_cache.clear()
            if self._region is not None:  # a new region: carry the closures over
                for closure in new_state.closures.values():
                    self._region.apply_closure(closure.id, _closure(closure))
        if self._region is None:
            return
        if isinstance(event, RoadClosureOn) and event.closure_id not in self._region.closures:
            closure = new_state.closures[event.closure_id]
            self._region.apply_closure(event.closure_id, _closure(closure))
        elif isinstance(event, RoadClosureOff):
            self._region.lift_closure(event.closure_id)

    def _try_closure(self, event: Event, new_state: CentreState) -> str | None:
        """Put a new closure on the region before logging it, so bad geometry is refused
        with nothing logged; returns its id for undoing if the log write fails."""
        if not isinstance(event, RoadClosureOn):
            return None
        closure = _closure(new_state.closures[event.closure_id])
        if self._region is None:
            return None
        self._region.apply_closure(event.closure_id, closure)
        return event.closure_id

    def _check_locations(self, event: Event) -> None:
        """Refuse points off the region's roads before anything is logged."""
        if self._region is None:
            return
        points: list[tuple[str, Location]] = []
        if isinstance(event, IncidentOpened | IncidentUpdated | UnitMoved) and event.location:
            points.append(("location", event.location.location()))
        elif isinstance(event, UnitRegistered):
            points.append(("home", event.home.location()))
            if event.location is not None:
                points.append(("location", event.location.location()))
        for name, point in points:
            try:
                self._node(point)
            except PlannerError as exc:
                raise type(exc)(exc.message, field=name) from exc

    def _node(self, location: Location) -> int:
        assert self._region is not None
        node = self._node_cache.get(location)
        if node is None:
            if len(self._node_cache) > 50_000:
                self._node_cache.clear()
            snap = self._region.snap(location.lat, location.lon, max_snap_m=self._max_snap_m)
            node = self._node_cache[location] = snap.node
        return node

    def _etas(self, origins: Sequence[Location], destinations: Sequence[Location]) -> FloatArray:
        """Unit-to-incident seconds: road network (cached trees) or crow-fly."""
        if not origins or not destinations:
            return np.zeros((len(origins), len(destinations)), dtype=np.float64)
        if self._region is None:
            cf = self.config.crow_fly
            return crow_fly.eta_matrix(
                origins, destinations, speed_kmh=cf.speed_kmh, detour_factor=cf.detour_factor
            )
        unit_nodes = np.array([self._node(p) for p in origins], dtype=np.int64)
        result = np.empty((len(origins), len(destinations)), dtype=np.float64)
        for j, point in enumerate(destinations):
            result[:, j] = self._region.etas_to(self._node(point))[unit_nodes]
        return result

    def _solve(self) -> Plan:
        problem = build_problem(self._state, codes=self.codes)
        etas = self._etas(
            [self._state.units[u.id].location for u in problem.units],
            [self._state.incidents[i.id].location for i in problem.incidents],
        )
        last = self._state.last_at
        problem = replace(
            problem, travel_times_s=etas, now_s=None if last is None else last.timestamp()
        )
        options = self.config.solver.to_options()
        if split_policy(options.policy)[0] == "coverage" and self._region is not None:
            check_policy_name(options.policy)
            return self._solve_coverage(problem, options)
        return solve(problem, options, previous=self._plan)

    def _solve_coverage(self, problem: DispatchProblem, options: SolveOptions) -> Plan:
        """Strict dynamic MEXCLP on this centre's region: the optimal solve, with each arc
        charged the coverage its unit's departure loses (see :mod:`planner.dispatch.coverage`).
        Live, the busy fraction is the centre's own: the share of its in-service units not
        free; replaying the log recomputes exactly the same."""
        model = self._coverage_model()
        q = self._busy(self._state.last_at) if self._own_coverage else None
        start = time.perf_counter()
        plan = solve_coverage(problem, options, model, q=q, previous=self._plan)
        waits = {u.id: u.waits_at for u in self._state.units.values()}
        plan = kept_notes(plan, problem, model, q=q, stations=waits)
        return replace(plan, options=options, solve_ms=(time.perf_counter() - start) * 1000.0)


def _logged_table(event: CentreConfigured) -> CodeTable:
    """The table a logged configuration carries, checked against its digest."""
    table = CodeTable.from_data(event.codes, source=f"logged table ({event.codes_source})")
    if event.codes_sha256 is not None and event.codes_sha256 != table.sha256:
        raise InputError(
            f"the logged code table does not match its digest {event.codes_sha256}",
            field="codes_sha256",
        )
    return table


def _closure(closure: ClosureState) -> Closure:
    """The region's closure object for a closure of the state (validates its geometry)."""
    return Closure(
        centre=closure.centre,
        radius_m=closure.radius_m,
        polygon=closure.polygon,
        factor=closure.factor,
    )


def _freed(before: CentreState, after: CentreState) -> list[str]:
    """Units that have just become free (available or returning from any other status)."""
    return sorted(
        unit.id
        for unit in after.units.values()
        if unit.status in FREE_STATUSES
        and (old := before.units.get(unit.id)) is not None
        and old.status not in FREE_STATUSES
    )


def _unit_incident(event: Event, before: CentreState, after: CentreState) -> str | None:
    """The incident a unit event concerns (for the log's per-incident timeline)."""
    unit_id = getattr(event, "unit_id", None)
    if not isinstance(unit_id, str):
        return None
    for state in (after, before):
        unit = state.units.get(unit_id)
        if unit is not None and unit.incident is not None:
            return unit.incident
    return None
