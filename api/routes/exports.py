"""Exports for external agencies: an incident as CAP 1.2 messages or an EIDO-style document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from api.deps import Exporter, ServicesDep
from api.routes.incidents import IncidentId, open_incident_or_404
from api.services import Services
from planner.centre.exports import (
    CAP_MEDIA_TYPE,
    ClosedIncident,
    ExportContext,
    closed_incident_to_cap,
    incident_to_cap,
    incident_to_eido,
)
from planner.centre.state import IncidentState, UnitState

router = APIRouter(prefix="/v1/incidents", tags=["exports"])


def _export_parts(
    services: Services, incident_id: str
) -> tuple[IncidentState, list[UnitState], ExportContext]:
    """The incident, its committed units and the export context, from one state snapshot."""
    version = services.engine.version
    state = services.engine.state
    incident = open_incident_or_404(services, incident_id)
    units = sorted(
        (u for u in state.units.values() if u.incident == incident.id), key=lambda u: u.id
    )
    context = ExportContext(
        sender=services.settings.cap_sender, sent=datetime.now(UTC), version=version
    )
    return incident, units, context


@router.get(
    "/{incident_id}/cap",
    summary="An incident as an OASIS CAP 1.2 message (Alert, Update or final Cancel)",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "A CAP 1.2 message."}},
)
def cap_alert(_key: Exporter, services: ServicesDep, incident_id: str = IncidentId) -> Response:
    """The incident's latest CAP revision: ``Alert`` when it has not changed since it opened,
    ``Update`` after each change, ``Cancel`` once closed; each names the earlier ones in
    ``references``. Valid against the OASIS CAP 1.2 schema; scope Restricted; no personal
    data. 404 only for an unknown incident."""
    context = ExportContext(
        sender=services.settings.cap_sender, sent=datetime.now(UTC), version=services.engine.version
    )
    summary = services.history.get(incident_id)
    revisions = services.history.revisions(incident_id)
    if summary is not None and summary.closed_at is not None and revisions:
        closed = ClosedIncident(
            id=summary.id,
            code=summary.code,
            priority=summary.priority,
            level=summary.level,
            location=summary.location,
            opened_at=summary.opened_at,
            closed_at=summary.closed_at,
            outcome=summary.outcome,
        )
        code = services.codes.get(summary.code)
        xml = closed_incident_to_cap(closed, code=code, context=context, revisions=revisions)
        return Response(content=xml, media_type=CAP_MEDIA_TYPE)
    incident, units, _ = _export_parts(services, incident_id)
    if not revisions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown incident {incident_id!r}")
    code = services.codes.get(incident.code)
    xml = incident_to_cap(incident, code=code, units=units, context=context, revisions=revisions)
    return Response(content=xml, media_type=CAP_MEDIA_TYPE)


@router.get("/{incident_id}/eido", summary="An open incident as an EIDO-style JSON document")
def eido_document(
    _key: Exporter, services: ServicesDep, incident_id: str = IncidentId
) -> dict[str, Any]:
    """For CAD-to-CAD hand-over: incident, location and resource components (no personal
    data). 404 if the incident is closed or unknown."""
    incident, units, context = _export_parts(services, incident_id)
    code = services.codes.get(incident.code)
    return incident_to_eido(incident, code=code, units=units, context=context)
