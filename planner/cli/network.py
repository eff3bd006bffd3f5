"""``planner network build|info``, ``planner eta`` and ``planner matrix``: road networks and
travel times from the command line (the contract other tools rely on; see the README)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import typer

from planner.atomic_write import atomic_open
from planner.cli._common import fail, write_json
from planner.errors import InputError, PlannerError
from planner.network.geo import Location, check_lat_lon
from planner.network.loader import load_region
from planner.network.region import Region

app = typer.Typer(name="network", help="Build and inspect road networks.", no_args_is_help=True)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Planner errors become exit 2 with one line, also when the app runs without ``main``."""
    try:
        yield
    except PlannerError as exc:
        raise fail(str(exc)) from exc


@app.command()
def build(
    out: Path = typer.Option(..., "-o", "--out", help="Region file to write: .graphml or .npz."),
    osm: Path | None = typer.Option(None, "--osm", help="OSM XML file (.osm, .osm.bz2, .xml)."),
    place: str | None = typer.Option(
        None, "--place", help='Place to download from OpenStreetMap, e.g. "Harrisburg, PA, USA".'
    ),
    bbox: str | None = typer.Option(
        None, "--bbox", help="Box to download from OpenStreetMap: WEST,SOUTH,EAST,NORTH degrees."
    ),
) -> None:
    """Build a drivable region with emergency travel times and write it (prints its summary)."""
    with _one_line_errors():
        if sum(x is not None for x in (osm, place, bbox)) != 1:
            raise InputError(
                "give exactly one of --osm FILE, --place NAME or --bbox W,S,E,N", field="--osm"
            )
        suffix = out.suffix.lower()
        if suffix not in (".graphml", ".npz"):
            raise InputError(f"{out}: the region file must end in .graphml or .npz", field="-o")
        from planner.network import osm as rn

        if osm is not None:
            if not osm.is_file():
                raise InputError(f"OSM file {osm} does not exist", field="--osm")
            graph = rn.graph_from_osm_file(osm)
        else:
            box = _parse_bbox(bbox) if bbox is not None else None
            try:
                graph = rn.graph_from_bbox(box) if box else rn.graph_from_place(str(place))
            except Exception as exc:  # network failures and unknown places, from osmnx
                what, field = (bbox, "--bbox") if box else (place, "--place")
                raise InputError(f"cannot download {what!r}: {exc}", field=field) from exc
        try:
            if suffix == ".graphml":
                rn.save_graphml(graph, out)
            else:
                rn.save_arrays(rn.arrays_from_graph(graph, name=out.stem), out)
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror or exc}", field="-o") from None
        if suffix == ".graphml":
            rn.prime_cache(graph, out)
        write_json(_summary(load_region(out, fresh=True)), None)


@app.command()
def info(region: str = typer.Argument(..., help="Region name or file.")) -> None:
    """Print nodes, edges, bounding box and build provenance of a region as JSON."""
    with _one_line_errors():
        write_json(_summary(load_region(region)), None)


def eta(
    region: str = typer.Option(..., "--region", help="Region name, region file or OSM file."),
    from_: str = typer.Option(..., "--from", help="Origin as LAT,LON."),
    to: str = typer.Option(..., "--to", help="Destination as LAT,LON."),
    max_snap_m: float | None = typer.Option(
        None, "--max-snap-m", help="Farthest a point may lie from the network (metres)."
    ),
) -> None:
    """Fastest emergency travel time between two points, as JSON."""
    with _one_line_errors():
        _check_max_snap(max_snap_m)
        origin, destination = _parse_lat_lon(from_, "--from"), _parse_lat_lon(to, "--to")
        loaded = load_region(region)
        a = _snap(loaded, origin, "--from", max_snap_m)
        b = _snap(loaded, destination, "--to", max_snap_m)
        route = loaded.route(a.node, b.node)
        write_json(
            {
                "seconds": _finite(route.seconds),
                "metres": _finite(route.metres),
                "from_snap_m": round(a.distance_m, 2),
                "to_snap_m": round(b.distance_m, 2),
            },
            None,
        )


def matrix(
    region: str = typer.Option(..., "--region", help="Region name, region file or OSM file."),
    origins: Path = typer.Option(..., "--origins", help="CSV with header id,lat,lon."),
    destinations: Path = typer.Option(..., "--destinations", help="CSV with header id,lat,lon."),
    out: Path = typer.Option(..., "--out", help="CSV to write: origin,destination,seconds."),
    max_snap_m: float | None = typer.Option(
        None, "--max-snap-m", help="Farthest a point may lie from the network (metres)."
    ),
) -> None:
    """Travel times from every origin to every destination (empty seconds when unreachable)."""
    with _one_line_errors():
        _check_max_snap(max_snap_m)
        o_ids, o_locs = _read_points(origins, "--origins")
        d_ids, d_locs = _read_points(destinations, "--destinations")
        loaded = load_region(region)
        o_nodes = np.array([_snap(loaded, p, f"{origins}:{i}", max_snap_m).node for i, p in o_locs])
        d_nodes = np.array(
            [_snap(loaded, p, f"{destinations}:{i}", max_snap_m).node for i, p in d_locs]
        )
        seconds = loaded.travel_time_matrix(o_nodes, d_nodes)
        _write_matrix(out, o_ids, d_ids, seconds)


def register(root: typer.Typer) -> None:
    """Attach ``network`` and the top-level ``eta``/``matrix`` commands to the root app."""
    root.add_typer(app, name="network")
    root.command("eta")(eta)
    root.command("matrix")(matrix)


def _summary(region: Region) -> dict[str, Any]:
    meta: dict[str, Any] = dict(getattr(region, "meta", {}))
    edges = getattr(region, "n_raw_edges", None)
    if edges is None:  # a matrix region: count the reachable ordered pairs
        pairs = region.travel_time_matrix(np.arange(region.n_nodes), np.arange(region.n_nodes))
        edges = int(np.isfinite(pairs).sum() - region.n_nodes)
    west, south, east, north = region.bbox
    return {
        "name": region.name,
        "kind": "road" if region.road_segments().size else "matrix",
        "nodes": region.n_nodes,
        "edges": edges,
        "bbox": {"west": west, "south": south, "east": east, "north": north},
        "built_at": meta.get("built_at"),
        "build_seconds": _number(meta.get("build_seconds")),
        "source": meta.get("source"),
    }


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _parse_lat_lon(text: str, field: str) -> Location:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"expected LAT,LON in degrees, got {text!r}", field=field) from None
    try:
        check_lat_lon(lat, lon)
    except InputError as exc:
        raise InputError(exc.message, field=field) from None
    return Location(lat, lon)


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise InputError(
            f"expected WEST,SOUTH,EAST,NORTH degrees, got {text!r}", field="--bbox"
        ) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            f"{text!r} is not a box with west < east and south < north", field="--bbox"
        )
    return west, south, east, north


def _check_max_snap(max_snap_m: float | None) -> None:
    """A non-positive snap distance would refuse every point: refuse the option instead."""
    if max_snap_m is not None and not max_snap_m > 0:
        raise InputError(
            f"must be a positive distance in metres, got {max_snap_m:g}", field="--max-snap-m"
        )


def _snap(region: Region, location: Location, field: str, max_snap_m: float | None) -> Any:
    try:
        return region.snap(location.lat, location.lon, max_snap_m=max_snap_m)
    except PlannerError as exc:
        raise type(exc)(exc.message, field=field) from None


def _read_points(path: Path, field: str) -> tuple[list[str], list[tuple[int, Location]]]:
    if not path.is_file():
        raise InputError(f"{path} does not exist", field=field)
    ids: list[str] = []
    points: list[tuple[int, Location]] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "lat", "lon"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(
                f"{path}: header must be id,lat,lon (missing {', '.join(sorted(missing))})",
                field=field,
            )
        for row in reader:
            line = reader.line_num
            try:
                location = Location(float(row["lat"]), float(row["lon"]))
                check_lat_lon(location.lat, location.lon)
            except (TypeError, ValueError, InputError):
                raise InputError(
                    f"{path} line {line}: bad coordinates lat={row['lat']!r} lon={row['lon']!r}",
                    field=field,
                ) from None
            if row["id"] in seen:
                raise InputError(f"{path} line {line}: duplicate id {row['id']!r}", field=field)
            seen.add(row["id"])
            ids.append(row["id"])
            points.append((line, location))
    if not points:
        raise InputError(f"{path} has no points", field=field)
    return ids, points


def _write_matrix(out: Path, o_ids: list[str], d_ids: list[str], seconds: np.ndarray) -> None:
    """Write atomically: a failed run never leaves a half-written matrix behind."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(out, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["origin", "destination", "seconds"])
            for i, origin in enumerate(o_ids):
                for j, destination in enumerate(d_ids):
                    value = seconds[i, j]
                    cell = f"{value:.3f}" if np.isfinite(value) else ""
                    writer.writerow([origin, destination, cell])
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}", field="--out") from None
