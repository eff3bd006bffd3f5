"""Exports for external agencies: an incident as a CAP 1.2 alert or an EIDO-style document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Exporter, ServicesDep
from api.routes.incidents import IncidentId, open_incident_or_404
from api.services import Services
from planner.centre.exports import CAP_MEDIA_TYPE, ExportContext, incident_to_cap, incident_to_eido
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
    summary="An open incident as an OASIS CAP 1.2 alert",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "A CAP 1.2 alert."}},
)
def cap_alert(_key: Exporter, services: ServicesDep, incident_id: str = IncidentId) -> Response:
    """XML valid against the CAP 1.2 schema (``data/schemas/CAP-v1.2.xsd``); scope
    Restricted; no personal data. 404 if the incident is closed or unknown."""
    incident, units, context = _export_parts(services, incident_id)
    code = services.codes.get(incident.code)
    xml = incident_to_cap(incident, code=code, units=units, context=context)
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
