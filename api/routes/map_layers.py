"""What the console's map draws beyond the picture: the basemap (named streets from the region's
own OpenStreetMap file), routes along the roads, where a point lies against the region, and the
MapLibre GL JS files installed from npm (served from ``node_modules``, never committed).
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from api.deps import EngineDep, Reader, ServicesDep
from planner.errors import OutsideRegionError
from planner.network.basemap import DECIMALS, basemap_for, road_geometry, warm_road_geometry
from planner.network.geo import Location, haversine_m
from planner.network.region import Region
from planner.settings import PROJECT_ROOT, get_settings

router = APIRouter(tags=["console"])

MAPLIBRE_DIST = PROJECT_ROOT / "node_modules" / "maplibre-gl" / "dist"
"""Where ``npm ci`` (run by ``make``) puts MapLibre GL JS."""

_VENDOR_FILES = {
    "maplibre-gl.js": "text/javascript; charset=utf-8",
    "maplibre-gl.css": "text/css; charset=utf-8",
}

ROUTE_CACHE_SIZE = 1024
"""Routes kept per process, keyed by the region's weights version and the two nodes."""


def _region(services: ServicesDep) -> Region:
    if services.region is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail="this server runs without a region (start it with `planner serve --region`)",
        )
    return services.region


@router.get("/console/vendor/{name}", include_in_schema=False)
def vendor_file(name: str) -> FileResponse:
    """MapLibre GL JS from ``node_modules``; 404 when npm was not run (the console then draws
    the roads itself, without street names)."""
    media = _VENDOR_FILES.get(name)
    path = MAPLIBRE_DIST / name
    if media is None or not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no vendor file {name!r} (run `make` to install it)"
        )
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/region/basemap",
    summary="The region's streets with their names, as GeoJSON (any role)",
    responses={
        200: {"content": {"application/geo+json": {}}},
        404: {"description": "The server runs without a region"},
    },
)
def region_basemap(request: Request, _key: Reader, services: ServicesDep) -> Response:
    """A GeoJSON ``FeatureCollection``: one ``LineString`` per OSM road with ``name`` (its name,
    else its ``ref``, else null), ``class`` (motorway, trunk, primary, secondary, tertiary,
    street, service), ``bridge`` and ``tunnel``; the foreign member ``planner`` gives ``name``,
    ``bbox``, ``attribution``, ``counts`` (roads, named, bridges, water) and a ``note`` on what
    the data lacks (the shipped extracts hold drivable roads only: no water or landmarks). Built
    from the region's OSM file on first use and cached; gzipped for clients that accept it."""
    region = _region(services)
    warm_road_geometry(region)  # the console asks for routes next
    basemap = basemap_for(region, name=region.name, bbox=region.bbox)
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(basemap.gzipped, media_type="application/geo+json", headers=headers)
    return Response(
        gzip.decompress(basemap.gzipped), media_type="application/geo+json", headers=headers
    )


class PointOut(BaseModel):
    lat: float
    lon: float


class SnapOut(BaseModel):
    inside: bool = Field(description="Whether the point is close enough to a road to be placed.")
    distance_m: float = Field(description="Metres from the point to the nearest road node.")
    max_snap_m: float = Field(description="The farthest a point may lie from a road node.")
    nearest: PointOut = Field(description="The nearest road node.")


@router.get(
    "/v1/region/snap",
    summary="How far a point lies from the region's roads (any role)",
    response_model=SnapOut,
    responses={404: {"description": "The server runs without a region"}},
)
def region_snap(
    _key: Reader,
    services: ServicesDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude (WGS84).")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude (WGS84).")],
) -> SnapOut:
    """The nearest road node and its distance, and whether an incident there would be accepted
    (``inside``): the console uses it to tell a call-taker, in words, that a point lies outside
    the area the centre covers and where the nearest road is."""
    region = _region(services)
    snap = region.snap(lat, lon, max_snap_m=float("inf"))
    node_lon, node_lat = (float(v) for v in region.node_lonlat[snap.node])
    limit = float(getattr(region, "max_snap_m", get_settings().max_snap_m))
    return SnapOut(
        inside=snap.distance_m <= limit,
        distance_m=round(snap.distance_m, 1),
        max_snap_m=limit,
        nearest=PointOut(lat=round(node_lat, DECIMALS), lon=round(node_lon, DECIMALS)),
    )


class RouteOut(BaseModel):
    unit_id: str
    incident_id: str
    kind: Literal["recommended", "dispatched"] = Field(
        description="``recommended``: in the current recommendation; ``dispatched``: the unit "
        "is dispatched or en route to the incident."
    )
    seconds: float = Field(description="Driving seconds between the two road nodes.")
    metres: float = Field(description="Road metres between the two road nodes.")
    coordinates: list[list[float]] = Field(
        description="``[[lon, lat], …]`` from the unit along the roads to the incident."
    )


class RoutesOut(BaseModel):
    version: int
    routes: list[RouteOut]


@router.get(
    "/v1/routes",
    summary="Routes along the roads for the recommendation and units on their way (any role)",
    response_model=RoutesOut,
    responses={404: {"description": "The server runs without a region"}},
)
def routes(
    _key: Reader,
    services: ServicesDep,
    engine: EngineDep,
    incident: Annotated[
        str | None, Query(description="Only the routes to this incident.", max_length=64)
    ] = None,
) -> RoutesOut:
    """The fastest path (with current closures) from each recommended unit and each
    dispatched or en-route unit to its incident, as drawn on the console's map. A unit or
    incident too far from the roads to place has no route."""
    region = _region(services)
    state = engine.state
    version = engine.version
    pairs: list[tuple[str, str, Literal["recommended", "dispatched"]]] = []
    if state.recommendation is not None:
        pairs += [(a.unit, a.incident, "recommended") for a in state.recommendation.assignments]
    pairs += [
        (u.id, u.incident, "dispatched")
        for u in state.units.values()
        if u.incident is not None and u.status.value in ("dispatched", "en_route")
    ]
    out = []
    for unit_id, incident_id, kind in pairs:
        if incident is not None and incident_id != incident:
            continue
        unit, target = state.units.get(unit_id), state.incidents.get(incident_id)
        if unit is None or target is None:
            continue
        route = _route(region, unit.location, target.location)
        if route is not None:
            seconds, metres, coordinates = route
            out.append(
                RouteOut(
                    unit_id=unit_id,
                    incident_id=incident_id,
                    kind=kind,
                    seconds=round(seconds, 1),
                    metres=round(metres, 1),
                    coordinates=coordinates,
                )
            )
    return RoutesOut(version=version, routes=out)


_cache: OrderedDict[tuple[int, int, int, int], tuple[float, float, list[list[float]]]] = (
    OrderedDict()
)
_cache_lock = threading.Lock()


def _route(
    region: Region, start: Location, end: Location
) -> tuple[float, float, list[list[float]]] | None:
    """Seconds, metres and the line from ``start`` to ``end`` along the roads (the legs from
    each point to its road node drawn straight); ``None`` if off the map or unreachable."""
    try:
        a, b = region.snap(start.lat, start.lon).node, region.snap(end.lat, end.lon).node
    except OutsideRegionError:
        return None
    key = (id(region), getattr(region, "weights_version", 0), a, b)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        found = region.route(a, b)
        if not found.nodes:
            return None
        geometry = road_geometry(region)
        osm_ids = getattr(region, "osm_ids", None)
        if geometry is not None and osm_ids is not None:
            line = geometry.path([int(osm_ids[n]) for n in found.nodes])
        else:
            lonlat = region.node_lonlat[list(found.nodes)]
            line = [[round(float(x), DECIMALS), round(float(y), DECIMALS)] for x, y in lonlat]
        hit = (found.seconds, found.metres, line)
        with _cache_lock:
            _cache[key] = hit
            while len(_cache) > ROUTE_CACHE_SIZE:
                _cache.popitem(last=False)
    seconds, metres, line = hit
    return seconds, metres, _with_ends(line, start, end)


def _with_ends(line: list[list[float]], start: Location, end: Location) -> list[list[float]]:
    """The road line with the points themselves added where they lie off the road node."""
    first = [round(start.lon, DECIMALS), round(start.lat, DECIMALS)]
    last = [round(end.lon, DECIMALS), round(end.lat, DECIMALS)]
    out = list(line)
    if not out or haversine_m(first[1], first[0], out[0][1], out[0][0]) > 1:
        out.insert(0, first)
    if haversine_m(last[1], last[0], out[-1][1], out[-1][0]) > 1:
        out.append(last)
    return out
