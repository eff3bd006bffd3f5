"""Move-up recommendations in the console (headless Chromium, real server on Utrecht with
``coverage+dmexclp``): the status board shows the move with Accept/Decline, the map a dashed
arrow from the unit to the station; Accept is logged and the unit shows as relocating."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from console_support import Server, create_key
from test_console_browser import Console

pytestmark = pytest.mark.browser

# Two Utrecht postcode points 1,011 s apart: S1 holds M1 and M2, S2 only M3 (off duty).
S1 = {"lat": 52.27107894, "lon": 4.97377199}
S2 = {"lat": 52.09171563, "lon": 5.05189172}


@pytest.fixture(scope="module")
def centre(
    tmp_path_factory: pytest.TempPathFactory,
    serve_planner: Callable[..., AbstractContextManager[str]],
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("relocation")
    db = f"sqlite:///{tmp / 'centre.sqlite'}"
    keys = {role: create_key(db, role) for role in ("dispatcher", "supervisor", "planner")}
    env = {"PLANNER_POLICY": "coverage+dmexclp"}
    with serve_planner(
        db=db, region="utrecht", log=tmp / "server.log", ready_s=120, env=env
    ) as base:
        srv = Server(base=base, db=db, keys=keys)
        for uid, station, home, status in (
            ("M1", "S1", S1, "available"),
            ("M2", "S1", S1, "available"),
            ("M3", "S2", S2, "out_of_service"),
        ):
            unit = {"unit_id": uid, "capabilities": ["ALS"], "station": station, "home": home}
            srv.call("POST", "/v1/units", {**unit, "status": status})
        yield srv


def _free_a_unit(srv: Server) -> str:
    """A call at S1: the unit sent there becomes free when it is closed, and the engine
    recommends it to S2 (the empty station) instead of back to S1."""
    srv.call(
        "POST",
        "/v1/incidents",
        {"incident_id": "I-MOVE", "code": "CHOKING", "location": S1},
        role="dispatcher",
    )
    accepted = srv.call("POST", "/v1/incidents/I-MOVE/accept", {}, role="dispatcher")
    (unit,) = accepted["event"]["units"]
    srv.call("POST", f"/v1/units/{unit}/arrive", {}, role="dispatcher")
    srv.call("POST", "/v1/incidents/I-MOVE/close", {"outcome": "treated"}, role="dispatcher")
    moves = srv.call("GET", "/v1/relocations", role="planner")["moves"]
    assert [(m["unit"], m["to_station"]) for m in moves] == [(unit, "S2")]
    return str(unit)


def test_a_dispatcher_accepts_a_move_up_from_the_status_board(
    browser: Any,
    centre: Server,
) -> None:
    unit = _free_a_unit(centre)
    viewer = Console(browser, centre, "planner")
    c = Console(browser, centre, "dispatcher")
    page = c.page
    tr = f'#units tr[data-id="{unit}"]'
    try:
        move = page.locator(f'{tr} .relocation[data-move="S2"]')
        move.wait_for(timeout=15_000)
        assert "move → S2" in move.inner_text()
        assert "expected coverage" in (move.get_attribute("title") or "")
        arrows = page.evaluate(
            "window.dispatchConsole.map.layers.lines.filter((l) => l.move)"
            ".map((l) => ({accepted: l.accepted, to: l.to}))"
        )
        assert arrows == [{"accepted": False, "to": S2}]
        # A viewer sees the move but has no buttons.
        viewer.page.locator(f'{tr} .relocation[data-move="S2"]').wait_for(timeout=15_000)
        assert viewer.page.locator(f'{tr} button[data-do="move-accept"]').count() == 0

        page.click(f'{tr} button[data-do="move-accept"]')
        page.locator(f'{tr} .relocation[data-relocating="S2"]').wait_for(timeout=15_000)
        page.wait_for_function(
            "window.dispatchConsole.map.layers.lines.some((l) => l.move && l.accepted)"
        )
        state = centre.call("GET", f"/v1/units/{unit}", role="planner")["unit"]
        assert (state["status"], state["relocating_to"]) == ("available", "S2")
        entries = centre.call("GET", "/v1/log?limit=200", role="supervisor")["entries"]
        (logged,) = [e for e in entries if e["kind"] == "relocation_accepted"]
        assert logged["payload"]["to_station"] == "S2"
        assert logged["actor"].startswith("dispatcher")
        assert c.errors == [] and viewer.errors == [], (c.errors, viewer.errors)
    finally:
        c.close()
        viewer.close()
