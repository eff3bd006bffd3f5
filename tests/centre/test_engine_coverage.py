"""The live engine's coverage dispatch: configured, logged, and reproduced by replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.centre.config import EngineConfig, EscalationConfig, SolverConfig
from planner.centre.engine import Engine
from planner.centre.recommendations import plan_key
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.network.loader import load_region
from planner.network.region import Region
from tests.centre.test_engine import CODES, Clock, incident, shift, unit


@pytest.fixture(scope="module")
def ags_region() -> Iterator[Region]:
    region = load_region("aguascalientes", fresh=True)
    yield region
    for closure_id in list(region.closures):
        region.lift_closure(closure_id)


def test_coverage_policy_is_logged_and_replayed(tmp_path: Path, ags_region: Region) -> None:
    config = EngineConfig(escalation=EscalationConfig(enabled=False))
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    with IncidentLog(url) as log:
        clock = Clock()
        live = Engine(codes=CODES, config=config, clock=clock, region=ags_region, log=log)
        live.submit(unit("M0", "ALS", 21.8690, -102.2700))
        outcome = live.adopt_policy("coverage+dmexclp")
        assert outcome is not None and outcome.event.type == "centre_configured"
        assert live.config.solver.policy == "coverage+dmexclp"
        assert live.adopt_policy("coverage+dmexclp") is None  # no change, nothing logged
        shift(live, clock)
        live.submit(incident("I3", "CARDIAC_ARREST", 21.8700, -102.2700))
        assert live.plan is not None and live.plan.policy == "coverage+dmexclp"
        for closure_id in list(ags_region.closures):
            ags_region.lift_closure(closure_id)
        replayed = Engine.replay(log, codes=CODES, region=load_region("aguascalientes", fresh=True))
    assert replayed.config.solver.policy == "coverage+dmexclp"
    assert plan_key(replayed.plan) == plan_key(live.plan)
    assert replayed.state == live.state


def test_bad_policies_name_the_field(ags_region: Region) -> None:
    live = Engine(codes=CODES, region=ags_region)
    with pytest.raises(InputError, match="unknown relocation 'nearest'") as err:
        live.adopt_policy("coverage+nearest")
    assert err.value.field == "policy"
    crow_fly = Engine(codes=CODES, config=EngineConfig(solver=SolverConfig()))
    with pytest.raises(InputError, match="needs a region") as err:
        crow_fly.adopt_policy("coverage")
    assert err.value.field == "policy"
