"""The map's server side: the basemap GeoJSON, where a point lies against the region, routes
along the roads (checked with networkx), and MapLibre served from node_modules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app, services_of
from api.routes.map_layers import MAPLIBRE_DIST
from api.settings import ApiSettings
from planner.log.api_keys import Role
from planner.network.geo import haversine_m
from planner.network.road_region import RoadRegion


@pytest.fixture(scope="module")
def region_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    db = tmp_path_factory.mktemp("map") / "api.sqlite"
    app = create_app(ApiSettings(db_url=f"sqlite:///{db}", region="aguascalientes"))
    yield app
    services_of(app).close()


@pytest.fixture(scope="module")
def headers(region_app: FastAPI) -> dict[str, dict[str, str]]:
    store = services_of(region_app).keys
    return {
        role: {"X-API-Key": store.create(name=f"map-{role}", role=Role(role)).token}
        for role in ("planner", "supervisor")
    }


def _region(app: FastAPI) -> RoadRegion:
    region = services_of(app).region
    assert isinstance(region, RoadRegion)
    return region


def test_the_basemap_is_geojson_with_the_regions_street_names(
    region_app: FastAPI, headers: dict[str, dict[str, str]]
) -> None:
    client = TestClient(region_app)
    assert client.get("/v1/region/basemap").status_code == 401
    packed = client.get(
        "/v1/region/basemap", headers={**headers["planner"], "Accept-Encoding": "gzip"}
    )
    plain = client.get(
        "/v1/region/basemap", headers={**headers["planner"], "Accept-Encoding": "identity"}
    )
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["content-type"] == "application/geo+json"
    assert "content-encoding" not in plain.headers
    body = plain.json()
    assert packed.json() == body
    assert body["type"] == "FeatureCollection"
    assert body["planner"]["name"] == "aguascalientes"
    counts = body["planner"]["counts"]
    assert counts["roads"] == len(body["features"])
    assert 0 < counts["named"] <= counts["roads"]
    lines = [f for f in body["features"] if f["geometry"]["type"] == "LineString"]
    assert len(lines) == len(body["features"])
    # Every node of the routing graph lies on a drawn road (to the 1e-5° rounding).
    vertices = np.array([p for f in lines for p in f["geometry"]["coordinates"]])
    nodes = _region(region_app).node_lonlat
    gap = np.abs(nodes[:, None, :] - vertices[None, :, :]).max(axis=2).min(axis=1)
    assert gap.max() <= 1e-5 + 1e-9


def test_without_a_region_the_basemap_routes_and_snap_are_404(
    client: TestClient, keys: dict[Role, dict[str, str]]
) -> None:
    for path in ("/v1/region/basemap", "/v1/routes", "/v1/region/snap?lat=1&lon=1"):
        response = client.get(path, headers=keys[Role.PLANNER])
        assert response.status_code == 404, path
        assert "--region" in response.json()["detail"]


def test_snap_says_how_far_a_point_is_from_the_roads(
    region_app: FastAPI, headers: dict[str, dict[str, str]]
) -> None:
    client = TestClient(region_app)
    region = _region(region_app)
    lon, lat = (float(v) for v in region.node_lonlat[7])
    on_road = client.get(f"/v1/region/snap?lat={lat}&lon={lon}", headers=headers["planner"])
    assert on_road.json()["inside"] is True
    assert on_road.json()["distance_m"] == pytest.approx(0, abs=0.6)
    # 2 km north of the northernmost node: outside, and the distance is the brute-force nearest.
    far_lat, far_lon = float(region.node_lonlat[:, 1].max()) + 0.018, lon
    far = client.get(
        f"/v1/region/snap?lat={far_lat}&lon={far_lon}", headers=headers["planner"]
    ).json()
    distances = [haversine_m(far_lat, far_lon, float(y), float(x)) for x, y in region.node_lonlat]
    nearest = int(np.argmin(distances))
    assert far["inside"] is False
    assert far["distance_m"] == pytest.approx(distances[nearest], abs=0.5)
    assert far["max_snap_m"] == region.max_snap_m
    assert far["nearest"] == {
        "lat": round(float(region.node_lonlat[nearest, 1]), 5),
        "lon": round(float(region.node_lonlat[nearest, 0]), 5),
    }
    bad = client.get("/v1/region/snap?lat=91&lon=0", headers=headers["planner"])
    assert bad.status_code == 422
    assert bad.json()["field"] == "lat"


def _point(region: RoadRegion, node: int) -> dict[str, float]:
    lon, lat = (float(v) for v in region.node_lonlat[node])
    return {"lat": lat, "lon": lon}


def _length_m(coords: list[list[float]]) -> float:
    return sum(haversine_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coords))


def test_routes_follow_the_fastest_road_path(
    region_app: FastAPI, headers: dict[str, dict[str, str]]
) -> None:
    client = TestClient(region_app)
    region = _region(region_app)
    sup = headers["supervisor"]
    start, end = 10, region.n_nodes - 20
    unit = {"unit_id": "MAP1", "capabilities": ["ALS"], "home": _point(region, start)}
    assert client.post("/v1/units", json=unit, headers=sup).status_code == 201
    incident = {"incident_id": "INC-MAP-1", "code": "CHEST_PAIN", "location": _point(region, end)}
    assert client.post("/v1/incidents", json=incident, headers=sup).status_code == 201
    body = client.get("/v1/routes", headers=headers["planner"]).json()
    (route,) = [r for r in body["routes"] if r["incident_id"] == "INC-MAP-1"]
    assert route["unit_id"] == "MAP1" and route["kind"] == "recommended"
    # networkx on the region's own edge weights is the oracle for the time.
    graph = nx.DiGraph()
    for u, v, s, m in zip(
        region.edge_u, region.edge_v, region.edge_seconds, region.edge_metres, strict=True
    ):
        graph.add_edge(int(u), int(v), seconds=float(s), metres=float(m))
    assert route["seconds"] == pytest.approx(
        nx.dijkstra_path_length(graph, start, end, weight="seconds"), abs=0.06
    )
    coords = route["coordinates"]
    assert coords[0] == [round(unit["home"]["lon"], 5), round(unit["home"]["lat"], 5)]
    assert coords[-1] == [
        round(incident["location"]["lon"], 5),
        round(incident["location"]["lat"], 5),
    ]
    # Drawn along the roads: as long as the road metres, and longer than the straight line.
    assert _length_m(coords) == pytest.approx(route["metres"], rel=0.01, abs=3)
    assert route["metres"] > haversine_m(coords[0][1], coords[0][0], coords[-1][1], coords[-1][0])
    only = client.get("/v1/routes?incident=INC-MAP-1", headers=headers["planner"]).json()
    assert [r["incident_id"] for r in only["routes"]] == ["INC-MAP-1"]
    assert client.get("/v1/routes?incident=NOPE", headers=headers["planner"]).json()["routes"] == []
    # Accepted: the unit is dispatched and its route is still drawn, now as "dispatched".
    accept = client.post("/v1/incidents/INC-MAP-1/accept", json={}, headers=sup)
    assert accept.status_code in (200, 201), accept.text
    after = client.get("/v1/routes?incident=INC-MAP-1", headers=headers["planner"]).json()
    assert [(r["unit_id"], r["kind"]) for r in after["routes"]] == [("MAP1", "dispatched")]
    assert after["routes"][0]["coordinates"] == coords


def test_maplibre_is_served_from_node_modules_and_nothing_else(region_app: FastAPI) -> None:
    client = TestClient(region_app)
    for name in ("../package.json", "maplibre-gl.js.map", "style.json", "..%2F..%2Fapp.py"):
        assert client.get(f"/console/vendor/{name}").status_code == 404, name
    if not (MAPLIBRE_DIST / "maplibre-gl.js").is_file():
        pytest.skip("npm ci has not run (make does it)")
    js = client.get("/console/vendor/maplibre-gl.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/vendor/maplibre-gl.css").status_code == 200


def test_the_page_loads_maplibre_before_the_console(client: TestClient) -> None:
    page: Any = client.get("/").text
    assert page.index("/console/vendor/maplibre-gl.js") < page.index("/console/console.js")


def test_a_closure_on_the_way_reroutes_along_other_roads(tmp_path: Path) -> None:
    """Routes are cached by the region's weights version: a closure across the drawn route
    gives a new one at once, the fastest on the closed network (networkx again)."""
    app = create_app(
        ApiSettings(db_url=f"sqlite:///{tmp_path / 'c.sqlite'}", region="aguascalientes")
    )
    try:
        client = TestClient(app)
        sup = {"X-API-Key": services_of(app).keys.create(name="s", role=Role.SUPERVISOR).token}
        region = _region(app)
        start, end = 10, region.n_nodes - 20
        unit = {"unit_id": "MAP2", "capabilities": ["ALS"], "home": _point(region, start)}
        assert client.post("/v1/units", json=unit, headers=sup).status_code == 201
        incident = {
            "incident_id": "INC-MAP-2",
            "code": "CHEST_PAIN",
            "location": _point(region, end),
        }
        assert client.post("/v1/incidents", json=incident, headers=sup).status_code == 201
        (before,) = client.get("/v1/routes", headers=sup).json()["routes"]
        middle = before["coordinates"][len(before["coordinates"]) // 2]
        closure = {
            "closure_id": "cut",
            "centre": {"lat": middle[1], "lon": middle[0]},
            "radius_m": 15,
            "reason": "test",
        }
        assert client.post("/v1/closures", json=closure, headers=sup).status_code == 201
        (after,) = client.get("/v1/routes", headers=sup).json()["routes"]
        assert middle not in after["coordinates"]
        assert after["seconds"] > before["seconds"]
        graph = nx.DiGraph()
        for u, v, s in zip(region.edge_u, region.edge_v, region.edge_seconds, strict=True):
            if np.isfinite(s):
                graph.add_edge(int(u), int(v), seconds=float(s))
        assert after["seconds"] == pytest.approx(
            nx.dijkstra_path_length(graph, start, end, weight="seconds"), abs=0.06
        )
        assert client.delete("/v1/closures/cut", headers=sup).status_code == 200
        (back,) = client.get("/v1/routes", headers=sup).json()["routes"]
        assert back["coordinates"] == before["coordinates"]
    finally:
        services_of(app).close()
