"""Request bodies of the live-centre writes, derived from the engine's event models.

Each body is its event's model without ``type`` (the route decides it), ``at`` (the engine
stamps it) and ``actor`` (the caller's API key names it), and without the ids the path carries.
Deriving them keeps one source of truth for every field's limits; fields holding personal data
keep their ``"personal": true`` marker in the OpenAPI schema.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Optional

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.fields import FieldInfo

from planner.centre import events as ev
from planner.log.api_keys import ApiKey

ENGINE_FIELDS = frozenset({"type", "at", "actor"})


def body_model(event: type[BaseModel], *, name: str, omit: tuple[str, ...] = ()) -> type[BaseModel]:
    """The request body for ``event``: its fields minus the engine's and the path's."""
    fields: dict[str, Any] = {
        field: (info.annotation, copy.copy(info))
        for field, info in event.model_fields.items()
        if field not in ENGINE_FIELDS and field not in omit
    }
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=event.__doc__,
        **fields,
    )
    return model


def to_event(
    event: type[BaseModel], body: BaseModel | None, *, key: ApiKey, **path: str
) -> ev.Event:
    """The engine event for a validated body, the path's ids and the caller as actor."""
    data = body.model_dump(mode="json") if body is not None else {}
    return ev.parse_event(
        {"type": event.model_fields["type"].default, **data, **path, "actor": key.actor}
    )


if TYPE_CHECKING:
    ContactIn = BaseModel
    IncidentIn = BaseModel
    IncidentUpdateIn = BaseModel
    EscalateIn = BaseModel
    DowngradeIn = BaseModel
    LinkContactIn = BaseModel
    AcceptIn = BaseModel
    OverrideIn = BaseModel
    NoteIn = BaseModel
    QueryIn = BaseModel
    ComplaintIn = BaseModel
    AgencyIn = BaseModel
    CloseIn = BaseModel
    UnitIn = BaseModel
    UnitStatusIn = BaseModel
    UnitPositionIn = BaseModel
    UnitAckIn = BaseModel
    UnitArriveIn = BaseModel
    UnitRemoveIn = BaseModel
    ClosureIn = BaseModel
    RelocationAcceptIn = BaseModel
    RelocationDeclineIn = BaseModel
else:
    _INC = ("incident_id",)
    _UNIT = ("unit_id",)
    ContactIn = body_model(ev.ContactReceived, name="ContactIn")
    IncidentIn = body_model(ev.IncidentOpened, name="IncidentIn")
    IncidentUpdateIn = body_model(ev.IncidentUpdated, name="IncidentUpdateIn", omit=_INC)
    EscalateIn = body_model(
        ev.IncidentEscalated, name="EscalateIn", omit=(*_INC, "rule", "from_level")
    )
    DowngradeIn = body_model(ev.IncidentDowngraded, name="DowngradeIn", omit=_INC)
    LinkContactIn = body_model(ev.ContactLinked, name="LinkContactIn", omit=_INC)
    AcceptIn = body_model(ev.DispatchAccepted, name="AcceptIn", omit=(*_INC, "not_sent"))
    OverrideIn = body_model(ev.DispatchOverridden, name="OverrideIn", omit=_INC)
    NoteIn = body_model(ev.NoteAdded, name="NoteIn", omit=_INC)
    QueryIn = body_model(ev.QueryRecorded, name="QueryIn", omit=_INC)
    ComplaintIn = body_model(ev.ComplaintRecorded, name="ComplaintIn", omit=_INC)
    AgencyIn = body_model(ev.AgencyNotified, name="AgencyIn", omit=_INC)
    CloseIn = body_model(ev.IncidentClosed, name="CloseIn", omit=_INC)
    UnitIn = body_model(ev.UnitRegistered, name="UnitIn")
    UnitStatusIn = body_model(ev.UnitStatusChanged, name="UnitStatusIn", omit=_UNIT)
    UnitPositionIn = body_model(ev.UnitMoved, name="UnitPositionIn", omit=_UNIT)
    UnitAckIn = body_model(ev.UnitAcknowledged, name="UnitAckIn", omit=_UNIT)
    UnitArriveIn = body_model(ev.UnitArrived, name="UnitArriveIn", omit=_UNIT)
    UnitRemoveIn = body_model(ev.UnitRemoved, name="UnitRemoveIn", omit=_UNIT)
    ClosureIn = body_model(ev.RoadClosureOn, name="ClosureIn")
    RelocationAcceptIn = body_model(ev.RelocationAccepted, name="RelocationAcceptIn", omit=_UNIT)
    RelocationDeclineIn = body_model(ev.RelocationDeclined, name="RelocationDeclineIn", omit=_UNIT)


def _nullable(info: FieldInfo) -> tuple[Any, FieldInfo]:
    """A field that may also be null (RFC 7396: null removes the member), default absent."""
    field = copy.copy(info)
    field.default = None
    field.default_factory = None
    return (Optional[info.annotation], field)  # noqa: UP045 - a runtime type expression


def merge_patch_model(model: type[BaseModel], *, name: str) -> type[BaseModel]:
    """``model`` as an RFC 7396 merge patch: every field optional and nullable."""
    fields: dict[str, Any] = {f: _nullable(i) for f, i in model.model_fields.items()}
    patch: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=f"A JSON Merge Patch (RFC 7396) of {model.__name__}: members sent replace "
        "the current ones, null removes one (back to its default), absent ones stay.",
        **fields,
    )
    return patch


def merge_methane(current: ev.Methane, patch: BaseModel) -> ev.Methane:
    """RFC 7396 for the METHANE block: the members ``patch`` sets replace those of
    ``current``; a null resets that member to its default."""
    data = current.model_dump()
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value.model_dump() if isinstance(value, BaseModel) else value
    return ev.Methane.model_validate(data)


if TYPE_CHECKING:
    MethanePatch = BaseModel
    IncidentPatchIn = BaseModel
else:
    MethanePatch = merge_patch_model(ev.Methane, name="MethanePatch")
    IncidentPatchIn = create_model(
        "IncidentPatchIn",
        __base__=IncidentUpdateIn,
        __doc__="Changed details of an incident: omitted fields stay as they are; "
        "``methane`` is a JSON Merge Patch (RFC 7396) of the current METHANE report.",
        methane=(MethanePatch | None, None),
    )
