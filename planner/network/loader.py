"""Turning a region name or path into a :class:`~planner.network.region.Region`.

It lives beside the interface, not in it, so that the road and matrix regions can import the
interface without an import cycle.
"""

from __future__ import annotations

import threading
from pathlib import Path

from planner.errors import DataMissingError
from planner.network.region import Region

REGION_NAMES = ("aguascalientes", "harrisburg", "manhattan", "columbus", "utrecht")
"""Regions shipped in the shared data directory (``<data_dir>/osm`` and ``<data_dir>/regions``)."""


_loaded: dict[tuple[str, int, int], Region] = {}
_loaded_lock = threading.Lock()


def resolve_region_path(spec: str | Path) -> Path:
    """The file or directory a region name or path stands for (it may not exist).

    A bare known name (``harrisburg``, no separator or extension) always means the shipped
    region, even when the working directory holds a folder of that name: which map a scenario
    runs on must not depend on where the command is started. Write ``./harrisburg`` for the folder.
    """
    from planner.settings import get_settings

    text = str(spec)
    if text.lower() in REGION_NAMES:
        data_dir = get_settings().data_dir
        if text.lower() == "utrecht":
            return data_dir / "regions" / "utrecht"
        return data_dir / "osm" / f"{text.lower()}.drive.osm.bz2"
    return Path(text).expanduser()


def load_region(spec: str | Path, *, fresh: bool = False) -> Region:
    """A region from a name (``harrisburg``, ``utrecht``…), OSM XML, GraphML, ``.npz`` or a
    matrix-region directory.

    OSM XML is built on first use and cached (see :mod:`planner.network.osm`). Repeat calls in
    one process return the *same* object (closures applied through it are shared) unless
    ``fresh`` is set; a changed file is reloaded.
    """
    path = resolve_region_path(spec)
    if not path.exists():
        raise DataMissingError(_missing_message(spec, path), field="region")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if not fresh:
        with _loaded_lock:
            if key in _loaded:
                return _loaded[key]
    region = _load(path, calibrated=str(spec).lower())
    if not fresh:
        with _loaded_lock:
            _loaded[key] = region
    return region


def _load(path: Path, *, calibrated: str) -> Region:
    """``calibrated``: a shipped region's name gets its published class speeds (see
    :data:`planner.network.speed_profile.CALIBRATED_CLASS_KPH`)."""
    if path.is_dir():
        from planner.network.matrix_region import load_matrix_region

        return load_matrix_region(path)
    from planner.network.osm import load_road_arrays, with_class_speeds
    from planner.network.road_region import RoadRegion
    from planner.network.speed_profile import CALIBRATED_CLASS_KPH

    arrays = load_road_arrays(path)
    if calibrated in CALIBRATED_CLASS_KPH and arrays.edge_highway is not None:
        arrays = with_class_speeds(arrays, dict(CALIBRATED_CLASS_KPH[calibrated]))
    return RoadRegion(arrays)


def _missing_message(spec: str | Path, path: Path) -> str:
    text = str(spec)
    if text.lower() in REGION_NAMES:
        return (
            f"region {text!r} needs {path}, which is missing: set PLANNER_DATA_DIR to the shared "
            f"data directory, or build the network with "
            f'`planner network build --place "<city>" -o {text.lower()}.graphml`'
        )
    if path.suffix == "" and "/" not in text and "\\" not in text:
        return (
            f"unknown region {text!r} (known: {', '.join(REGION_NAMES)}) and no such file; "
            f'build one with `planner network build --place "<city>" -o {text}.graphml`'
        )
    return (
        f"region file {path} does not exist; build it with "
        f"`planner network build --osm FILE -o {path}` or `--place NAME`"
    )
