"""Regenerate ``scenarios/sample-shift.jsonl``: a morning shift in the Harrisburg demo region.

Each event is run through the live engine as it is written, so the file is valid by
construction and names the units the engine actually recommended. Run from the project root:
``.venv/bin/python scenarios/harrisburg/make_sample_shift.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.centre.config import EngineConfig, EscalationConfig, EscalationRule, SolverConfig
from planner.centre.events import CentreConfigured
from planner.sim.fleet import load_fleet
from planner.network.loader import load_region
from planner.settings import SCENARIOS_DIR

EST = timezone(timedelta(hours=-5))
START = datetime(2026, 3, 14, 6, 55, tzinfo=EST)
OUT = SCENARIOS_DIR / "sample-shift.jsonl"

CONFIG = EngineConfig(
    region="harrisburg",
    solver=SolverConfig(allow_preemption=True, preemption_gap=2, time_limit_s=2.0),
    escalation=EscalationConfig(
        rules=[
            EscalationRule(
                id="unmet-5min", kind="unmet_for", seconds=300, raise_by=0, command_level="silver"
            ),
            EscalationRule(id="casualties", kind="casualties_over", command_level="silver"),
            EscalationRule(
                id="unacknowledged-90s",
                kind="unacknowledged_for",
                seconds=90,
                raise_by=0,
                command_level="bronze",
            ),
        ]
    ),
)


class Shift:
    def __init__(self) -> None:
        self.engine = Engine(
            codes=CodeTable.load(), region=load_region("harrisburg", fresh=True), config=CONFIG
        )
        self.lines: list[dict[str, Any]] = []

    def at(self, minutes: float) -> str:
        return (START + timedelta(minutes=minutes)).isoformat()

    def emit(self, minutes: float, event: dict[str, Any]) -> None:
        event = {"at": self.at(minutes), **event}
        self.engine.submit(event)
        self.lines.append(event)

    def dispatch(self, minutes: float, incident: str, actor: str = "dispatcher:alice") -> list[str]:
        units = [
            a.unit
            for a in (self.engine.plan.assignments if self.engine.plan else ())
            if a.incident == incident
        ]
        self.emit(
            minutes,
            {"type": "dispatch_accepted", "actor": actor, "incident_id": incident, "units": units},
        )
        return units

    def unit_event(self, minutes: float, kind: str, unit: str, **extra: Any) -> None:
        self.emit(minutes, {"type": kind, "actor": f"unit:{unit}", "unit_id": unit, **extra})


def build() -> list[dict[str, Any]]:
    s = Shift()
    configured = CentreConfigured.from_config(
        CONFIG, at=START, actor="supervisor:morgan", codes_source="data/codes.yaml"
    )
    s.engine.submit(configured)
    s.lines.append(configured.model_dump(mode="json", exclude_none=True))
    fleet = load_fleet(SCENARIOS_DIR / "harrisburg" / "fleet.yaml")
    for event in fleet.registration_events(at=START + timedelta(minutes=1), actor="system:fleet"):
        data = event.model_dump(mode="json", exclude_none=True)
        s.engine.submit(data)
        s.lines.append(data)

    # 07:02 cardiac arrest on Allison Hill
    s.emit(
        7,
        {
            "type": "contact_received",
            "actor": "calltaker:bob",
            "contact_id": "C-0701",
            "channel": "phone",
            "caller_name": "Dana Whitfield",
            "caller_phone": "+1 717 555 0142",
            "caller_address": "1412 Derry St, Harrisburg",
            "summary": "Husband collapsed, not breathing",
        },
    )
    s.emit(
        8,
        {
            "type": "incident_opened",
            "actor": "calltaker:bob",
            "incident_id": "I-0701",
            "contact_id": "C-0701",
            "code": "CARDIAC_ARREST",
            "location": {"lat": 40.2609, "lon": -76.8655},
            "address": "1412 Derry St",
            "details": "Male 67, collapsed in kitchen, CPR in progress by wife",
            "methane": {"casualties": 1, "type": "medical", "access": "front door open"},
        },
    )
    i1 = s.dispatch(8.5, "I-0701")
    for u in i1:
        s.unit_event(9, "unit_acknowledged", u)

    # 07:10 chest pain by SMS (text relay) in Colonial Park
    s.emit(
        15,
        {
            "type": "contact_received",
            "actor": "calltaker:bob",
            "contact_id": "C-0702",
            "channel": "sms",
            "caller_phone": "+1 717 555 0199",
            "summary": "Crushing chest pain for 20 minutes, deaf caller texting",
        },
    )
    s.emit(
        16,
        {
            "type": "incident_opened",
            "actor": "calltaker:bob",
            "incident_id": "I-0702",
            "contact_id": "C-0702",
            "code": "CHEST_PAIN",
            "location": {"lat": 40.3005, "lon": -76.8110},
            "address": "4210 Jonestown Rd",
            "details": "Female 58, history of angina; communicate by text",
        },
    )
    i2 = s.dispatch(16.5, "I-0702")
    for u in i1:
        s.unit_event(17, "unit_arrived", u)

    # 07:20 road traffic collision on Derry St; a second caller; casualties rise
    s.emit(
        25,
        {
            "type": "contact_received",
            "actor": "calltaker:carol",
            "contact_id": "C-0703",
            "channel": "phone",
            "caller_name": "Luis Ortega",
            "caller_phone": "+1 717 555 0163",
            "summary": "Two cars collided, one driver hurt",
        },
    )
    s.emit(
        26,
        {
            "type": "incident_opened",
            "actor": "calltaker:carol",
            "incident_id": "I-0703",
            "contact_id": "C-0703",
            "code": "ROAD_TRAFFIC_COLLISION_INJURY",
            "location": {"lat": 40.2545, "lon": -76.8460},
            "address": "Derry St at S 29th St",
            "methane": {
                "casualties": 1,
                "type": "two-car RTC",
                "hazards": ["fuel leak"],
                "access": "eastbound lane blocked",
            },
        },
    )
    i3 = s.dispatch(26.5, "I-0703")
    for u in i2 + i3:
        s.unit_event(27, "unit_acknowledged", u)
    s.emit(
        28,
        {
            "type": "contact_received",
            "actor": "calltaker:bob",
            "contact_id": "C-0704",
            "channel": "phone",
            "caller_name": "Priya Nair",
            "caller_phone": "+1 717 555 0110",
            "summary": "Crash on Derry St, three people hurt, one trapped",
        },
    )
    s.emit(
        28.5,
        {
            "type": "contact_linked",
            "actor": "calltaker:bob",
            "contact_id": "C-0704",
            "incident_id": "I-0703",
        },
    )
    s.emit(
        29,
        {
            "type": "incident_updated",
            "actor": "calltaker:bob",
            "incident_id": "I-0703",
            "details": "Three casualties, one trapped in driver seat",
            "methane": {
                "casualties": 3,
                "type": "two-car RTC",
                "exact_location": "outside 2900 Derry St",
                "hazards": ["fuel leak", "trapped occupant"],
                "access": "eastbound lane blocked",
                "services_present": ["police"],
                "services_required": ["ambulance", "fire"],
            },
        },
    )
    # the casualties rule escalates I-0703 to level 2: more ambulances and the supervisor
    i3b = s.dispatch(30, "I-0703")
    for u in i3b:
        s.unit_event(30.7, "unit_acknowledged", u)
    s.emit(
        30.8,
        {
            "type": "agency_notified",
            "actor": "dispatcher:alice",
            "incident_id": "I-0703",
            "agency": "PennDOT District 8",
            "channel": "phone",
            "reference": "PD8-2026-0314-07",
        },
    )
    s.emit(
        31,
        {
            "type": "road_closure_on",
            "actor": "dispatcher:alice",
            "closure_id": "RC-derry",
            "centre": {"lat": 40.2545, "lon": -76.8460},
            "radius_m": 150,
            "reason": "collision scene, Derry St closed both ways",
        },
    )

    # 07:30 gas leak reported on the web form in Penbrook
    s.emit(
        35,
        {
            "type": "contact_received",
            "actor": "web",
            "contact_id": "C-0705",
            "channel": "web",
            "caller_name": "Frank Miller",
            "caller_address": "2635 Canby St",
            "summary": "Strong smell of gas in the basement",
        },
    )
    s.emit(
        36,
        {
            "type": "incident_opened",
            "actor": "calltaker:carol",
            "incident_id": "I-0704",
            "contact_id": "C-0705",
            "code": "GAS_LEAK",
            "location": {"lat": 40.2790, "lon": -76.8445},
            "address": "2635 Canby St",
            "methane": {"hazards": ["natural gas"], "access": "rear alley"},
        },
    )
    s.dispatch(36.5, "I-0704")

    # 07:40 assault downtown, reported by the transit police: the dispatcher overrides
    for u in i3 + i3b:
        s.unit_event(38, "unit_arrived", u)
    s.emit(
        40,
        {
            "type": "contact_received",
            "actor": "calltaker:bob",
            "contact_id": "C-0706",
            "channel": "agency",
            "caller_name": "Transit Police desk",
            "summary": "Fight at the bus shelter, one man bleeding",
        },
    )
    s.emit(
        41,
        {
            "type": "incident_opened",
            "actor": "calltaker:bob",
            "incident_id": "I-0705",
            "contact_id": "C-0706",
            "code": "ASSAULT",
            "location": {"lat": 40.2640, "lon": -76.8705},
            "methane": {"casualties": 1, "hazards": ["weapon possible"]},
        },
    )
    plan = s.engine.plan
    assert plan is not None
    recommended = [a.unit for a in plan.assignments if a.incident == "I-0705"]
    chosen = ["P1", "S1"] if "S1" not in recommended else ["P1", "P3"]
    s.emit(
        41.5,
        {
            "type": "dispatch_overridden",
            "actor": "dispatcher:alice",
            "incident_id": "I-0705",
            "units": chosen,
            "instead_of": [u for u in recommended if u not in chosen],
            "reason": "weapon reported: sergeant attends with the first car",
        },
    )
    s.dispatch(42, "I-0705")

    # progress and clear-downs
    for u in i2:
        s.unit_event(45, "unit_arrived", u)
    s.unit_event(
        48, "unit_status_changed", i1[0], status="transporting", reason="to UPMC Harrisburg"
    )
    s.emit(
        50,
        {
            "type": "incident_closed",
            "actor": "dispatcher:alice",
            "incident_id": "I-0701",
            "outcome": "transported",
            "summary": "ROSC on scene, transported to UPMC Harrisburg",
        },
    )
    s.unit_event(62, "unit_status_changed", i1[0], status="at_hospital")
    s.emit(
        66,
        {
            "type": "complaint_recorded",
            "actor": "calltaker:carol",
            "incident_id": "I-0702",
            "contact_id": "C-0702",
            "category": "response time",
            "text": "Daughter says the ambulance took too long and texts were not answered",
        },
    )
    s.emit(
        70,
        {
            "type": "query_recorded",
            "actor": "calltaker:bob",
            "incident_id": "I-0703",
            "contact_id": "C-0704",
            "topic": "hospital destination",
            "text": "Caller asks where her brother was taken",
        },
    )
    s.emit(
        72,
        {
            "type": "note_added",
            "actor": "dispatcher:alice",
            "incident_id": "I-0703",
            "text": "Trapped driver released at 08:05, all three casualties conveyed",
        },
    )
    s.emit(
        75,
        {
            "type": "incident_closed",
            "actor": "dispatcher:alice",
            "incident_id": "I-0702",
            "outcome": "treated on scene",
        },
    )
    s.unit_event(80, "unit_status_changed", i1[0], status="available")
    s.emit(85, {"type": "road_closure_off", "actor": "dispatcher:alice", "closure_id": "RC-derry"})
    s.emit(
        88,
        {
            "type": "incident_closed",
            "actor": "dispatcher:alice",
            "incident_id": "I-0703",
            "outcome": "three transported",
        },
    )
    s.emit(
        95,
        {
            "type": "incident_closed",
            "actor": "dispatcher:alice",
            "incident_id": "I-0705",
            "outcome": "one arrested, one treated",
        },
    )
    s.emit(
        120,
        {
            "type": "incident_closed",
            "actor": "dispatcher:alice",
            "incident_id": "I-0704",
            "outcome": "leak made safe",
        },
    )
    return s.lines


def main() -> None:
    lines = build()
    OUT.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    print(f"wrote {len(lines)} events to {OUT}")


if __name__ == "__main__":
    main()
