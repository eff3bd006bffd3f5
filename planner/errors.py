"""Exception types, each with a message a dispatcher or integrator can act on.

Every error the planner raises on bad input derives from :class:`PlannerError`; the CLI turns
it into exit code 2 with a one-line message, the API into an HTTP 4xx. ``field`` names the
offending input field where there is one.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class: bad input or a state that forbids the request; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InputError(PlannerError):
    """Malformed or inconsistent input (JSON, CSV, YAML, coordinates, ids)."""


class DataMissingError(PlannerError):
    """A region, map or data file the request needs is not there; the message says how to get it."""


class OutsideRegionError(PlannerError):
    """A point lies farther from the road network than the allowed snap distance."""


class InvalidTransitionError(PlannerError):
    """An event that the current state forbids (e.g. on_scene without a dispatch)."""


class NotFoundError(InvalidTransitionError):
    """An event names a unit, incident or contact that does not exist at all (never did).

    A subclass of :class:`InvalidTransitionError` so callers that reject any forbidden event
    keep working; the API tells it apart (404, not 409). One that exists but is closed is a
    plain ``InvalidTransitionError``: the state forbids the request.
    """


class ConflictError(PlannerError):
    """A write based on a stale state version."""


class LogIntegrityError(PlannerError):
    """The incident log's hash chain does not verify."""
