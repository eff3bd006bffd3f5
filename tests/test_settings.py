"""Settings from the environment: a bad value names the variable to fix."""

from __future__ import annotations

import pytest

from planner.errors import InputError
from planner.settings import get_settings


@pytest.mark.parametrize("value", ["abc", "-5", "0"])
def test_bad_max_snap_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PLANNER_MAX_SNAP_M", value)
    with pytest.raises(InputError) as info:
        get_settings()
    assert info.value.field == "PLANNER_MAX_SNAP_M"
    assert str(info.value).startswith("PLANNER_MAX_SNAP_M: ")


def test_good_value_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_MAX_SNAP_M", "250")
    assert get_settings().max_snap_m == 250.0
