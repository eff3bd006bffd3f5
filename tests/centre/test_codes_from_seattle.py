"""The shipped fire run cards agree with what Seattle actually sent (real dispatch log)."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.centre.codes import CodeTable
from planner.centre.codes_from_seattle import (
    APPARATUS_CAPABILITY,
    RUN_CARD_SOURCES,
    capability_counts,
    check_published,
    derive_run_cards,
    profile,
    read_incidents,
    unit_prefix,
)

SEATTLE_CAPABILITIES = frozenset(APPARATUS_CAPABILITY.values())


@pytest.fixture(scope="module")
def incidents() -> pd.DataFrame:
    return read_incidents()


def test_log_is_read_as_one_row_per_incident(incidents: pd.DataFrame) -> None:
    assert len(incidents) == 10106
    assert incidents.index.is_unique
    assert (incidents["incident_type"] == "Aid Response").sum() == 5652


def test_unit_ids_map_to_capabilities() -> None:
    assert unit_prefix("AIR9") == "AIR"
    assert unit_prefix("E17") == "E"
    counts = capability_counts(["E2", "E5", "L3", "M10", "A4", "B5", "MAR5", "FIREBOAT"])
    assert counts == {"ENGINE": 2, "LADDER": 1, "ALS": 1, "BLS": 1, "BATTALION_CHIEF": 1}


def test_published_responses_equal_the_logs_medians(incidents: pd.DataFrame) -> None:
    """The method recovers the responses Seattle publishes (``4RED - 2 ENGINES, ...``)."""
    rows = check_published(incidents)
    assert {code for code, *_ in rows} == {"3RED", "4RED", "AFA4"}
    for _code, _type, published, observed in rows:
        assert dict(observed.median) == published


def test_main_types_median_response(incidents: pd.DataFrame) -> None:
    assert profile(incidents, "Aid Response").median == {"ENGINE": 1}
    assert profile(incidents, "Medic Response").median == {"ENGINE": 1, "ALS": 1}
    assert profile(incidents, "Auto Fire Alarm").median == {"ENGINE": 1, "LADDER": 1}
    fib = profile(incidents, "Fire in Building").median
    assert (fib["ENGINE"], fib["LADDER"], fib["BATTALION_CHIEF"]) == (6, 3, 2)


def test_shipped_fire_codes_agree_with_the_derivation(incidents: pd.DataFrame) -> None:
    """Every derived level's cumulative total is what the shipped table asks for.

    Capabilities Seattle has no apparatus for (police, utility crews) are outside the
    comparison, and the table may add policy levels after the derived ones.
    """
    table = CodeTable.load()
    cards = derive_run_cards(incidents)
    assert set(cards) == set(RUN_CARD_SOURCES)
    for name, card in cards.items():
        code = table[name]
        assert code.max_level >= len(card.levels), name
        for level in range(1, len(card.levels) + 1):
            shipped = {
                c: n for c, n in code.requirements(level).items() if c in SEATTLE_CAPABILITIES
            }
            assert shipped == card.requirements(level), f"{name} level {level}"
