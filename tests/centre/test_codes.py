"""The code table: the shipped defaults, cumulative levels, and every validation error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.centre.codes import (
    DEFAULT_CODES_PATH,
    SERVICES,
    CodeTable,
    UnknownCodeError,
)
from planner.errors import InputError

MINIMAL = """\
version: 1
capabilities:
  ENGINE: Fire engine
  LADDER: Ladder
codes:
  CAR_FIRE:
    label: Car fire
    service: fire
    default_priority: 2
    target_s: 320
    levels:
      - {ENGINE: 1}
      - {ENGINE: 1, LADDER: 1, command_level: silver}
    advice:
      - Move away from the vehicle.
"""


@pytest.fixture(scope="module")
def table() -> CodeTable:
    return CodeTable.load()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codes.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- the shipped table


def test_default_table_loads_from_project_data(table: CodeTable) -> None:
    assert table.source == str(DEFAULT_CODES_PATH)
    assert len(table) >= 40


def test_default_table_covers_every_service_with_advice_and_levels(table: CodeTable) -> None:
    assert {code.service for code in table} == set(SERVICES)
    for code in table:
        assert code.label and code.advice, code.code
        assert all(sentence.strip() for sentence in code.advice), code.code
        assert code.max_level >= 1, code.code
        assert 1 <= code.default_priority <= 5, code.code
        assert code.target_s > 0, code.code
        used = set(code.requirements(code.max_level))
        assert used <= table.capabilities, code.code


def test_default_table_has_the_codes_the_brief_names(table: CodeTable) -> None:
    for name in (
        "CARDIAC_ARREST",
        "BREATHING_PROBLEMS",
        "STROKE",
        "CHEST_PAIN",
        "FALL",
        "FIRE_IN_BUILDING",
        "AUTO_FIRE_ALARM",
        "CAR_FIRE",
        "AID_RESPONSE",
        "MEDIC_RESPONSE",
        "MOTOR_VEHICLE_INCIDENT",
        "RESCUE_HEAVY",
        "HAZMAT",
        "ROBBERY_IN_PROGRESS",
        "ASSAULT",
        "TRAFFIC_COLLISION",
        "WELFARE_CHECK",
        "GAS_LEAK",
        "POWER_LINE_DOWN",
    ):
        assert name in table


ARP = {
    # priority: (target_s, target_p90_s, target_fraction)
    1: (420.0, 900.0, None),  # Cat 1: mean 7 min, 90th centile 15 min
    2: (1080.0, 2400.0, None),  # Cat 2: mean 18 min, 90th centile 40 min
    3: (7200.0, None, 0.9),  # Cat 3: 90 % within 120 min
    4: (10800.0, None, 0.9),  # Cat 4: 90 % within 180 min
}


def test_ambulance_codes_carry_the_arp_targets_of_their_category(table: CodeTable) -> None:
    ambulance = table.for_service("ambulance")
    assert {c.default_priority for c in ambulance} == set(ARP)
    for code in ambulance:
        expected = ARP[code.default_priority]
        assert (code.target_s, code.target_p90_s, code.target_fraction) == expected, code.code
        assert f"Cat {code.default_priority}" in code.label, code.code


def test_arp_standards_read_as_published(table: CodeTable) -> None:
    assert table["CARDIAC_ARREST"].standard == "mean 7 min, 90th centile 15 min"
    assert table["STROKE"].standard == "mean 18 min, 90th centile 40 min"
    assert table["FALL"].standard == "90% within 120 min"
    assert table["FALL_UNINJURED"].standard == "90% within 180 min"


def test_cardiac_arrest_sends_als_and_a_second_resource(table: CodeTable) -> None:
    first = table["CARDIAC_ARREST"].requirements(1)
    assert first["ALS"] >= 1
    assert sum(first.values()) >= 2


def test_gas_leak_escalation_adds_fire_and_police_for_the_cordon(table: CodeTable) -> None:
    gas = table["GAS_LEAK"]
    assert gas.requirements(1) == {"GAS_CREW": 1}
    assert gas.requirements(2)["ENGINE"] >= 1
    assert gas.requirements(2)["POLICE"] >= 1


# ---------------------------------------------------------------- levels and lookups


def test_requirements_are_cumulative_and_capped_at_the_last_level() -> None:
    code = CodeTable.from_yaml(MINIMAL)["CAR_FIRE"]
    assert code.max_level == 2
    assert code.requirements(1) == {"ENGINE": 1}
    assert code.requirements(2) == {"ENGINE": 2, "LADDER": 1}
    assert code.requirements(7) == code.requirements(2)
    assert code.requirements() == code.requirements(1)


@pytest.mark.parametrize("level", [0, -1, True])
def test_requirements_refuse_a_level_below_one(level: int) -> None:
    code = CodeTable.from_yaml(MINIMAL)["CAR_FIRE"]
    with pytest.raises(InputError) as err:
        code.requirements(level)
    assert err.value.field == "level"


def test_requirements_returns_a_fresh_dict() -> None:
    code = CodeTable.from_yaml(MINIMAL)["CAR_FIRE"]
    code.requirements(1)["ENGINE"] = 99
    assert code.requirements(1) == {"ENGINE": 1}


@given(
    steps=st.lists(
        st.dictionaries(st.sampled_from(["ENGINE", "LADDER"]), st.integers(1, 9), min_size=1),
        min_size=1,
        max_size=5,
    ),
    level=st.integers(1, 8),
)
def test_each_level_adds_exactly_its_step(steps: list[dict[str, int]], level: int) -> None:
    levels = "\n".join(
        "      - {" + ", ".join(f"{k}: {v}" for k, v in s.items()) + "}" for s in steps
    )
    text = MINIMAL.split("    levels:\n")[0] + "    levels:\n" + levels + "\n    advice: [Go.]\n"
    code = CodeTable.from_yaml(text)["CAR_FIRE"]
    total = code.requirements(level)
    expected: dict[str, int] = {}
    for step in steps[:level]:
        for k, v in step.items():
            expected[k] = expected.get(k, 0) + v
    assert total == expected
    if level > 1:
        before = code.requirements(level - 1)
        assert all(total[k] >= before.get(k, 0) for k in total)


def test_command_level_is_cumulative_and_never_lowered(table: CodeTable) -> None:
    code = CodeTable.from_yaml(MINIMAL)["CAR_FIRE"]
    assert code.command_level(1) is None
    assert code.command_level(2) == "silver"
    assert code.command_level(5) == "silver"
    fib = table["FIRE_IN_BUILDING"]
    assert [fib.command_level(n) for n in (1, 2, 3)] == ["bronze", "silver", "gold"]


def test_casualty_thresholds_pick_the_level_and_major_incident(table: CodeTable) -> None:
    rtc = table["ROAD_TRAFFIC_COLLISION_INJURY"]
    assert rtc.escalation is not None
    assert rtc.level_for_casualties(1) == 1
    assert rtc.level_for_casualties(rtc.escalation.casualties_level2 or 0) == 2
    assert rtc.level_for_casualties(rtc.escalation.casualties_level3 or 0) == 3
    assert not rtc.is_major_incident(3)
    assert rtc.is_major_incident(rtc.escalation.major_incident_casualties or 0)
    assert table["STROKE"].level_for_casualties(50) == 1
    assert not table["STROKE"].is_major_incident(50)


def test_unknown_code_names_it_and_suggests_close_matches(table: CodeTable) -> None:
    with pytest.raises(UnknownCodeError) as err:
        table["CARDIAC_ARRST"]
    assert isinstance(err.value, InputError)
    assert isinstance(err.value, KeyError)
    assert err.value.field == "code"
    assert "CARDIAC_ARRST" in str(err.value)
    assert "CARDIAC_ARREST" in str(err.value)
    assert table.get("CARDIAC_ARRST") is None
    assert "CARDIAC_ARRST" not in table


def test_iteration_yields_codes_in_file_order() -> None:
    table = CodeTable.from_yaml(MINIMAL)
    assert [c.code for c in table] == ["CAR_FIRE"] == list(table.names)
    assert table.capabilities == frozenset({"ENGINE", "LADDER"})


def test_to_json_is_json_and_shows_additive_and_total_levels(table: CodeTable) -> None:
    data = json.loads(json.dumps(table.to_json()))
    assert len(data["codes"]) == len(table)
    assert set(data["capabilities"]) == table.capabilities
    fib = next(c for c in data["codes"] if c["code"] == "FIRE_IN_BUILDING")
    assert fib["levels"][1]["total"] == table["FIRE_IN_BUILDING"].requirements(2)
    assert fib["levels"][1]["adds"] == dict(table["FIRE_IN_BUILDING"].levels[1])
    assert fib["advice"] == list(table["FIRE_IN_BUILDING"].advice)


# ---------------------------------------------------------------- broken tables

BROKEN = {
    "unknown_key_in_code": (
        MINIMAL.replace("    service: fire", "    service: fire\n    colour: red"),
        "codes.CAR_FIRE.colour",
        "unknown key",
    ),
    "unknown_top_level_key": (MINIMAL + "extra: 1\n", "extra", "unknown key"),
    "priority_zero": (
        MINIMAL.replace("default_priority: 2", "default_priority: 0"),
        "codes.CAR_FIRE.default_priority",
        "greater than or equal to 1",
    ),
    "priority_six": (
        MINIMAL.replace("default_priority: 2", "default_priority: 6"),
        "codes.CAR_FIRE.default_priority",
        "less than or equal to 5",
    ),
    "priority_not_whole": (
        MINIMAL.replace("default_priority: 2", "default_priority: 1.5"),
        "codes.CAR_FIRE.default_priority",
        "integer",
    ),
    "negative_count": (
        MINIMAL.replace("- {ENGINE: 1}", "- {ENGINE: -1}"),
        "codes.CAR_FIRE.levels[1]",
        "ENGINE count must be a whole number >= 1, got -1",
    ),
    "zero_count": (
        MINIMAL.replace("- {ENGINE: 1}", "- {ENGINE: 0}"),
        "codes.CAR_FIRE.levels[1]",
        "ENGINE count must be a whole number >= 1, got 0",
    ),
    "empty_levels": (
        MINIMAL.replace(
            "      - {ENGINE: 1}\n      - {ENGINE: 1, LADDER: 1, command_level: silver}\n", ""
        ).replace("    levels:\n", "    levels: []\n"),
        "codes.CAR_FIRE.levels",
        "at least 1 item",
    ),
    "level_without_units": (
        MINIMAL.replace("- {ENGINE: 1}", "- {command_level: gold}"),
        "codes.CAR_FIRE.levels[1]",
        "sends no units",
    ),
    "lowercase_key_in_level": (
        MINIMAL.replace("command_level: silver", "comand_level: silver"),
        "codes.CAR_FIRE.levels[2]",
        "unknown key 'comand_level'",
    ),
    "bad_command_level": (
        MINIMAL.replace("command_level: silver", "command_level: platinum"),
        "codes.CAR_FIRE.levels[2]",
        "bronze, silver, gold",
    ),
    "zero_target": (
        MINIMAL.replace("target_s: 320", "target_s: 0"),
        "codes.CAR_FIRE.target_s",
        "greater than 0",
    ),
    "negative_target": (
        MINIMAL.replace("target_s: 320", "target_s: -5"),
        "codes.CAR_FIRE.target_s",
        "greater than 0",
    ),
    "p90_below_target": (
        MINIMAL.replace("target_s: 320", "target_s: 320\n    target_p90_s: 100"),
        "codes.CAR_FIRE",
        "target_p90_s (100) is below target_s (320)",
    ),
    "fraction_above_one": (
        MINIMAL.replace("target_s: 320", "target_s: 320\n    target_fraction: 1.5"),
        "codes.CAR_FIRE.target_fraction",
        "less than or equal to 1",
    ),
    "p90_and_fraction": (
        MINIMAL.replace(
            "target_s: 320", "target_s: 320\n    target_p90_s: 900\n    target_fraction: 0.9"
        ),
        "codes.CAR_FIRE",
        "either target_p90_s or target_fraction",
    ),
    "unknown_service": (
        MINIMAL.replace("service: fire", "service: coastguard"),
        "codes.CAR_FIRE.service",
        "'ambulance', 'fire', 'police' or 'utility'",
    ),
    "missing_label": (
        MINIMAL.replace("    label: Car fire\n", ""),
        "codes.CAR_FIRE.label",
        "Field required",
    ),
    "empty_advice": (
        MINIMAL.replace("    advice:\n      - Move away from the vehicle.\n", "    advice: []\n"),
        "codes.CAR_FIRE.advice",
        "at least 1 item",
    ),
    "undeclared_capability": (
        MINIMAL.replace("- {ENGINE: 1}", "- {ENIGNE: 1}"),
        "codes.CAR_FIRE.levels[1]",
        "did you mean ENGINE?",
    ),
    "lowercase_code_name": (
        MINIMAL.replace("  CAR_FIRE:", "  car_fire:"),
        "codes",
        "'car_fire' is not an UPPER_CASE name",
    ),
    "escalation_decreasing": (
        MINIMAL + "    escalation: {casualties_level2: 5, major_incident_casualties: 2}\n",
        "codes.CAR_FIRE.escalation",
        "must not decrease",
    ),
    "escalation_beyond_levels": (
        MINIMAL + "    escalation: {casualties_level3: 5}\n",
        "codes.CAR_FIRE",
        "casualties_level3 set but the code has < 3 levels",
    ),
    "escalation_unknown_key": (
        MINIMAL + "    escalation: {casualties_level4: 5}\n",
        "codes.CAR_FIRE.escalation.casualties_level4",
        "unknown key",
    ),
    "no_codes": (
        MINIMAL.split("codes:")[0] + "codes: {}\n",
        "codes",
        "at least 1 item",
    ),
}


@pytest.mark.parametrize(("text", "field", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_table_is_refused_naming_code_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        CodeTable.load(path)
    assert err.value.field == field
    assert message in str(err.value)
    assert str(path) in str(err.value)


DUPLICATES = {
    "duplicate_code": (
        MINIMAL + MINIMAL.split("codes:\n")[1],
        "codes.CAR_FIRE",
        "duplicate key 'CAR_FIRE' on line 16, first on line 6",
    ),
    "duplicate_capability_in_level": (
        MINIMAL.replace("- {ENGINE: 1}", "- {ENGINE: 1, ENGINE: 2}"),
        "codes.CAR_FIRE.levels[1].ENGINE",
        "duplicate key 'ENGINE' on line 12",
    ),
    "duplicate_field": (
        MINIMAL.replace("    label: Car fire\n", "    label: Car fire\n    label: Van fire\n"),
        "codes.CAR_FIRE.label",
        "duplicate key 'label' on line 8",
    ),
    "duplicate_capability_declared": (
        MINIMAL.replace("  LADDER: Ladder\n", "  LADDER: Ladder\n  ENGINE: Pumper\n"),
        "capabilities.ENGINE",
        "duplicate key 'ENGINE' on line 5",
    ),
}


@pytest.mark.parametrize(("text", "field", "message"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_duplicate_yaml_keys_are_refused(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    with pytest.raises(InputError) as err:
        CodeTable.load(_write(tmp_path, text))
    assert err.value.field == field
    assert message in str(err.value)


def test_invalid_yaml_and_wrong_shape_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid YAML"):
        CodeTable.load(_write(tmp_path, "codes: [unclosed\n"))
    with pytest.raises(InputError, match="expected a mapping"):
        CodeTable.load(_write(tmp_path, "- a list\n"))
    with pytest.raises(InputError, match="cannot read code table"):
        CodeTable.load(tmp_path / "absent.yaml")


def test_every_error_mentions_the_code_and_field_in_one_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("default_priority: 2", "default_priority: 9").replace(
        "target_s: 320", "target_s: 0"
    )
    with pytest.raises(InputError) as err:
        CodeTable.load(_write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    assert "codes.CAR_FIRE.default_priority" in message
    assert "codes.CAR_FIRE.target_s" in message
