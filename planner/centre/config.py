"""Configuration of a live dispatch engine: region, solver settings, ETAs and escalation rules.

The whole configuration travels inside the ``centre_configured`` event, so an incident log is
self-describing: replaying it needs the log and the code table, nothing else. Pydantic models
because this is an edge (JSON from the API, YAML from users); the engine converts once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.centre.codes import CommandLevel
from planner.dispatch.moveup import MoveUpConfig, MoveUpLimits
from planner.dispatch.options import OptionsIn

RuleKind = Literal["unmet_for", "eta_beyond_target", "casualties_over", "unacknowledged_for"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SolverConfig = OptionsIn
"""The engine's solver settings and pre-emption rules: the same model as a Problem's
``options`` (:mod:`planner.dispatch.options`), so engine, CLI and API read options alike."""


class CrowFlyConfig(_Config):
    """Travel times without a road network: great-circle distance x detour at a fixed speed."""

    speed_kmh: float = Field(default=50.0, gt=0, le=300)
    detour_factor: float = Field(default=1.3, ge=1.0, le=5.0)


class EscalationRule(_Config):
    """One escalation rule; it fires at most once per incident and level (ETA and fixed-threshold
    casualty rules: once per incident).

    - ``unmet_for``: a requirement has stayed unmet in the recommendation for ``seconds``.
    - ``eta_beyond_target``: the best recommended ETA exceeds the code's target x ``factor``
      while no unit is on scene.
    - ``casualties_over``: casualties exceed ``threshold`` (without one: the code table's
      casualty thresholds decide the level and whether it is a major incident).
    - ``unacknowledged_for``: a dispatched unit has not acknowledged within ``seconds``.

    Time is measured from when the condition began or from the incident's last escalation,
    whichever is later, so a chain of firings is spaced ``seconds`` apart (on-call style).
    """

    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kind: RuleKind
    seconds: float | None = Field(default=None, gt=0)
    threshold: int | None = Field(default=None, ge=0)
    factor: float = Field(default=1.0, gt=0)
    raise_by: int = Field(default=1, ge=0, le=5)
    up_to_level: int | None = Field(default=None, ge=1)
    """Fire only while the incident's level is below this (default: the code's last level)."""
    command_level: CommandLevel | None = None
    declare_major_incident: bool = False
    priorities: list[int] | None = None
    """Apply only to incidents of these priorities (default: all)."""

    @model_validator(mode="after")
    def _check_parameters(self) -> EscalationRule:
        if self.kind in ("unmet_for", "unacknowledged_for") and self.seconds is None:
            raise ValueError(f"rule {self.id!r} of kind {self.kind} needs 'seconds'")
        if self.kind in ("eta_beyond_target", "casualties_over") and self.seconds is not None:
            raise ValueError(f"rule {self.id!r} of kind {self.kind} takes no 'seconds'")
        return self


def default_rules() -> list[EscalationRule]:
    """A conservative default chain, close to UK ambulance-service practice."""
    return [
        EscalationRule(
            id="unmet-5min", kind="unmet_for", seconds=300, raise_by=0, command_level="silver"
        ),
        EscalationRule(
            id="eta-over-target",
            kind="eta_beyond_target",
            factor=1.5,
            raise_by=0,
            command_level="bronze",
            priorities=[1, 2],
        ),
        EscalationRule(id="casualties", kind="casualties_over", command_level="silver"),
        EscalationRule(
            id="unacknowledged-2min",
            kind="unacknowledged_for",
            seconds=120,
            raise_by=0,
            command_level="bronze",
        ),
    ]


class EscalationConfig(_Config):
    """The escalation rules; rule ids must be unique (they key the fired-once record)."""

    enabled: bool = True
    rules: list[EscalationRule] = Field(default_factory=default_rules)

    @model_validator(mode="after")
    def _unique_ids(self) -> EscalationConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate escalation rule id {rule.id!r}")
            seen.add(rule.id)
        return self


class RelocationConfig(MoveUpConfig):
    """Live move-up: when the relocation part of the policy (``+dmexclp``, ``+mip``) is
    re-run, and the limits every recommendation honours (moves per decision, drive per move,
    moves per unit per shift)."""

    interval_s: float | None = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)
    """Re-run the move-up this often (on the engine's tick) besides whenever a unit becomes
    free; ``None``: only when a unit becomes free."""

    def to_limits(self) -> MoveUpLimits:
        return MoveUpLimits(**self.model_dump(exclude={"interval_s"}))


class EngineConfig(_Config):
    """Everything that shapes the engine's recommendations, as logged in ``centre_configured``."""

    region: str | None = None
    """Region spec for :func:`planner.network.loader.load_region`; ``None``: crow-fly ETAs."""
    solver: SolverConfig = Field(default_factory=SolverConfig)
    crow_fly: CrowFlyConfig = Field(default_factory=CrowFlyConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    relocation: RelocationConfig = Field(default_factory=RelocationConfig)
