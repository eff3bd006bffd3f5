"""The Problem/Plan JSON contract: parsing, every bad-input rule, the plan's shape."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from planner.dispatch.domain import UnitStatus
from planner.dispatch.problem_io import ProblemIn, parse_problem, plan_to_json
from planner.dispatch.solver import solve
from planner.errors import InputError, PlannerError


def problem_json() -> dict[str, Any]:
    return {
        "units": [
            {
                "id": "M1",
                "capabilities": ["ALS"],
                "status": "available",
                "location": {"lat": 40.27, "lon": -76.88},
                "incident": None,
            },
            {"id": "M7", "capabilities": ["ALS", "BLS"], "location": {"lat": 40.3, "lon": -76.9}},
            {"id": "E1", "capabilities": ["ENGINE"], "status": "en_route", "incident": "I2"},
        ],
        "incidents": [
            {
                "id": "I1",
                "priority": 1,
                "code": "CARDIAC",
                "location": {"lat": 40.26, "lon": -76.87},
                "requirements": {"ALS": 1},
                "target_s": 420,
            },
            {
                "id": "I2",
                "priority": 3,
                "code": "FIRE",
                "requirements": {"ENGINE": 2, "LADDER": 1},
                "target_s": 600,
            },
        ],
        "travel_times_s": {"M1": {"I1": 300.0, "I2": 500.0}, "M7": {"I1": 410.0}},
        "options": {
            "policy": "optimal",
            "priority_weights": {"1": 16, "2": 8, "3": 4, "4": 2, "5": 1},
            "late_penalty_s": 600,
            "time_limit_s": 2.0,
            "allow_preemption": False,
        },
    }


def test_parse_and_solve_issue_example() -> None:
    parsed = parse_problem(problem_json())
    assert parsed.problem.units[2].status is UnitStatus.EN_ROUTE
    assert parsed.problem.travel_times_s[1, 1] == math.inf  # missing pair: unreachable
    assert parsed.options.priority_weights[1] == 16
    plan = plan_to_json(solve(parsed.problem, parsed.options))
    assert plan["status"] == "optimal"
    assert plan["assignments"][0] == {
        "unit": "M1",
        "incident": "I1",
        "capability": "ALS",
        "eta_s": 300.0,
        "why": {
            "rank": 1,
            "next_best_unit": "M7",
            "next_best_eta_s": 410.0,
            "notes": ["110 s sooner than M7"],
        },
        "preempted_from": None,
    }
    assert plan["committed"][0]["unit"] == "E1"
    assert plan["committed"][0]["eta_s"] is None
    assert {(m["capability"], m["missing"]) for m in plan["unmet"]} == {
        ("ENGINE", 1),
        ("LADDER", 1),
    }
    assert plan["objective"]["filled_by_priority"] == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0}
    assert plan["objective"]["cost"] == 16 * 300.0
    assert set(plan) >= {
        "status",
        "policy",
        "assignments",
        "unmet",
        "objective",
        "options",
        "solve_ms",
    }
    json.dumps(plan, allow_nan=False)


def test_partial_weights_keep_defaults() -> None:
    data = problem_json()
    data["options"] = {"priority_weights": {"1": 100}}
    options = parse_problem(data).options
    assert options.priority_weights == {1: 100, 2: 8, 3: 4, 4: 2, 5: 1}
    assert options.policy == "optimal"


def test_previous_plan_is_accepted_as_written() -> None:
    data = problem_json()
    parsed = parse_problem(data)
    first = plan_to_json(solve(parsed.problem, parsed.options))
    data["previous"] = first
    again = parse_problem(data)
    assert again.previous is not None
    assert [(a.unit, a.incident) for a in again.previous.assignments] == [("M1", "I1")]
    plan = solve(again.problem, again.options, previous=again.previous)
    assert "kept from the previous plan" in plan.assignments[0].why.notes


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(problem_json())
    change(data)
    return data


BAD = [
    ("units[1].id", lambda d: d["units"][1].update(id="M1")),
    ("incidents[1].id", lambda d: d["incidents"][1].update(id="I1")),
    ("incidents[0].priority", lambda d: d["incidents"][0].update(priority=0)),
    ("incidents[0].priority", lambda d: d["incidents"][0].update(priority=6)),
    (
        "incidents[1].requirements.ENGINE",
        lambda d: d["incidents"][1]["requirements"].update(ENGINE=-1),
    ),
    ("incidents[0].target_s", lambda d: d["incidents"][0].update(target_s=-5)),
    ("travel_times_s.M1.I1", lambda d: d["travel_times_s"]["M1"].update(I1=-1.0)),
    ("travel_times_s.X9", lambda d: d["travel_times_s"].update(X9={"I1": 3.0})),
    ("travel_times_s.M1.I9", lambda d: d["travel_times_s"]["M1"].update(I9=3.0)),
    ("travel_times_s", lambda d: d.pop("travel_times_s")),
    ("options.late_penalty_s", lambda d: d["options"].update(late_penalty_s=-1)),
    ("options.priority_weights.0", lambda d: d["options"].update(priority_weights={"0": 3})),
    ("options.priority_weights.2", lambda d: d["options"].update(priority_weights={"2": -3})),
    ("options.preemption_gap", lambda d: d["options"].update(preemption_gap=0)),
    ("units[0].status", lambda d: d["units"][0].update(status="asleep")),
    ("units[0].location.lat", lambda d: d["units"][0]["location"].update(lat=91)),
    ("units[0].capabilities", lambda d: d["units"][0].pop("capabilities")),
    ("incidents[0].colour", lambda d: d["incidents"][0].update(colour="red")),
]


@pytest.mark.parametrize(("field", "change"), BAD, ids=[f for f, _ in BAD])
def test_bad_input_names_the_field(field: str, change: Any) -> None:
    with pytest.raises(InputError) as err:
        parse_problem(_mutated(change))
    assert err.value.field == field
    assert field in str(err.value)


def test_malformed_json() -> None:
    with pytest.raises(InputError) as err:
        parse_problem('{"units": [')
    assert err.value.field == "problem"
    assert "malformed JSON" in str(err.value)
    with pytest.raises(InputError, match="must be a JSON object") as err:
        parse_problem("[1, 2]")
    assert err.value.field == "problem"


def test_unknown_policy_is_refused_by_solve() -> None:
    data = problem_json()
    data["options"]["policy"] = "fastest_wins"
    parsed = parse_problem(data)
    with pytest.raises(InputError, match="fastest_wins"):
        solve(parsed.problem, parsed.options)


def test_problem_model_is_importable_for_the_api() -> None:
    schema = ProblemIn.model_json_schema()
    assert {"units", "incidents", "travel_times_s", "region", "options"} <= set(
        schema["properties"]
    )


def test_travel_times_from_a_region() -> None:
    """Without ``travel_times_s`` the ETAs come from the named region (Utrecht matrix)."""
    from planner.network.loader import load_region

    region = load_region("utrecht")
    lon, lat = (float(x) for x in region.node_lonlat[0])
    lon2, lat2 = (float(x) for x in region.node_lonlat[40])
    data = problem_json()
    del data["travel_times_s"]
    data["region"] = "utrecht"
    data["units"][0]["location"] = {"lat": lat, "lon": lon}
    data["units"][1]["location"] = {"lat": lat2, "lon": lon2}
    data["incidents"][0]["location"] = {"lat": lat2, "lon": lon2}
    data["incidents"][1]["location"] = {"lat": lat, "lon": lon}
    parsed = parse_problem(data)
    tt = parsed.problem.travel_times_s
    assert tt[0, 1] == pytest.approx(0.0, abs=1.0)
    assert tt[1, 0] == pytest.approx(0.0, abs=1.0)
    assert math.isfinite(tt[0, 0]) and tt[0, 0] > 0
    assert tt[2, 0] == math.inf  # E1 has no location: cannot be sent
    plan = solve(parsed.problem, parsed.options)
    assert plan.assignments[0].unit == "M7"


def test_region_needs_incident_locations_and_known_region() -> None:
    from planner.network.loader import load_region

    data = problem_json()
    del data["travel_times_s"]
    data["region"] = "utrecht"
    with pytest.raises(InputError) as err:
        parse_problem(data)
    assert err.value.field == "incidents[1].location"
    lon, lat = (float(x) for x in load_region("utrecht").node_lonlat[0])
    for incident in data["incidents"]:
        incident["location"] = {"lat": lat, "lon": lon}
    data["units"][1]["location"] = {"lat": lat, "lon": lon}
    with pytest.raises(PlannerError) as outside:  # M1 is in Pennsylvania
        parse_problem(data)
    assert outside.value.field == "units[0].location"
    data["region"] = "/nonexistent/atlantis.graphml"
    data["incidents"][1]["location"] = {"lat": 40.0, "lon": -76.0}
    with pytest.raises(PlannerError) as missing:
        parse_problem(data)
    assert missing.value.field == "region"
