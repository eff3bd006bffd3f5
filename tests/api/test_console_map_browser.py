"""The console's map in real headless Chromium against a real Harrisburg server: street names
from the region's own OSM file drawn by MapLibre, routes along the roads, and a point outside
the region said in words (the State Capitol, just west of the extract)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from console_support import Server
from test_console_browser import ARTIFACTS, Console

from planner.network.geo import haversine_m

pytestmark = pytest.mark.browser

STATE_CAPITOL = {"lat": 40.264444, "lon": -76.883611}
"""The Pennsylvania State Capitol's dome, outside the Harrisburg extract (its west edge is at
lon −76.882)."""


def _wait_for_basemap(page: Any) -> None:
    page.wait_for_function(
        """() => {
          const m = window.dispatchConsole?.map;
          return m && m.basemap && m.gl && m.gl.isSourceLoaded('roads') && m.gl.loaded();
        }""",
        timeout=30_000,
    )


def _rendered_names(page: Any) -> list[str]:
    """The street names MapLibre placed on screen (after it has finished drawing)."""
    page.wait_for_function("window.dispatchConsole.map.gl.loaded()", timeout=15_000)
    page.evaluate(
        "new Promise((r) => { const g = window.dispatchConsole.map.gl;"
        " g.once('idle', r); g.triggerRepaint(); })"
    )
    names: list[str] = page.evaluate(
        """window.dispatchConsole.map.gl
             .queryRenderedFeatures({layers: ['street-names', 'street-names-major']})
             .map((f) => f.properties.name)"""
    )
    return names


def test_the_map_names_the_streets_of_the_regions_own_osm_file(
    browser: Any, server: Server
) -> None:
    """Defect 10: the map had no street names. The basemap is the region's OSM roads with their
    names along them; zooming with the keyboard on the console's canvas moves it, and the
    picture (units, incidents) is still drawn on top and still clickable."""
    basemap = server.call("GET", "/v1/region/basemap", role="planner")
    assert basemap["planner"]["counts"]["water"] == 0  # road-only extract, said so
    # A named main road, and the middle of it: the view goes there.
    road = max(
        (f for f in basemap["features"] if f["properties"]["class"] in ("primary", "secondary")),
        key=lambda f: len(f["geometry"]["coordinates"]) if f["properties"]["name"] else 0,
    )
    name = road["properties"]["name"]
    lon, lat = road["geometry"]["coordinates"][len(road["geometry"]["coordinates"]) // 2]
    server.call(
        "POST",
        "/v1/incidents",
        {"incident_id": "INC-MAP-NAMES", "code": "FALL", "location": {"lat": lat, "lon": lon}},
    )
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        _wait_for_basemap(page)
        assert page.evaluate("window.dispatchConsole.map.hasBasemap") is True
        assert "OpenStreetMap" in page.inner_text("#map-credit")
        # MapLibre's canvas is under ours and out of the tab order.
        assert page.evaluate("document.querySelector('.basemap canvas').tabIndex") == -1
        page.evaluate(f"window.dispatchConsole.map.centreOn({lat}, {lon})")
        page.keyboard.press("m")
        before = page.evaluate("window.dispatchConsole.map.view.scale")
        for _ in range(8):
            page.keyboard.press("+")
        after = page.evaluate("window.dispatchConsole.map.view.scale")
        assert after == pytest.approx(before * 1.3**8, rel=0.01)
        zoom = page.evaluate("window.dispatchConsole.map.gl.getZoom()")
        assert zoom >= 13
        assert name in _rendered_names(page)
        # The incident is drawn over the streets, where MapLibre puts its point, and a click on
        # it selects it.
        target = page.wait_for_function(
            """() => window.dispatchConsole.map._targets
                 .find((t) => t.kind === 'incident' && t.id === 'INC-MAP-NAMES') || null"""
        ).json_value()
        where = page.evaluate(f"window.dispatchConsole.map.gl.project([{lon}, {lat}])")
        assert (target["x"], target["y"]) == pytest.approx((where["x"], where["y"]), abs=0.5)
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
        page.wait_for_function("window.dispatchConsole.selected() === 'INC-MAP-NAMES'")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-streets.png"))
        assert c.errors == [], c.errors
    finally:
        c.close()
        server.call("POST", "/v1/incidents/INC-MAP-NAMES/close", {"outcome": "test"})


def test_recommended_and_dispatched_units_are_drawn_along_the_roads(
    browser: Any, server: Server
) -> None:
    """Lines were straight from the unit to the incident. Now each follows the unit's fastest
    road path: every bend of it is a point of the basemap's roads, it starts at the unit and
    ends at the incident, and the accepted unit's line keeps the route."""
    basemap = server.call("GET", "/v1/region/basemap", role="planner")
    road_points = {tuple(p) for f in basemap["features"] for p in f["geometry"]["coordinates"]}
    far = server.units[4]["home"]  # away from the fleet's first units
    server.call(
        "POST",
        "/v1/incidents",
        {"incident_id": "INC-MAP-ROUTE", "code": "CHEST_PAIN", "location": far},
    )
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        line = page.wait_for_function(
            f"""() => window.dispatchConsole.map.layers.lines
                 .find((l) => l.label && l.path && l.to.lat === {far["lat"]!r}) || null"""
        ).json_value()
        path = line["path"]
        assert len(path) > 3
        assert path[0] == [round(line["from"]["lon"], 5), round(line["from"]["lat"], 5)]
        assert path[-1] == [round(far["lon"], 5), round(far["lat"], 5)]
        inner = [tuple(p) for p in path[1:-1]]
        assert all(p in road_points for p in inner)
        api = server.call("GET", "/v1/routes?incident=INC-MAP-ROUTE", role="planner")["routes"]
        assert [r["coordinates"] for r in api if r["kind"] == "recommended"] == [path]
        road_m = sum(haversine_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(path))
        straight = haversine_m(path[0][1], path[0][0], path[-1][1], path[-1][0])
        assert road_m > straight
        server.call("POST", "/v1/incidents/INC-MAP-ROUTE/accept", {})
        accepted = page.wait_for_function(
            f"""() => window.dispatchConsole.map.layers.lines
                 .find((l) => l.accepted && l.path && l.to.lat === {far["lat"]!r}) || null"""
        ).json_value()
        assert accepted["path"] == path
        assert c.errors == [], c.errors
    finally:
        c.close()
        server.call("POST", "/v1/incidents/INC-MAP-ROUTE/close", {"outcome": "test"})


def _nearest_road_m(server: Server, point: dict[str, float]) -> float:
    """The distance to the nearest node of the drawn road network, by brute force."""
    segments = server.call("GET", "/v1/region/map", role="planner")["segments"]
    return min(
        haversine_m(point["lat"], point["lon"], segments[k + 1], segments[k])
        for k in range(0, len(segments), 2)
    )


def test_a_point_outside_the_region_is_said_in_words_with_a_way_out(
    browser: Any, server: Server
) -> None:
    """Defect 10: the State Capitol, 1.2 km from the extract's nearest node, was refused with
    "point (…) is 1,234 m from the nearest node (allowed 500 m): outside the region?". Now the
    call-taker reads how far the nearest road is, that another centre may cover it, and can place
    the call at that road with one button."""
    metres = _nearest_road_m(server, STATE_CAPITOL)
    assert 1000 < metres < 1500
    said = f"{metres / 1000:.1f} km"
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.keyboard.press("n")
        page.select_option("#c-code", "FALL")
        page.fill("#c-lat", f"{STATE_CAPITOL['lat']:.6f}")
        page.fill("#c-lon", f"{STATE_CAPITOL['lon']:.6f}")
        page.press("#c-lon", "Tab")  # a typed point is checked when the field is left
        outside = page.locator("#c-outside")
        outside.wait_for(state="visible")
        text = outside.inner_text()
        assert "Outside the area this centre covers" in text
        assert f"{said} from the nearest road on the Harrisburg map" in text
        assert "pass the call to the centre that covers it" in text
        for technical in ("node", "allowed", "(40.", "location:"):
            assert technical not in text
        # Sent anyway: the server refuses it, and the console still says it in words.
        page.click("#contact-form button[type=submit]")
        page.wait_for_function(
            "document.activeElement?.closest('#c-outside') !== null", timeout=10_000
        )
        assert "node" not in page.inner_text("#c-error")
        assert page.input_value("#c-lat") == f"{STATE_CAPITOL['lat']:.6f}"  # nothing lost
        # The way out: the nearest road, then the call opens there.
        button = outside.locator("button")
        assert said in button.inner_text()
        button.click()
        lat, lon = float(page.input_value("#c-lat")), float(page.input_value("#c-lon"))
        assert haversine_m(STATE_CAPITOL["lat"], STATE_CAPITOL["lon"], lat, lon) == pytest.approx(
            metres, abs=2
        )
        assert outside.is_hidden()
        page.click("#contact-form button[type=submit]")
        page.locator("#contact").wait_for(state="hidden")
        incident_id = page.wait_for_function("window.dispatchConsole.selected()").json_value()
        opened = page.evaluate(
            f"window.dispatchConsole.store.incidents.get({incident_id!r}).location"
        )
        assert math.isclose(opened["lat"], lat, abs_tol=1e-6)
        assert math.isclose(opened["lon"], lon, abs_tol=1e-6)
        # The one refusal asked for above is the only error the browser logged.
        assert [e for e in c.errors if "status of 422" not in e] == [], c.errors
    finally:
        c.close()
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


def test_without_maplibre_the_canvas_draws_the_roads_and_the_routes(
    browser: Any, server: Server
) -> None:
    """Where MapLibre cannot run (npm not run, no WebGL) the console still works: the canvas
    draws the region's roads itself, unnamed, and the routes still follow them."""
    far = server.units[3]["home"]
    server.call(
        "POST",
        "/v1/incidents",
        {"incident_id": "INC-MAP-PLAIN", "code": "CHEST_PAIN", "location": far},
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/console/vendor/maplibre-gl.js", lambda route: route.abort())
    try:
        page.goto(server.base + "/")
        page.fill("#login-key", server.keys["dispatcher"])
        page.press("#login-key", "Enter")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.evaluate("window.dispatchConsole.map.hasBasemap") is False
        assert page.locator(".basemap").count() == 0
        assert page.evaluate("window.dispatchConsole.map.roads !== null")
        line = page.wait_for_function(
            f"""() => window.dispatchConsole.map.layers.lines
                 .find((l) => l.path && l.to.lat === {far["lat"]!r}) || null"""
        ).json_value()
        assert len(line["path"]) > 2
        # The canvas's own view still pans and zooms from the keyboard.
        page.keyboard.press("m")
        before = page.evaluate("window.dispatchConsole.map.view.scale")
        page.keyboard.press("+")
        assert page.evaluate("window.dispatchConsole.map.view.scale") > before
        assert errors == [], errors
    finally:
        context.close()
        server.call("POST", "/v1/incidents/INC-MAP-PLAIN/close", {"outcome": "test"})
