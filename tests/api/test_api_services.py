"""Start-up of the API's services: a log configured for one region is never served on another."""

from __future__ import annotations

import subprocess
import sys

import pytest

from api.services import build_services
from api.settings import ApiSettings
from planner.centre.codes import CodeTable
from planner.centre.config import EngineConfig
from planner.centre.engine import Engine
from planner.errors import InputError
from planner.log.incident_log import IncidentLog
from planner.network.loader import load_region
from planner.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def harrisburg_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A log the engine configured for Harrisburg, with one unit registered there."""
    url = f"sqlite:///{tmp_path_factory.mktemp('log') / 'harrisburg.sqlite'}"
    log = IncidentLog(url)
    engine = Engine(
        codes=CodeTable.load(),
        region=load_region("harrisburg", fresh=True),
        log=log,
        config=EngineConfig(region="harrisburg"),
    )
    engine.submit(
        {
            "type": "unit_registered",
            "unit_id": "M1",
            "capabilities": ["ALS"],
            "home": {"lat": 40.26, "lon": -76.80},
        }
    )
    log.close()
    return url


def test_another_region_than_the_logs_is_refused_naming_region(harrisburg_log: str) -> None:
    head = IncidentLog(harrisburg_log).head()
    with pytest.raises(InputError) as info:
        build_services(ApiSettings(db_url=harrisburg_log, region="aguascalientes"))
    assert info.value.field == "region"
    assert "configured for region harrisburg" in info.value.message
    assert "--region harrisburg" in info.value.message
    assert IncidentLog(harrisburg_log).head() == head


def test_the_env_region_is_checked_too(
    harrisburg_log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANNER_REGION", "utrecht")
    with pytest.raises(InputError, match="configured for region harrisburg"):
        build_services(ApiSettings(db_url=harrisburg_log))


@pytest.mark.parametrize("region", [None, "harrisburg", "Harrisburg"])
def test_the_logs_region_is_served_when_asked_for_or_not_given(
    harrisburg_log: str, region: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLANNER_REGION", raising=False)
    services = build_services(ApiSettings(db_url=harrisburg_log, region=region))
    try:
        assert services.region is not None and services.region.name == "harrisburg"
        assert set(services.engine.state.units) == {"M1"}
    finally:
        services.close()


def test_serve_on_another_region_exits_2_with_one_line(harrisburg_log: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "planner", "serve", "--port", "0", "--db", harrisburg_log,
         "--region", "aguascalientes"],
        capture_output=True, text=True, check=False, timeout=60, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--region harrisburg" in result.stderr
    assert "Traceback" not in result.stderr
