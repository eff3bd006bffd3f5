"""Settings in one place, read from the environment (prefix ``PLANNER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from planner.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root (where ``data/`` and ``scenarios/`` live)."""

PROJECT_DATA_DIR = PROJECT_ROOT / "data"
"""Data the project writes itself: code tables, fixtures, prepared-region caches."""

SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


def _default_data_dir() -> Path:
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else PROJECT_DATA_DIR


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``PLANNER_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PLANNER_")

    data_dir: Path = _default_data_dir()
    """Real data (OSM road networks, regions, call logs), by default ``../shared/data``."""

    cache_dir: Path = PROJECT_ROOT / ".cache"
    """Where prepared regions are cached for fast reloads."""

    db_url: str = f"sqlite:///{PROJECT_ROOT / 'planner.sqlite'}"
    """Incident log database (SQLite by default, PostgreSQL by URL)."""

    centre_tz: str = "UTC"
    """The centre's local time zone (IANA name): reviews show and read times in it."""

    max_snap_m: Annotated[float, Field(gt=0)] = 500.0
    """Farthest a coordinate may lie from the road network before it is refused."""

    max_clock_skew_s: Annotated[float, Field(ge=0)] = 300.0
    """How far ahead of the engine's clock an event's ``at`` may be before it is refused, so
    one future-dated line cannot push the centre's clock (and every escalation) into the future."""


def get_settings() -> Settings:
    """Fresh settings from the environment (cheap; tests change the environment).

    A bad value is an :class:`InputError` naming the environment variable to fix.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = "PLANNER_" + "_".join(str(part) for part in problem["loc"]).upper()
        raise InputError(problem["msg"], field=name) from None
