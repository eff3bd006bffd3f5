"""The dispatcher console: the page at ``/``, its static files, and the region drawn as vectors.

The console is plain HTML, CSS and JavaScript modules kept in ``api/console/``; it reads and
writes only through the JSON API and its event stream, so it holds no state of its own. The
map is drawn from the region's own road network (``GET /v1/region/map``): no tile server, so it
works offline.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from api.bodies import body_model
from api.deps import EngineDep, Operator, Reader, ServicesDep
from api.writes import WRITE_RESPONSES, WriteHeadersDep, WriteResult, submit_event
from planner.centre.events import AlertAcknowledged
from planner.log.api_keys import PERSONAL_DATA_ROLES
from planner.network.region import Region

if TYPE_CHECKING:
    AlertAckIn = BaseModel
else:
    AlertAckIn = body_model(AlertAcknowledged, name="AlertAckIn", omit=("alert_id",))

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
"""Where the console's files live (served as they are: there is no build step)."""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

MAP_DECIMALS = 5
"""Coordinates are rounded to 1e-5 degrees (about a metre): plenty to draw, a third the bytes."""

router = APIRouter(tags=["console"])


@router.get("/", include_in_schema=False)
def console_page() -> FileResponse:
    """The console page; it asks for an API key before it calls anything."""
    return _file("index.html")


@router.get("/console/{name}", include_in_schema=False)
def console_file(name: str) -> FileResponse:
    """One of the console's own files (no sub-directories, no paths outside the folder)."""
    return _file(name)


def _file(name: str) -> FileResponse:
    path = CONSOLE_DIR / name
    media = _MEDIA_TYPES.get(path.suffix)
    if "/" in name or "\\" in name or name.startswith(".") or media is None or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no console file {name!r}")
    # Revalidate every load: the files are small, and a stale script after an upgrade would
    # talk to the new API with the old contract.
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})


@router.get("/v1/whoami", summary="The caller's key: name, role and what it may see (any role)")
def whoami(key: Reader) -> dict[str, Any]:
    """Who the page is signed in as, so it can hide what the role may not do or see. Any
    valid key; 401 without one (the page uses this to check a key before keeping it)."""
    return {
        "name": key.name,
        "role": key.role.value,
        "prefix": key.prefix,
        "personal_data": key.role in PERSONAL_DATA_ROLES,
    }


class AlertAckOut(BaseModel):
    alert_id: str
    kind: str
    actor: str
    at: str
    incident_id: str | None
    unit_id: str | None


class AlertAckList(BaseModel):
    version: int
    acknowledged: list[AlertAckOut]


@router.get(
    "/v1/alerts/acknowledged",
    summary="Console alerts taken on, with who and when (any role)",
    response_model=AlertAckList,
)
def alerts_acknowledged(_key: Reader, engine: EngineDep) -> AlertAckList:
    """The alerts of open incidents that a dispatcher or supervisor has acknowledged. The
    alerts themselves (escalations, unacknowledged dispatches, targets about to be missed,
    unmet requirements) are worked out by the console from the live picture."""
    acks = engine.state.alerts_acknowledged.values()
    return AlertAckList(
        version=engine.version,
        acknowledged=[
            AlertAckOut(
                alert_id=a.alert_id,
                kind=a.kind,
                actor=a.actor,
                at=a.at.isoformat(),
                incident_id=a.incident,
                unit_id=a.unit,
            )
            for a in acks
        ],
    )


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    summary="Acknowledge a console alert (dispatcher, supervisor)",
    status_code=201,
    response_model=WriteResult,
    responses=WRITE_RESPONSES,
)
def acknowledge_alert(
    alert_id: str, body: AlertAckIn, key: Operator, services: ServicesDep, headers: WriteHeadersDep
) -> Response:
    """Logged as ``alert_acknowledged`` with the caller as actor; 409 if someone already did
    (the message says who and when)."""
    return submit_event(
        services, AlertAcknowledged, body, key=key, headers=headers, status_code=201,
        alert_id=alert_id,
    )  # fmt: skip


@router.get(
    "/v1/region/map",
    summary="The region's roads to draw (any role)",
    responses={404: {"description": "The server runs without a region"}},
)
def region_map(request: Request, _key: Reader, services: ServicesDep) -> Response:
    """The served region as ``{name, bbox, segments}``: ``bbox`` is ``[west, south, east,
    north]`` and ``segments`` a flat list ``[lon1, lat1, lon2, lat2, …]`` with each street drawn
    once (the two directions of a two-way street are one segment). A matrix region has no
    roads: its ``segments`` is empty and ``points`` lists its nodes instead. Sent gzipped to
    clients that accept it (a city's map shrinks about threefold)."""
    region = services.region
    if region is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail="this server runs without a region (start it with `planner serve --region`)",
        )
    plain, packed = _map_json(region)
    headers = {"Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(content=packed, media_type="application/json", headers=headers)
    return Response(content=plain, media_type="application/json", headers=headers)


_map_cache: dict[int, tuple[Region, bytes, bytes]] = {}


def _map_json(region: Region) -> tuple[bytes, bytes]:
    """The encoded map of ``region`` (plain and gzipped), built once: roads never change while
    a region is loaded (closures change travel times, not geometry)."""
    cached = _map_cache.get(id(region))
    if cached is not None and cached[0] is region:
        return cached[1], cached[2]
    segments = unique_segments(region.road_segments(), decimals=MAP_DECIMALS)
    body: dict[str, Any] = {
        "name": region.name,
        "bbox": [round(float(v), MAP_DECIMALS) for v in region.bbox],
        "segments": segments.ravel().tolist(),
        "points": [],
    }
    if len(segments) == 0:
        body["points"] = np.round(region.node_lonlat, MAP_DECIMALS).ravel().tolist()
    plain = json.dumps(body, separators=(",", ":")).encode()
    packed = gzip.compress(plain, compresslevel=6, mtime=0)
    _map_cache[id(region)] = (region, plain, packed)
    return plain, packed


def unique_segments(
    segments: npt.NDArray[np.float64], *, decimals: int = MAP_DECIMALS
) -> npt.NDArray[np.float64]:
    """``(n, 4)`` segments rounded to ``decimals``, each undirected street once, zero-length
    ones dropped: what a map needs to draw, about half a directed road graph's edges."""
    if len(segments) == 0:
        return np.empty((0, 4), dtype=np.float64)
    rounded = np.round(np.asarray(segments, dtype=np.float64).reshape(-1, 4), decimals)
    a, b = rounded[:, :2], rounded[:, 2:]
    # Order each segment's ends (lexicographically) so both directions get the same key.
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    ordered = np.where(swap[:, None], np.hstack([b, a]), rounded)
    ordered = ordered[np.any(ordered[:, :2] != ordered[:, 2:], axis=1)]
    return np.unique(ordered, axis=0)
