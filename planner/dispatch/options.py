"""The one edge model of the solver's options, shared by ``planner solve``, ``POST /v1/plan``, the
engine's ``centre_configured`` event and simulation scenarios.

Inside, the solver reads the frozen :class:`planner.dispatch.domain.SolveOptions`; this pydantic
model validates JSON/YAML once and converts. Priority weights **merge** with the defaults
everywhere: a partial ``{"1": 20}`` changes level 1 and keeps 8, 4, 2, 1 for the others (a level
left out never silently drops to weight 1.0). A logged ``"priority_weights": null`` (older logs)
means the defaults.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from planner.dispatch.domain import PRIORITIES, SolveOptions
from planner.errors import InputError

_DEFAULTS = SolveOptions()


def _not_bool(value: Any) -> Any:
    """JSON ``true``/``false`` is not a number (pydantic's lax mode would read 1 or 0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


NotBool = BeforeValidator(_not_bool)
"""Put on every numeric edge field: a boolean is refused with 422 naming the field."""
NonNegative = Annotated[float, NotBool, Field(ge=0, allow_inf_nan=False)]
Weight = Annotated[float, NotBool, Field(gt=0, allow_inf_nan=False)]


def default_weights() -> dict[int, float]:
    """The solver's default weight per priority level (16, 8, 4, 2, 1)."""
    return dict(_DEFAULTS.priority_weights)


_WEIGHTS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "propertyNames": {"enum": [str(p) for p in PRIORITIES]},
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
        },
        {"type": "null"},
    ]
}
"""What the validator accepts, stated for OpenAPI: levels '1'..'5' only, null = the defaults."""


class OptionsIn(BaseModel):
    """Solve options; omitted fields take the defaults of :class:`SolveOptions`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = _DEFAULTS.policy
    priority_weights: Annotated[dict[int, Weight], WithJsonSchema(_WEIGHTS_SCHEMA)] = Field(
        default_factory=default_weights
    )
    """Weight per priority level; always all five levels once validated (partial input merges
    with the defaults)."""
    late_penalty_s: NonNegative = _DEFAULTS.late_penalty_s
    time_limit_s: Annotated[float, NotBool] = Field(
        default=_DEFAULTS.time_limit_s, gt=0, allow_inf_nan=False
    )
    allow_preemption: StrictBool = _DEFAULTS.allow_preemption
    preemption_gap: Annotated[int, NotBool] = Field(default=_DEFAULTS.preemption_gap, ge=1, le=4)
    preemption_cost_s: NonNegative = _DEFAULTS.preemption_cost_s
    stability_bonus_s: NonNegative = _DEFAULTS.stability_bonus_s
    hold_max_s: NonNegative = _DEFAULTS.hold_max_s
    """``coverage`` rule: longest hold of a lower-priority call (0: never held)."""
    hold_from_priority: Annotated[int, NotBool] = Field(
        default=_DEFAULTS.hold_from_priority, ge=2, le=5
    )
    """``coverage`` rule: the most urgent priority that may be held (priority 1 never is)."""
    divert_margin_s: NonNegative | None = _DEFAULTS.divert_margin_s
    """``coverage`` rule: divert a unit from a lower-priority call to a priority-1 call it
    reaches this much sooner than the best free unit (``null``: never)."""

    @field_validator("priority_weights", mode="before")
    @classmethod
    def _merge_with_defaults(cls, value: Any) -> Any:
        """Known levels only; the levels not given keep their default weight."""
        if value is None:
            return default_weights()
        if not isinstance(value, dict):
            return value  # pydantic reports the type error
        known = {str(p) for p in PRIORITIES}
        for key in value:
            if str(key) not in known:
                raise InputError(
                    f"unknown priority {str(key)!r} (use '1'..'5')",
                    field=f"options.priority_weights.{key}",
                )
        merged: dict[Any, Any] = {str(p): w for p, w in default_weights().items()}
        merged.update({str(k): v for k, v in value.items()})
        return merged

    def to_options(self) -> SolveOptions:
        """The solver's frozen options."""
        return SolveOptions(
            policy=self.policy,
            priority_weights=dict(self.priority_weights),
            late_penalty_s=self.late_penalty_s,
            time_limit_s=self.time_limit_s,
            allow_preemption=self.allow_preemption,
            preemption_gap=self.preemption_gap,
            preemption_cost_s=self.preemption_cost_s,
            stability_bonus_s=self.stability_bonus_s,
            hold_max_s=self.hold_max_s,
            hold_from_priority=self.hold_from_priority,
            divert_margin_s=self.divert_margin_s,
        )
