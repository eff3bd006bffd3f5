"""Atomic writes: whole file or nothing, with the permissions a plainly created file gets."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from planner.atomic_write import atomic_open, current_umask, write_text_atomic
from planner.network.osm import RoadArrays, save_arrays


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_written_file_gets_0666_less_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "a.txt"
    write_text_atomic(out, "hello\n")
    assert out.read_text() == "hello\n"
    assert mode(out) == 0o666 & ~umask


def test_region_arrays_get_0666_less_umask(tmp_path: Path, umask: int) -> None:
    arrays = RoadArrays(
        name="line",
        osm_ids=np.array([10, 20]),
        lonlat=np.array([[5.0, 52.0], [5.001, 52.0]]),
        edge_u=np.array([0]),
        edge_v=np.array([1]),
        edge_seconds=np.array([3.0]),
        edge_metres=np.array([68.0]),
    )
    out = tmp_path / "line.npz"
    save_arrays(arrays, out)
    assert mode(out) == 0o666 & ~umask


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "a.txt"
    out.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(out) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
